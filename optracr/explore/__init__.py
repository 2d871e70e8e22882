"""explore: a compiled model in the browser: its program, layout, residual stream and attention, on any input.

Needs the ``explore`` extra (plotly; ``import optracr`` never loads it). The page draws what the Python
side computed: every activation comes from the model's one forward pass (``CompiledModel.apply``), every
description from the model's ground truth (its locations) and the program.

- ``serve(model, program=..., inputs=...)``: a live page on localhost that runs any typed input
  (``optracr explore PROGRAM|SAVED_MODEL_DIR``).
- ``static_page(model, inputs, program=...)``: one self-contained HTML page with those inputs precomputed,
  no server, no network (``optracr explore ... --html FILE``; ``model.explore()`` shows it in Jupyter).
- ``Explorer(model, program).run(text)``: what the page shows for one input (plotly not needed).

>>> import optracr
>>> from optracr import explore, programs
>>> program = programs.make_reverse(optracr.rasp.tokens)
>>> model = optracr.compile(program, ["a", "b", "c"], 4)
>>> explorer = explore.Explorer(model, program)
>>> trace = explorer.run("a b c")
>>> trace["model"], trace["expected"], trace["mismatches"]
(['BOS', 'c', 'b', 'a'], ['c', 'b', 'a'], [False, False, False])
>>> explorer.run("a z")["error"]
"unknown token(s) ['z']; the vocabulary is ['a', 'b', 'c'] (PAD only at the end)"
"""

from __future__ import annotations

from collections.abc import Sequence

from optracr import assemble
from optracr.explore.notebook import NotebookView
from optracr.explore.server import ExploreServer
from optracr.explore.session import Explorer
from optracr.frontend import rasp

__all__ = ["ExploreServer", "Explorer", "NotebookView", "serve", "static_page"]


def serve(model: assemble.CompiledModel, *, program: rasp.SOp | None = None, inputs: Sequence[str] = (),
          title: str = "", port: int = 0) -> ExploreServer:
    """A server for the live page of ``model`` on 127.0.0.1 (not yet serving: call ``serve_forever`` or
    ``start_in_background``); ``inputs`` (space-separated tokens) are offered first, the first one shown."""
    explorer = Explorer(model, program, title)
    return ExploreServer(explorer, list(inputs) or [explorer.example_input()], port=port)


def static_page(model: assemble.CompiledModel, inputs: Sequence[str] = (), *, program: rasp.SOp | None = None,
                title: str = "") -> NotebookView:
    """A self-contained page of ``model`` with ``inputs`` precomputed (default: one example input)."""
    from optracr.explore import page

    explorer = Explorer(model, program, title)
    data = explorer.page_data(list(inputs) or [explorer.example_input()], mode="static")
    return NotebookView(page.render(data, inline_plotly=True))
