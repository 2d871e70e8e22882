"""The frontend: RASP, its evaluator, tracing, value-set inference, rewrites and validation.

``analyse`` chains them: program -> rewritten program -> ``ProgramGraph`` with value sets, or one
``CompileError`` listing every unsupported construct. The options enter here, once, as an ``InputSpec``
that the ``ProgramGraph`` carries to the later stages.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from optracr.frontend import rasp
from optracr.options import CompileOptions
from optracr.frontend.errors import CompileError, EvaluationError, ProgramErrors, raise_all
from optracr.frontend.batch_evaluator import evaluate_batch
from optracr.frontend.evaluator import aggregate_value, apply_function, evaluate, selects
from optracr.frontend.graph import NodeValues, ProgramGraph, TracedProgram, trace
from optracr.frontend.inputs import all_inputs, sampled_inputs
from optracr.frontend.input_spec import CAUSAL_OPTIONS, PARTIAL_FUNCTIONS, STRICT_CAUSAL, InputSpec
from optracr.frontend.rewrite import conjuncts, rewrite
from optracr.frontend.typed_values import ValueSet, ValueTable, same_value, value_key, value_keys
from optracr.frontend.validate import validate
from optracr.frontend.causal import (
    LookAhead,
    check_looking_ahead,
    looking_ahead,
    validate_causal,
    validate_looking_ahead,
)
from optracr.frontend.value_sets import infer as infer_value_sets

__all__ = [
    "CAUSAL_OPTIONS",
    "CompileError",
    "EvaluationError",
    "InputSpec",
    "LookAhead",
    "NodeValues",
    "PARTIAL_FUNCTIONS",
    "ProgramGraph",
    "ProgramErrors",
    "STRICT_CAUSAL",
    "TracedProgram",
    "ValueSet",
    "ValueTable",
    "aggregate_value",
    "all_inputs",
    "analyse",
    "apply_function",
    "check_looking_ahead",
    "conjuncts",
    "evaluate",
    "evaluate_batch",
    "infer_value_sets",
    "looking_ahead",
    "raise_all",
    "rasp",
    "rewrite",
    "sampled_inputs",
    "same_value",
    "selects",
    "trace",
    "validate",
    "validate_causal",
    "validate_looking_ahead",
    "value_key",
    "value_keys",
]


def analyse(
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    *,
    bos: Hashable = CompileOptions.bos,
    pad: Hashable = CompileOptions.pad,
    causal: bool | str = CompileOptions.causal,
    partial_functions: str = CompileOptions.partial_functions,
) -> ProgramGraph:
    """The program traced, with value sets, validated; raises ``CompileError`` listing every problem.

    ``partial_functions="allow"`` accepts Maps and SequenceMaps whose function raises on some input values (the
    model has no value there); the default refuses them. ``causal=True`` gives the program its causal meaning
    (``evaluate(..., causal=True)``), with a ``CausalMeaningWarning`` for every selector that can pick a later
    position; ``causal="strict"`` refuses those selectors instead (``causal.check_looking_ahead``).
    """
    if not isinstance(program, rasp.SOp):
        label = program.label if isinstance(program, rasp.RASPExpr) else None
        raise CompileError(label, f"a program must be an s-op (rasp.SOp), got {program!r}")
    input_spec = InputSpec(
        vocab, max_seq_len, bos=bos, pad=pad, causal=causal, partial_functions=partial_functions
    )
    if input_spec.masked:
        raise_all(validate_causal(trace(program)))
    program_graph = infer_value_sets(trace(rewrite(program)), input_spec)
    raise_all(validate(program_graph))
    check_looking_ahead(program_graph)
    return program_graph
