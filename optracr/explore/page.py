"""The page: ``page.html`` and ``page.js`` (beside this file) with the data inlined, and Plotly's JavaScript
inlined (a static page) or loaded from the server that serves the page."""

from __future__ import annotations

import functools
import html
import json
import re
from pathlib import Path
from typing import Any

from optracr.errors import CompileError

HERE = Path(__file__).parent
PLOTLY_PATH = "plotly.min.js"  # where the server serves Plotly's JavaScript
_PLACEHOLDER = re.compile(r"__(TITLE|DATA|SCRIPT)__|<!--PLOTLY-->")


def render(page_data: dict[str, Any], *, inline_plotly: bool) -> str:
    """The page's HTML; with ``inline_plotly`` it needs no server and no network."""
    plotly = f"<script>{plotly_js()}</script>" if inline_plotly else f'<script src="{PLOTLY_PATH}" defer></script>'
    parts = {
        "TITLE": html.escape(page_data["title"]),
        "DATA": json.dumps(page_data, separators=(",", ":")).replace("<", "\\u003c"),  # nothing can close the tag
        "SCRIPT": (HERE / "page.js").read_text(),
    }
    template = (HERE / "page.html").read_text()
    return _PLACEHOLDER.sub(lambda found: parts[found.group(1)] if found.group(1) else plotly, template)


@functools.cache
def plotly_js() -> str:
    """Plotly's JavaScript bundle, from the installed plotly package (the ``explore`` extra)."""
    try:
        from plotly import offline
    except ImportError:
        raise CompileError(None, "explore needs plotly: pip install 'optracr[explore]'") from None
    return offline.get_plotlyjs()
