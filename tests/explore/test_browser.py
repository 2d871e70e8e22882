"""The explore page in a real browser: headless Debian chromium driven by playwright.

What a user sees is checked against the Python side: the outputs shown equal ``apply``'s and the evaluator's,
the residual value under the cursor equals the trace, a bad token shows apply's error, mismatches are marked,
the static page works from disk with the network off, and the console stays free of errors. The same run
takes the README's screenshots: OPTRACR_SCREENSHOTS=docs python -m pytest tests/explore/test_browser.py -k screenshots
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pytest

import optracr
from optracr import explore, programs, rasp
from optracr.errors import InputError
from optracr.explore import trace_view

CHROMIUM = Path("/usr/bin/chromium")
try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None
pytestmark = [
    pytest.mark.skipif(sync_playwright is None,
                       reason="the browser tests need playwright: pip install 'optracr[browser-tests]'"),
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="the browser tests need Debian's chromium at /usr/bin/chromium: apt-get install -y chromium"),
]
# Chromium as the machine allows it: no sandbox (root), and no background calls to the closed network.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 15_000
HOVER_GAP_MS = 80  # Plotly drops a hover that comes within 50 ms of the last one


@pytest.fixture(name="browser", scope="module")
def browser_fixture():
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


class Tab:
    """A browser page with its console errors collected."""

    def __init__(self, browser, *, offline: bool = False) -> None:
        self.context = browser.new_context(viewport={"width": 1300, "height": 900}, offline=offline)
        self.context.set_default_timeout(TIMEOUT_MS)
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def open(self, url: str) -> None:
        self.page.goto(url)
        self.page.wait_for_selector("body[data-state=ready][data-charts=ready]")

    def type_input(self, text: str) -> None:
        self.page.fill("#input-box", text)
        self.page.press("#input-box", "Enter")
        self.page.wait_for_selector(f"body[data-input='{text}']")

    def row(self, name: str) -> list[str]:
        return [cell.inner_text() for cell in self.page.query_selector_all(f"#outputs tr[data-row={name}] td")]

    def view(self, name: str) -> None:
        self.page.click(f"nav button[data-view={name}]")

    def open_band(self, name: str):
        """Filters the residual bands to ``name``, opens its band, and returns the band's chart element."""
        self.view("residual")
        self.page.fill("#band-filter", name)
        self.page.click(f"details.band[data-band='{name}'] > summary")
        return self.page.wait_for_selector(f"details.band[data-band='{name}'] .band-chart .main-svg").evaluate_handle(
            "svg => svg.closest('.band-chart')")

    def hover_cell(self, chart, row: int, position: int) -> str:
        """Moves the mouse over one heatmap cell and returns Plotly's hover text."""
        x, y = chart.evaluate("""(chart, [row, position]) => {
            const layout = chart._fullLayout;
            let box = chart.querySelector('.nsewdrag').getBoundingClientRect();
            window.scrollBy(0, box.top + layout.yaxis.l2p(row) - window.innerHeight / 2);  // the cell in view
            box = chart.querySelector('.nsewdrag').getBoundingClientRect();
            return [box.left + layout.xaxis.l2p(position), box.top + layout.yaxis.l2p(row)];
        }""", [row, position])
        self.page.mouse.move(1, 1)  # away first, so the hover text read is the new cell's
        self.page.wait_for_selector(".hoverlayer .hovertext", state="detached")
        self.page.wait_for_timeout(HOVER_GAP_MS)
        self.page.mouse.move(x, y)
        return self.page.wait_for_selector(".hoverlayer .hovertext").text_content()

    def click_point(self, selector: str) -> None:
        """Clicks the middle of a Plotly point (Plotly reads clicks on the layer above its points)."""
        box = self.page.wait_for_selector(selector).bounding_box()
        self.page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)

    def close(self) -> None:
        self.context.close()


@pytest.fixture(name="tab")
def tab_fixture(browser):
    tab = Tab(browser)
    yield tab
    tab.close()


