"""The reference's ``tracr.rasp.causal_eval``: RASP evaluated with every selector masked causally.

A ported ``from tracr.rasp import causal_eval`` becomes ``from optracr import causal_eval``.

>>> from optracr import causal_eval, rasp
>>> prevs = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.TRUE)
>>> causal_eval.evaluate(rasp.SelectorWidth(prevs), ["a", "b", "c"])
[1, 2, 3]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from optracr.frontend import rasp

__all__ = ["evaluate"]


def evaluate(expr: rasp.RASPExpr, xs: Sequence[Any]) -> Any:
    """``expr`` evaluated on ``xs`` with each query seeing only its own and earlier positions."""
    return rasp.evaluate(expr, xs, causal=True)
