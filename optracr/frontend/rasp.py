"""RASP embedded in Python, with the public names of the reference's ``tracr.rasp.rasp``.

Programs written for the reference run unchanged after ``from tracr.rasp import rasp`` becomes
``from optracr import rasp``. This is the public face: the language (``frontend/language.py``) and its
evaluator (``frontend/evaluator.py``), re-exported.

>>> from optracr import rasp
>>> is_x = (rasp.tokens == "x").named("is_x")
>>> prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.LEQ)
>>> frac_prevs = rasp.numerical(rasp.Aggregate(prevs, rasp.numerical(is_x), default=0))
>>> rasp.evaluate(frac_prevs, list("xacx"))
[1.0, 0.5, 0.3333333333333333, 0.5]

Every expression gets a label at construction (``map_7``, ``aggregate_12``...) from one global counter, so
two expressions never share a default label; ``copy()`` gives the copy a fresh default label unless the
label was chosen by the user. The tracer additionally keeps graph labels unique when users reuse a name.
"""

from optracr.frontend.evaluator import evaluate
from optracr.frontend.language import (
    DEFAULT_ANNOTATORS,
    Aggregate,
    Annotator,
    Comparison,
    ConstantSelector,
    ConstantSOp,
    Encoding,
    Full,
    IndicesType,
    LengthType,
    LinearSequenceMap,
    Map,
    Predicate,
    RASPExpr,
    Select,
    Selector,
    SelectorAnd,
    SelectorNot,
    SelectorOr,
    SelectorValue,
    SelectorWidth,
    SequenceMap,
    SOp,
    TokensType,
    Value,
    annotate,
    categorical,
    get_encoding,
    indices,
    is_categorical,
    is_numerical,
    length,
    numerical,
    selector_and,
    selector_not,
    selector_or,
    tokens,
)

__all__ = [
    "DEFAULT_ANNOTATORS",
    "Aggregate",
    "Annotator",
    "Comparison",
    "ConstantSOp",
    "ConstantSelector",
    "Encoding",
    "Full",
    "IndicesType",
    "LengthType",
    "LinearSequenceMap",
    "Map",
    "Predicate",
    "RASPExpr",
    "SOp",
    "Select",
    "Selector",
    "SelectorAnd",
    "SelectorNot",
    "SelectorOr",
    "SelectorValue",
    "SelectorWidth",
    "SequenceMap",
    "TokensType",
    "Value",
    "annotate",
    "categorical",
    "evaluate",
    "get_encoding",
    "indices",
    "is_categorical",
    "is_numerical",
    "length",
    "numerical",
    "selector_and",
    "selector_not",
    "selector_or",
    "tokens",
]