def _serve(program, model, title: str):
    server = explore.serve(model, program=program, title=title)
    server.start_in_background()
    return server


@pytest.fixture(name="servers", scope="module")
def servers_fixture(library_model, users_model):
    """Live pages of two library programs and one of the user's own, with their programs and models."""
    served = {}
    for name, (program, model) in (("sort", library_model("sort")), ("reverse", library_model("reverse")),
                                   ("half_rank", users_model)):
        served[name] = (_serve(program, model, name), program, model)
    yield served
    for server, _, _ in served.values():
        server.shutdown()
        server.server_close()


def _screenshot(tab: Tab, name: str, tmp_path: Path) -> Path:
    directory = Path(os.environ.get("OPTRACR_SCREENSHOTS", tmp_path))
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"explore_{name}.png"
    tab.page.screenshot(path=str(path), full_page=True)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return path


@pytest.mark.parametrize(("name", "text"), [("sort", "4 2 2 3 1"), ("reverse", "d a b"), ("half_rank", "3 1 2 2")])
def test_a_typed_input_shows_applys_output_beside_the_evaluators(servers, tab: Tab, name: str, text: str) -> None:
    server, program, model = servers[name]
    tab.open(server.url)
    tab.type_input(text)
    tokens = trace_view.parse_input(model, text)
    assert tab.row("token") == [str(token) for token in tokens]
    assert tab.row("model") == [trace_view.value_text(value) for value in model.apply(tokens).decoded]
    assert tab.row("evaluator") == ["BOS", *(trace_view.value_text(value) for value in rasp.evaluate(program, tokens[1:]))]
    assert tab.page.inner_text("#agreement") == "the model's output equals the RASP evaluator's at every position"
    assert tab.page.query_selector_all("#outputs td.mismatch") == []
    assert tab.errors == []


def test_the_residual_value_under_the_cursor_is_the_trace(servers, tab: Tab) -> None:
    server, _, model = servers["sort"]
    tab.open(server.url)
    tab.type_input("3 1 4 2")
    tokens = trace_view.parse_input(model, "3 1 4 2")
    residuals = model.apply(tokens).residuals
    stage = 4  # the residual after layer 1's MLP, which writes target_pos
    tab.view("residual")
    tab.page.select_option("#stage", str(stage))
    chart = tab.open_band("target_pos")
    rows = [model.residual_labels.index(label) for label in model.residual_labels if label.startswith("target_pos:")]
    after = residuals[stage][:, rows]
    hot = [(int(np.argmax(np.abs(after[position]))), position) for position in range(len(tokens))]
    assert sum(after[position, row] != 0 for row, position in hot) >= 4  # the value cells, and a zero one
    for row, position in [*hot, (len(rows) - 1, 0)]:
        hover = tab.hover_cell(chart, row, position)
        label = model.residual_labels[rows[row]]
        assert hover.startswith(f"{label} (direction {rows[row]})value {label.split(':')[1]}")
        assert f"position {position} ({tokens[position]})" in hover
        shown = float(re.search(r"activation (\S+)", hover).group(1))
        assert shown == pytest.approx(after[position, row], abs=1e-6)
    assert tab.errors == []


def test_a_bad_token_shows_applys_error(servers, tab: Tab) -> None:
    server, _, model = servers["sort"]
    tab.open(server.url)
    tab.page.fill("#input-box", "3 9")
    tab.page.press("#input-box", "Enter")
    tab.page.wait_for_selector("body[data-state=error]")
    with pytest.raises(InputError) as refused:
        model.apply(["BOS", 3, "9"])
    assert tab.page.inner_text("#input-error") == str(refused.value)
    assert tab.errors == []


def test_every_head_is_drawn_titled_with_its_selector(servers, tab: Tab) -> None:
    server, _, model = servers["sort"]
    tab.open(server.url)
    tab.view("attention")
    tab.page.wait_for_selector(".head-chart .gtitle")
    titles = [chart.query_selector(".gtitle").text_content() for chart in tab.page.query_selector_all(".head-chart")]
    assert len(titles) == sum(len(layer.heads) for layer in model.layered.layers) == 2
    assert titles[1] == "layer 2, head 0: sort = Aggregate(tokens)select target_pos[k] == indices[q]"
    assert tab.errors == []


