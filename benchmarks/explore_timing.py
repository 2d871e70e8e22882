"""How fast the explore page is, in headless Debian chromium driven by playwright.

- start: ``optracr explore sort`` from a fresh process until it prints its address, until chromium shows the
  input box and the first input's outputs, and until it has drawn the charts (after Plotly's bundle loads).
- round trip: per library program, typing an input and pressing Enter until the page shows the new outputs
  (fetch, the Python forward pass, JSON, drawing), the median of several inputs; beside it the server's own
  time for ``Explorer.run``.
- reverse at vocabulary = length = 32: page data size, load time, how many bands show folded, the time to
  filter to one band and open it, and one hover read back.

    python benchmarks/explore_timing.py            # writes results/explore_timing.json
"""

from __future__ import annotations

import json
import random
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import optracr  # noqa: E402
from optracr import explore, programs  # noqa: E402
from optracr.explore import page  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results" / "explore_timing.json"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
INPUTS_PER_PROGRAM = 5


def _start_time(browser) -> dict:
    """Seconds from running ``optracr explore sort`` to its address printed, and to the page drawn."""
    start = time.perf_counter()
    command = [sys.executable, "-m", "optracr.cli", "explore", "sort"]
    with subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, text=True) as running:
        try:
            url = re.search(r"(http://\S+)", running.stdout.readline()).group(1)
            serving = time.perf_counter() - start
            tab = browser.new_page()
            tab.goto(url, wait_until="commit")
            tab.wait_for_selector("body[data-state=ready]")
            usable = time.perf_counter() - start
            tab.wait_for_selector("body[data-charts=ready]")
            drawn = time.perf_counter() - start
            tab.close()
        finally:
            running.terminate()
    return {"command": " ".join(command[1:]), "serving_s": round(serving, 3),
            "outputs_shown_s": round(usable, 3), "charts_drawn_s": round(drawn, 3)}


def _round_trips(browser) -> dict:
    """Per library program: the median ms from Enter to the new outputs shown, and the server's own ms."""
    found = {}
    for name, entry in programs.LIBRARY.items():
        program = entry.build()
        vocab = sorted(entry.vocab, key=repr)
        model = optracr.compile(program, vocab, entry.max_seq_len, causal=entry.causal)
        server = explore.serve(model, program=program, title=name)
        server.start_in_background()
        rng = random.Random(0)
        texts = [" ".join(str(rng.choice(vocab)) for _ in range(rng.randint(1, entry.max_seq_len)))
                 for _ in range(INPUTS_PER_PROGRAM)]
        tab = browser.new_page()
        tab.goto(server.url)
        tab.wait_for_selector("body[data-charts=ready]")
        browser_ms, server_ms = [], []
        for text in texts:
            tab.fill("#input-box", text)
            tab.evaluate("() => { delete document.body.dataset.input; }")
            start = time.perf_counter()
            tab.press("#input-box", "Enter")
            tab.wait_for_selector(f"body[data-input='{text}']")
            browser_ms.append(1000 * (time.perf_counter() - start))
            start = time.perf_counter()
            server.explorer.run(text)
            server_ms.append(1000 * (time.perf_counter() - start))
        tab.close()
        server.shutdown()
        server.server_close()
        found[name] = {"round_trip_ms": round(statistics.median(browser_ms), 1),
                       "server_run_ms": round(statistics.median(server_ms), 2), "d_model": model.config.d_model}
    return found


def _reverse_32(browser) -> dict:
    """Reverse at vocabulary = length = 32: data size, load, folded bands, filter + open, one hover."""
    program = programs.get_program("reverse").build(32)
    model = optracr.compile(program, list(range(32)), 32)
    server = explore.serve(model, program=program, title="reverse 32")
    server.start_in_background()
    tab = browser.new_page(viewport={"width": 1300, "height": 900})
    start = time.perf_counter()
    tab.goto(server.url)
    tab.wait_for_selector("body[data-charts=ready]")
    tab.click("nav button[data-view=residual]")
    loaded = time.perf_counter() - start
    bands = len(tab.query_selector_all("details.band"))
    folded = len(tab.query_selector_all("details.band:not([open])"))
    start = time.perf_counter()
    tab.fill("#band-filter", "reverse")
    tab.click("details.band[data-band='reverse'] > summary")
    tab.wait_for_selector("details.band[data-band='reverse'] .band-chart .main-svg")
    opened = time.perf_counter() - start
    shown = tab.inner_text("#band-count")
    tab.close()
    server.shutdown()
    server.server_close()
    return {"d_model": model.config.d_model, "bands": bands, "folded_at_first": folded,
            "page_bytes": len(server.page_bytes), "load_to_residual_view_s": round(loaded, 3),
            "filter_and_open_band_s": round(opened, 3), "band_count_line": shown}


def main() -> None:
    from playwright.sync_api import sync_playwright

    page.plotly_js()  # the bundle read once, as a running server has it
    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        results = {"start": _start_time(browser), "round_trips": _round_trips(browser),
                   "reverse_32": _reverse_32(browser)}
        browser.close()
    RESULTS.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
