"""The page's HTML: the data inlined so that nothing can end its script tag; Plotly inlined or served."""

from __future__ import annotations

import html.parser
import json
import subprocess
import sys

import pytest

from optracr.explore import page, session


class _Scripts(html.parser.HTMLParser):
    """Every script element's attributes and text, and every link's attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict, str]] = []
        self.links: list[dict] = []
        self._open: dict | None = None

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))
        if tag == "link":
            self.links.append(dict(attrs))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def _parsed(text: str) -> _Scripts:
    parser = _Scripts()
    parser.feed(text)
    return parser


def test_a_static_page_inlines_everything_and_its_data_round_trips(library_model) -> None:
    program, model = library_model("sort")
    data = session.Explorer(model, program, "sort").page_data(["3 1 2"], mode="static")
    parsed = _parsed(page.render(data, inline_plotly=True))
    assert all("src" not in attributes for attributes, _ in parsed.scripts)
    assert [link["href"] for link in parsed.links] == ["data:,"]  # the icon: no request at all
    inlined = [text for attributes, text in parsed.scripts if attributes.get("id") == "explore-data"]
    assert json.loads(inlined[0]) == data
    assert any(page.plotly_js()[:2000] in text for _, text in parsed.scripts)


def test_data_that_looks_like_markup_cannot_end_the_script(library_model) -> None:
    program, model = library_model("sort")
    data = session.Explorer(model, program, "</script><script>alert(1)</script>").page_data(["1"], mode="static")
    parsed = _parsed(page.render(data, inline_plotly=False))
    inlined = [text for attributes, text in parsed.scripts if attributes.get("id") == "explore-data"]
    assert json.loads(inlined[0])["title"] == "</script><script>alert(1)</script>"
    assert [attributes.get("src") for attributes, _ in parsed.scripts] == [None, None, page.PLOTLY_PATH]


def test_importing_optracr_and_compiling_loads_no_plotly() -> None:
    script = ("import sys, optracr\nfrom optracr import rasp\n"
              "optracr.compile(rasp.Map(lambda t: t == 'a', rasp.tokens), {'a', 'b'}, 3)\n"
              "import optracr.cli\n"
              "assert not [m for m in sys.modules if m.split('.')[0] in ('plotly', 'playwright')], 'extra loaded'\n"
              "assert 'optracr.explore' not in sys.modules\n")
    subprocess.run([sys.executable, "-c", script], check=True)


def test_without_plotly_the_page_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    page.plotly_js.cache_clear()
    monkeypatch.setitem(sys.modules, "plotly", None)
    try:
        with pytest.raises(page.CompileError, match=r"explore needs plotly: pip install 'optracr\[explore\]'"):
            page.plotly_js()
    finally:
        page.plotly_js.cache_clear()
