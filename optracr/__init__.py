"""optracr: compile RASP programs into exact transformer weights.

>>> from optracr import rasp
>>> rasp.evaluate(rasp.tokens == "x", list("xax"))
[True, False, True]
"""

from optracr.errors import CompileError, EvaluationError
from optracr.frontend import rasp

__all__ = ["CompileError", "EvaluationError", "rasp"]
