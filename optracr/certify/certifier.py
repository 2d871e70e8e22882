"""``certify``: the proof attempt, and everything the certificate reports around it (float32, the largest length
proved, the block at fault, a counterexample)."""

from __future__ import annotations

import time
import warnings
from collections.abc import Hashable

import numpy as np

from optracr import frontend
from optracr.certify import alignment
from optracr.certify import analysis as analysis_lib
from optracr.certify import arithmetic
from optracr.certify import blame as blame_lib
from optracr.certify import certificate as certificate_lib
from optracr.certify import counterexample as counterexample_lib
from optracr.certify import errors
from optracr.certify import findings
from optracr.certify import meaning as meaning_lib
from optracr.certify import residual as residual_lib
from optracr.certify import tables as tables_lib
from optracr.certify import weights as weights_lib

rasp = frontend.rasp
MERGED = 1e-9  # relative distance under which two numbers are one value


def certify(
    model,
    program: rasp.SOp | None = None,
    *,
    tolerance: float = 1e-4,
    float32: bool = True,
    search_seconds: float = 2.0,
) -> certificate_lib.Certificate:
    """Proves from ``model``'s weights that it computes what ``program`` means on every input up to its length.

    ``program`` defaults to the one the model was compiled from (``optracr.compile`` keeps it); a loaded model
    needs it passed, unless it was saved with its certificate, which is then returned. ``tolerance`` is
    ``verify``'s for numerical outputs. With ``float32`` the proof is also tried in float32 arithmetic. Where the
    proof fails, a counterexample is searched for, for at most ``search_seconds``.

    >>> import optracr
    >>> from optracr import rasp
    >>> model = optracr.compile(rasp.Map(lambda t: t == "a", rasp.tokens), {"a", "b"}, 3)
    >>> optracr.certify(model).proved
    True
    """
    start = time.perf_counter()
    layered = getattr(model, "layered", None)
    if layered is None:
        raise errors.CertifyError(None, f"certify takes a compiled model (optracr.compile's), got {model!r}")
    program, program_graph = _program(model, program)
    if program_graph is None and program is None:
        saved = getattr(model, "certificate", None)
        if saved is not None:
            return saved
        raise errors.CertifyError(
            None, "this model does not carry the program it was compiled from (a loaded model does not); pass it: "
            "optracr.certify(model, program)",
        )
    if program_graph is None:
        program_graph = program_graph_of(layered, program)
        reference = getattr(model, "program_graph", None)
        if reference is not None and set(program_graph.graph) != set(reference.graph):
            # the same program built again: its unnamed s-ops carry fresh ids (alignment's doc)
            program_graph = alignment.aligned(program_graph, reference) or program_graph
    if program_graph.sink != layered.output_label:
        raise errors.CertifyError(
            program_graph.sink, f"the program's output is {program_graph.sink!r} but the model computes "
            f"{layered.output_label!r}; certify the model with the program it was compiled from",
        )
    residual = residual_lib.residual_of(layered, program_graph)
    weights = weights_lib.ModelWeights(layered, residual)
    meaning = meaning_lib.Meaning(program_graph, residual)

    def run(overrides=None, *, precision=arithmetic.FLOAT64, length=None) -> analysis_lib.Analysis:
        return analysis_lib.analyse(layered, residual, meaning, arithmetic=precision, max_length=length,
                                    tolerance=tolerance, overrides=overrides, weights=weights)

    # Every float64 run meets float32's weaker rounding assumptions, so a proof in float32 covers both: try it
    # first, and fall back to float64 (and its tighter bounds) only where it fails.
    main = run(precision=arithmetic.FLOAT32) if float32 else run()
    story, story_values, blamed = "", (), None
    largest, found, tried = layered.max_seq_len, None, 0
    float32_proved, float32_failure = (True, "") if float32 and main.proved else (None, "")
    if float32 and not main.proved:
        float32_proved, float32_failure = False, main.failures[0].describe()
        main = run()
        if not main.proved:
            float32_proved, float32_failure = None, "the float64 proof fails already"
    if not main.proved:
        blame = blame_lib.find(main, lambda overrides: run(overrides))
        if blame is not None:
            blamed = blame.block
            story, story_values = blame_lib.describe(main.context, blame.block)
        else:
            story = "no single block's exact output makes every bound hold: " + main.failures[0].describe()
        largest = _largest_length(run, layered.max_seq_len)
        hints = [state for _, state in story_values]
        if program is not None:
            search = counterexample_lib.search(
                model, program, lengths=[min(largest + 1, layered.max_seq_len), layered.max_seq_len],
                hints=_tokens(hints, layered), seconds=search_seconds, tolerance=tolerance)
            found, tried = search.found, search.inputs
    return certificate_lib.Certificate(
        proved=main.proved,
        output_label=layered.output_label,
        output_encoding=layered.output_encoding.value,
        vocab_size=len(layered.input_tokens) - 2,
        max_seq_len=layered.max_seq_len,
        causal=layered.causal,
        tolerance=tolerance,
        output_margin=main.decoding.margin,
        output_error=main.decoding.worst_error,
        sops=_sop_bounds(main, layered),
        undefined=_undefined(main, meaning),
        failures=tuple(main.failures),
        blamed=blamed,
        story=story,
        story_values=story_values,
        largest_length=largest,
        float32=float32_proved,
        bounds_precision=main.context.arithmetic.name,
        float32_failure=float32_failure,
        counterexample=found,
        searched_inputs=tried,
        seconds=time.perf_counter() - start,
    )


