"""The data of one input: the model's output beside the evaluator's, the residual stream and every head.

The residual stream and the heads come from the pictures' plans (``plotting.residual_plan`` with every row,
``plotting.attention_plan``), which run the model's one forward pass (``CompiledModel.apply``); nothing here
computes an activation. ``stream_layout`` is the part that is the same for every input (bands, stages, head
titles); ``input_trace`` the part that changes.
"""

from __future__ import annotations

import json
from collections.abc import Hashable, Sequence
from typing import Any

import numpy as np

from optracr import assemble, certify, plotting
from optracr.errors import CompileError, EvaluationError, InputError
from optracr.frontend import rasp

DECIMALS = 6  # residual values and attention weights are sent rounded to this many decimals


def parse_input(model: assemble.CompiledModel, text: str) -> list[Hashable]:
    """``["BOS", *tokens]`` from space-separated token text, each word read as the vocabulary token it spells, or
    from a JSON list, which carries each token's type (``[1, "1"]``). A word that names no token is kept as text,
    so ``apply`` refuses it with its own message.

    Raises:
      InputError: for a JSON list that does not parse, naming what would work.
    """
    if text.lstrip().startswith("["):
        try:
            tokens = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"{text!r} is not a JSON list ({error.msg}); write tokens like [1, \"x\"], or "
                             "space-separated") from None
        if not isinstance(tokens, list) or any(isinstance(token, (list, dict)) for token in tokens):
            raise InputError(f"{text!r} is not a flat JSON list of tokens; write tokens like [1, \"x\"]")
        return [model.bos, *tokens]
    by_text = {str(token): token for token in model.input_tokens if token not in (model.bos, model.pad)}
    return [model.bos, *(by_text.get(word, word) for word in text.split())]


def input_trace(model: assemble.CompiledModel, program: rasp.SOp | None, text: str) -> dict[str, Any]:
    """What the page shows for input ``text``: JSON-ready, or ``{"input": text, "error": ...}`` where the
    model refuses the input (the message ``apply`` raises)."""
    text = " ".join(text.split())
    try:
        tokens = parse_input(model, text)
        model.encode(tokens)
    except (CompileError, InputError) as error:
        return {"input": text, "error": str(error)}
    result = model.apply(tokens)
    residual, attention = _plans(model, program, tokens, result)
    decoded = result.decoded
    expected, evaluator_error = _evaluated(model, program, tokens)
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    mismatches = [] if expected is None else [
        not certify.value_matches(want, got, numerical=numerical) for want, got in zip(expected, decoded[1:])
    ]
    return {
        "input": text,
        "tokens": [value_text(token) for token in tokens],
        "model": [value_text(value) for value in decoded],
        "expected": None if expected is None else [value_text(value) for value in expected],
        "evaluator_error": evaluator_error,
        "mismatches": mismatches,
        "residual": [_rounded(matrix) for matrix in residual.matrices],
        "attention": [_rounded(panel.pattern) for panel in attention.panels],
    }


def stream_layout(model: assemble.CompiledModel, program: rasp.SOp | None, tokens: Sequence[Hashable]) -> dict:
    """The bands (every residual direction, grouped by s-op), the stages (embedding, then every sublayer)
    and the heads (with their selectors) that every input's trace is laid out by."""
    residual, attention = _plans(model, program, tokens)
    index = {label: number for number, label in enumerate(model.residual_labels)}
    start = 0
    bands = []
    for band in residual.bands:
        bands.append({"name": band.name, "kind": band.kind, "rows": list(band.rows), "values": list(band.values),
                      "directions": [index[row] for row in band.rows], "output": band.is_output, "start": start})
        start += len(band.rows)
    stages = [{"title": stage.title, "sublayer": stage.sublayer, "writes": list(stage.writes),
               "helps": list(stage.helps), "detail": stage.detail} for stage in residual.stages]
    heads = [{"layer": panel.layer, "head": panel.head, "sop": panel.sop, "operation": panel.operation,
              "selector": panel.selector} for panel in attention.panels]
    return {"bands": bands, "stages": stages, "heads": heads, "num_directions": start}


def _plans(model: assemble.CompiledModel, program: rasp.SOp | None, tokens: Sequence[Hashable],
           result: assemble.ApplyResult | None = None) -> tuple[plotting.ResidualPlan, plotting.AttentionPlan]:
    result = result if result is not None else model.apply(tokens)
    return (plotting.residual_plan(model, tokens, all_rows=True, result=result),
            plotting.attention_plan(model, tokens, program=program, result=result))


def _evaluated(model: assemble.CompiledModel, program: rasp.SOp | None,
               tokens: Sequence[Hashable]) -> tuple[list | None, str]:
    """The evaluator's output on the input (no BOS), or None and why there is none."""
    if program is None:
        return None, "no RASP program: the model was loaded from disk, so there is no evaluator answer"
    try:
        return rasp.evaluate(program, list(tokens[1:]), causal=model.layered.causal), ""
    except EvaluationError as error:
        return None, f"the evaluator has no answer on this input: {error}"


def _rounded(matrix: np.ndarray) -> list:
    return (np.round(np.asarray(matrix, dtype=np.float64), DECIMALS) + 0.0).tolist()  # + 0.0: no -0.0


def value_text(value: object) -> str:
    """A token or decoded value for the page: floats to 6 significant digits, None as a dash."""
    if value is None:
        return "-"
    return f"{value:.6g}" if isinstance(value, float) else str(value)
