"""The one place matplotlib is imported (lazily: ``import optracr`` stays free of it) and figures are saved."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from optracr.errors import CompileError

FONT_SIZE = 8  # points: the smallest text on every picture, legible printed at 100 %
DPI = 130


def pyplot() -> Any:
    """``matplotlib.pyplot`` on the non-interactive Agg backend; a CompileError saying what to install."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise CompileError(None, "drawing needs matplotlib: pip install 'optracr[bench]'") from error
    return plt


def save(figure: Any, out: str | Path) -> Path:
    """Writes ``figure`` (PNG, SVG or PDF by the suffix) and closes it; returns the path."""
    path = Path(out)
    figure.savefig(path, dpi=DPI, bbox_inches="tight")
    pyplot().close(figure)
    return path


def token_text(token: object) -> str:
    """A token or decoded value for a tick label: floats to 3 significant digits."""
    return f"{token:.3g}" if isinstance(token, float) else str(token)