def test_a_mismatch_is_marked_on_the_page(browser, users_model, tmp_path: Path, monkeypatch) -> None:
    program, model = users_model
    right = rasp.evaluate(program, [3, 1, 2])
    monkeypatch.setattr(trace_view.rasp, "evaluate", lambda *args, **kwargs: [right[0], 9.0, right[2]])
    path = explore.static_page(model, ["3 1 2"], program=program).save(tmp_path / "wrong.html")
    tab = Tab(browser)
    try:
        tab.open(path.as_uri())
        marked = tab.page.query_selector_all("#outputs td.mismatch")
        assert [cell.inner_text() for cell in marked] == ["0.5 \u2717", "9 \u2717"]
        assert tab.page.inner_text("#agreement") == "the model disagrees with the RASP evaluator at position(s) 2"
        assert tab.errors == []
    finally:
        tab.close()


def test_the_static_page_works_from_disk_with_the_network_off(browser, library_model, tmp_path: Path) -> None:
    program, model = library_model("shuffle_dyck2")
    path = explore.static_page(model, ["( { } )", "} {"], program=program).save(tmp_path / "dyck.html")
    tab = Tab(browser, offline=True)
    requested: list[str] = []
    tab.page.on("request", lambda request: requested.append(request.url))
    try:
        tab.open(path.as_uri())
        assert tab.row("model")[1:] == [trace_view.value_text(v) for v in model.apply(["BOS", *"({})"]).decoded[1:]]
        tab.type_input("} {")
        assert tab.row("model") == ["BOS", *(trace_view.value_text(v) for v in model.apply(["BOS", "}", "{"]).decoded[1:])]
        tab.page.fill("#input-box", "( )")
        tab.page.press("#input-box", "Enter")
        assert "precomputed inputs only" in tab.page.wait_for_selector("#input-error:not(:empty)").inner_text()
        for view, selector in (("program", "#program-graph .main-svg"), ("layout", "#layout-chart .main-svg"),
                               ("attention", ".head-chart .main-svg")):
            tab.view(view)
            tab.page.wait_for_selector(selector)
        tab.open_band(model.output_label)
        assert requested == [path.as_uri()]
        assert tab.errors == []
    finally:
        tab.close()


def test_reverse_at_vocabulary_and_length_32_stays_navigable(browser, tmp_path: Path) -> None:
    entry = programs.get_program("reverse")
    program = entry.build(32)
    model = optracr.compile(program, list(range(32)), 32)
    server = _serve(program, model, "reverse 32")
    tab = Tab(browser)
    try:
        tab.open(server.url)
        tab.view("residual")
        assert tab.page.query_selector_all("details.band[open]") == []  # every band folded at first
        chart = tab.open_band("reverse")
        assert len([d for d in tab.page.query_selector_all("details.band") if d.is_visible()]) == 1
        text = " ".join(str(token) for token in reversed(range(32)))
        tab.type_input(text)
        hover = tab.hover_cell(chart, 31, 32)  # reverse:31 at the last position
        assert hover.startswith("reverse:31") and float(re.search(r"activation (\S+)", hover).group(1)) == 1.0
        assert tab.errors == []
    finally:
        tab.close()
        server.shutdown()
        server.server_close()


