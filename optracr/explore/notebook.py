"""``NotebookView``: a static explore page that Jupyter shows inline (in an iframe, so its scripts run)."""

from __future__ import annotations

import dataclasses
import html
from pathlib import Path

from optracr.errors import InputError

HEIGHT = 900  # pixels of the inline frame; the page scrolls inside it


@dataclasses.dataclass(frozen=True)
class NotebookView:
    """A self-contained explore page; Jupyter displays it, ``save`` writes it to a file."""

    page_html: str
    height: int = HEIGHT

    def __post_init__(self) -> None:
        if not self.page_html.lstrip().startswith("<!DOCTYPE html>"):
            raise InputError(
                "a NotebookView holds a whole explore page (optracr.explore.static_page); got an HTML fragment"
            )

    def _repr_html_(self) -> str:
        """The page in an iframe (``srcdoc``): Jupyter's rich display."""
        return (f'<iframe srcdoc="{html.escape(self.page_html, quote=True)}" style="width: 100%; '
                f'height: {self.height}px; border: 1px solid #ccc;" sandbox="allow-scripts"></iframe>')

    def save(self, path: str | Path) -> Path:
        """Writes the page to ``path`` (it opens from disk, with no network); returns the path."""
        target = Path(path)
        target.write_text(self.page_html, encoding="utf-8")
        return target
