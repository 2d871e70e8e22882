"""The reference compiler (DeepMind's ``tracr``, PyPI ``tracr-pypi``) as an optional peer for the benchmarks.

``measure(name)`` compiles a library program with the reference and returns a row with the keys of
``model_sizes.measure`` (allocator ``"reference"``), or None when ``tracr`` is not importable. The program
is built with ``optracr.rasp`` and its expression tree translated node by node into ``tracr.rasp.rasp``
objects (same classes, fields, labels and encodings; a sub-expression read twice stays one node), so both
compilers see the same program. Install the reference in its own environment, e.g.
``python -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install tracr-pypi && /tmp/refvenv/bin/pip install -e .``.

The reference keeps its unembedding out of ``params`` (a closure over a projection); ``params`` and
``nonzero`` here add that residual x output matrix so that totals compare with optracr's, which include it.
"""

from __future__ import annotations

import importlib
import time
from typing import Any

import numpy as np

from optracr import programs, rasp

REFERENCE_BOS = "BOS"  # optracr's default BOS token, passed to the reference too
REFERENCE_STATUS = "REFERENCE"


def available() -> bool:
    """Whether the reference compiler (``tracr.compiler.compiling``) can be imported here."""
    try:
        importlib.import_module("tracr.compiler.compiling")
    except Exception:  # absent, or present but broken (e.g. a JAX it does not support): no peer either way
        return False
    return True


def to_reference(program: rasp.RASPExpr, reference_rasp: Any) -> Any:
    """The ``tracr.rasp.rasp`` expression equal to ``program``: same tree, labels and encodings."""
    translated: dict[int, Any] = {}

    def translate(expr: rasp.RASPExpr) -> Any:
        if expr.unique_id not in translated:
            node = _translate_node(expr, [translate(child) for child in expr.children], reference_rasp)
            node = node.named(expr.label)
            if isinstance(expr, rasp.SOp) and not isinstance(expr, (rasp.TokensType, rasp.IndicesType)):
                encode = reference_rasp.numerical if rasp.is_numerical(expr) else reference_rasp.categorical
                node = encode(node)
            translated[expr.unique_id] = node
        return translated[expr.unique_id]

    return translate(program)


def _translate_node(expr: rasp.RASPExpr, children: list[Any], reference_rasp: Any) -> Any:
    """One node, its children already translated (in ``expr.children`` order); subclasses before bases."""
    r = reference_rasp
    if isinstance(expr, rasp.TokensType):
        return r.tokens
    if isinstance(expr, rasp.IndicesType):
        return r.indices
    if isinstance(expr, rasp.LengthType):
        return r.length
    if isinstance(expr, rasp.Map):
        return r.Map(expr.f, children[0], simplify=False)
    if isinstance(expr, rasp.LinearSequenceMap):
        return r.LinearSequenceMap(children[0], children[1], expr.fst_fac, expr.snd_fac)
    if isinstance(expr, rasp.SequenceMap):
        return r.SequenceMap(expr.f, children[0], children[1])
    if isinstance(expr, rasp.Full):
        return r.Full(expr.fill)
    if isinstance(expr, rasp.ConstantSOp):
        return r.ConstantSOp(expr.value, check_length=expr.check_length)
    if isinstance(expr, rasp.SelectorWidth):
        return r.SelectorWidth(children[0])
    if isinstance(expr, rasp.Aggregate):
        return r.Aggregate(children[0], children[1], default=expr.default)
    if isinstance(expr, rasp.Select):
        return r.Select(children[0], children[1], _predicate(expr.predicate, r))
    if isinstance(expr, rasp.ConstantSelector):
        return r.ConstantSelector(expr.value, check_length=expr.check_length)
    if isinstance(expr, rasp.SelectorNot):
        return r.SelectorNot(children[0])
    if isinstance(expr, rasp.SelectorAnd):
        return r.SelectorAnd(children[0], children[1])
    if isinstance(expr, rasp.SelectorOr):
        return r.SelectorOr(children[0], children[1])
    raise TypeError(f"{expr!r}: no reference counterpart for {type(expr).__name__}")


def _predicate(predicate: Any, reference_rasp: Any) -> Any:
    """A ``Comparison`` becomes the reference's member of the same name; any other callable stays as is."""
    if isinstance(predicate, rasp.Comparison):
        return reference_rasp.Comparison[predicate.name]
    return predicate


def _unembedding_width(model: Any) -> int:
    """Columns of the reference's (closure) unembedding: its output space's dimensions.

    A categorical output's encoder is a ``CategoricalEncoder`` built from the output space's basis, one
    ``encoding_map`` entry per direction (tracr 1.0.0 has no ``decoding_map`` attribute: ``decode`` builds it
    locally); a numerical output's ``NumericalEncoder`` has no map, and its output space is one direction.
    """
    encoding_map = getattr(model.output_encoder, "encoding_map", None)
    return len(encoding_map) if encoding_map else 1


def measure(name: str) -> dict | None:
    """The reference's model for library program ``name`` as a ``model_sizes`` row; None without ``tracr``."""
    if not available():
        return None
    reference_rasp = importlib.import_module("tracr.rasp.rasp")
    compiling = importlib.import_module("tracr.compiler.compiling")
    entry = programs.LIBRARY[name]
    program = to_reference(entry.build(), reference_rasp)
    row: dict = {"program": name, "mode": "reference-compiler", "allocator": "reference", "vocab_size": len(entry.vocab),
                 "max_seq_len": entry.max_seq_len, "gap": None, "depth_lower_bound": None, "alloc_s": None,
                 "fused": [], "folded": []}
    start = time.perf_counter()
    try:
        model = compiling.compile_rasp_to_model(
            program, vocab=set(entry.vocab), max_seq_len=entry.max_seq_len, compiler_bos=REFERENCE_BOS
        )
    except Exception as err:  # the reference fails on some programs; report it as a row, not a crash
        return {**row, "status": f"FAILED ({type(err).__name__}: {str(err)[:80]})",
                "compile_s": round(time.perf_counter() - start, 4), "stage_s": {}}
    seconds = time.perf_counter() - start
    config = model.model_config
    arrays = [np.asarray(array) for module in model.params.values() for array in module.values()]
    d_model, outputs = len(model.residual_labels), _unembedding_width(model)
    return {
        **row,
        "layers": config.num_layers,
        "heads": config.num_heads,
        "key": config.key_size,
        "value": config.key_size,  # the reference's heads use the key size for values too
        "mlp": config.mlp_hidden_size,
        "d_model": d_model,
        "params": sum(int(array.size) for array in arrays) + d_model * outputs,
        # the unembedding projects onto the output subspace: one non-zero entry per output column
        "nonzero": sum(int(np.count_nonzero(array)) for array in arrays) + outputs,
        "status": REFERENCE_STATUS,
        "compile_s": round(seconds, 4),
        "stage_s": {},
    }