def test_screenshots_of_every_view(servers, tab: Tab, tmp_path: Path) -> None:
    server, _, _ = servers["sort"]
    tab.open(server.url)
    tab.type_input("4 2 3 1 2")
    x, y = tab.page.evaluate("""() => {
        const chart = document.getElementById('program-graph'), layout = chart._fullLayout;
        const node = DATA.program.nodes.find((n) => n.label === 'sort');
        const box = chart.querySelector('.nsewdrag').getBoundingClientRect();
        return [box.left + layout.xaxis.l2p(node.x), box.top + layout.yaxis.l2p(node.y)];
    }""")
    tab.page.mouse.click(x, y)
    assert tab.page.wait_for_selector("#program-details dl dd").inner_text() == "sort"
    _screenshot(tab, "program", tmp_path)
    tab.view("layout")
    tab.click_point("#layout-chart .scatterlayer .trace:last-child .point >> nth=-1")
    tab.page.wait_for_selector("#layout-details dl")
    _screenshot(tab, "layout", tmp_path)
    chart = tab.open_band("target_pos")
    tab.page.fill("#band-filter", "")
    tab.page.dispatch_event("#band-filter", "input")
    tab.hover_cell(chart, 2, 3)
    _screenshot(tab, "residual", tmp_path)
    tab.view("attention")
    tab.page.wait_for_selector(".head-chart .main-svg")
    _screenshot(tab, "attention", tmp_path)
    tab.view("program")
    tab.page.click("#show-band")  # the clicked node's band, from the program view
    tab.page.wait_for_selector("details.band[data-band=sort][open] .band-chart .main-svg")
    assert [d.get_attribute("data-band") for d in tab.page.query_selector_all("details.band") if d.is_visible()] == [
        "sort"]
    assert tab.errors == []


def test_a_stopped_server_is_said_on_the_page(browser, users_model) -> None:
    program, model = users_model
    server = _serve(program, model, "half_rank")
    tab = Tab(browser)
    try:
        tab.open(server.url)
        server.shutdown()
        server.server_close()
        tab.page.fill("#input-box", "1 2")
        tab.page.press("#input-box", "Enter")
        tab.page.wait_for_selector("body[data-state=error]")
        assert "The explore server gave no answer" in tab.page.inner_text("#input-error")
        assert all("ERR_CONNECTION_REFUSED" in error for error in tab.errors)  # the browser's own report only
    finally:
        tab.close()


def test_model_explore_works_inside_a_notebooks_output_frame(browser, library_model, tmp_path: Path) -> None:
    program, model = library_model("reverse")
    host = tmp_path / "notebook.html"
    host.write_text("<!DOCTYPE html><html><body><h1>a notebook cell</h1>" +
                    model.explore(["b c d"], program=program)._repr_html_() + "</body></html>")
    tab = Tab(browser, offline=True)
    try:
        tab.page.goto(host.as_uri())
        frame = tab.page.frames[1]
        frame.wait_for_selector("body[data-state=ready][data-charts=ready]")
        cells = [cell.inner_text() for cell in frame.query_selector_all("#outputs tr[data-row=model] td")]
        assert cells == ["BOS", "d", "c", "b"]
        frame.click("nav button[data-view=attention]")
        assert len(frame.query_selector_all(".head-chart:has(.main-svg)")) == sum(len(l.heads) for l in model.layered.layers)
        assert tab.errors == []
    finally:
        tab.close()


def test_a_model_without_layers_says_so(browser, tmp_path: Path) -> None:
    program = rasp.numerical(rasp.Map(lambda token: token == "a", rasp.tokens)).named("is_a")
    model = optracr.compile(program, ["a", "b"], 3)
    assert model.config.num_layers == 0  # folded into the unembedding
    tab = Tab(browser, offline=True)
    try:
        tab.open(model.explore(["a b"]).save(tmp_path / "is_a.html").as_uri())
        assert tab.row("model") == ["BOS", "1", "0"] and tab.row("evaluator") == ["BOS", "True", "False"]
        assert tab.page.query_selector_all("#outputs td.mismatch") == []  # numerically equal
        tab.view("layout")
        assert tab.page.inner_text("#layout-chart") == ("This model has no layers: the embedding and the unembedding "
                                                        "compute it (the unembedding composes is_a).")
        tab.view("attention")
        assert tab.page.inner_text("#heads") == "This model has no attention heads."
        assert tab.errors == []
    finally:
        tab.close()