def program_graph_of(layered, program: rasp.SOp) -> frontend.ProgramGraph:
    """The program's value sets for the inputs the model takes (rewritten and traced as compiling does)."""
    vocab = [token for token in layered.input_tokens if token not in (layered.bos, layered.pad)]
    spec = frontend.InputSpec(vocab, layered.max_seq_len, bos=layered.bos, pad=layered.pad, causal=layered.causal,
                              partial_functions="allow")
    if not isinstance(program, rasp.SOp):
        raise errors.CertifyError(None, f"certify needs the program as a RASP s-op, got {program!r}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # compiling warned already
        return frontend.infer_value_sets(frontend.trace(frontend.rewrite(program)), spec)


def _program(model, program: rasp.SOp | None) -> tuple[rasp.SOp | None, frontend.ProgramGraph | None]:
    """The program to certify against, and its analysed graph when the model carries it for that program."""
    carried = getattr(model, "program", None)
    graph = getattr(model, "program_graph", None)
    if program is None:
        return carried, graph
    return program, graph if program is carried else None


def _undefined(main: analysis_lib.Analysis, meaning: meaning_lib.Meaning) -> tuple[findings.Undefined, ...]:
    """The inputs left out by design: where a function raises, where a categorical Aggregate picks different values."""
    found = {label: findings.Undefined(label, f"its function raises on input values "
                                              f"{meaning.raising_inputs(label)[:6]}") for label in sorted(meaning.raised)}
    found.update(main.context.undefined)
    return tuple(found.values())


def _largest_length(run, max_seq_len: int) -> int:
    """The longest input length (below ``max_seq_len``) at which every bound still holds (0 if none)."""
    low, high = 0, max_seq_len - 1
    while low < high:
        middle = (low + high + 1) // 2
        if run(length=middle).proved:
            low = middle
        else:
            high = middle - 1
    return low


def _tokens(states: list[str], layered) -> list[Hashable]:
    """The vocabulary tokens among shown states (to start the counterexample search from)."""
    shown = {repr(token): token for token in layered.input_tokens[:-2]}
    return [shown[state] for state in states if state in shown]


def _where(location) -> str:
    """Where the model computes an s-op, in a few words (the ground-truth map's, for the report)."""
    if location.folded:
        return f"folded into {', '.join(location.folded_into)}"
    parts = [f"head {', '.join(map(str, location.heads))}" if location.heads else "",
             f"MLP ({len(location.mlp_units)} units)" if location.mlp_units else ""]
    where = f"layer {location.layer} " + " + ".join(part for part in parts if part)
    others = [label for label in location.fused_with if label != location.label]
    if others:
        where += f", fused with {', '.join(others)}"
    return where + ("" if location.directions else ", not stored")


def _sop_bounds(main: analysis_lib.Analysis, layered) -> tuple[certificate_lib.SopBound, ...]:
    """Per s-op of the model, in the order it is computed: where it lives, its worst error and margin."""
    context = main.context
    found = []
    locations = sorted(layered.locations.values(), key=lambda loc: (loc.sublayer is None, loc.sublayer or 0,
                                                                    loc.label))
    for location in locations:
        table = context.tables.get(location.label)
        if table is None or location.folded or not location.directions:
            found.append(certificate_lib.SopBound(location.label, _where(location), "", None, None, 0))
            continue
        # over the value rows (BOS's is last)
        error = float(np.maximum.reduce(table.error()[:-1], axis=None, initial=0.0))
        if location.label == layered.output_label:
            margin = main.decoding.margin
            encoding = "numerical" if table.label.numerical else "categorical"
        elif table.label.numerical:
            numbers, is_value = table.numbers()
            values = np.unique(numbers[:-1][is_value[:-1]])
            gaps = np.diff(values)
            # values one float rounding apart are one value to every reader (as the discretising MLPs merge them)
            gaps = gaps[gaps > MERGED * max(1.0, float(np.maximum.reduce(np.abs(values), axis=None, initial=0.0)))]
            margin = (float(gaps.min()) / 2 if len(gaps) else float("inf")) - error
            encoding = "numerical"
        else:
            margin = 0.5 - error
            encoding = "categorical"
        found.append(certificate_lib.SopBound(location.label, _where(location), encoding, error, margin,
                                              table.num_rows - 1))
    return tuple(found)
