"""certify: a proof, from a compiled model's weights, that it computes what the RASP evaluator computes.

``certify(model, program=None) -> Certificate``. It works from the layered model (its labelled weights, the
labels of its residual), the program's value sets, and the evaluator's meaning of each operation applied to
values; it never calls craft's constructions nor lowering's error bounds, so it can catch a bug in them.
See docs/certificate.md.
"""

import sys
import types
from typing import Any

from optracr.certify.arithmetic import FLOAT32, FLOAT64, Arithmetic
from optracr.certify.certificate import ASSUMPTIONS, Certificate, SopBound
from optracr.certify.certifier import certify, program_graph_of
from optracr.certify.counterexample import Counterexample
from optracr.certify.errors import CertifyError
from optracr.certify.findings import Block, Failure, Undefined
from optracr.certify.verification import DEFAULT_TOLERANCE, VerifyReport, value_matches, verify

__all__ = [
    "ASSUMPTIONS",
    "DEFAULT_TOLERANCE",
    "Arithmetic",
    "Block",
    "Certificate",
    "CertifyError",
    "Counterexample",
    "FLOAT32",
    "FLOAT64",
    "Failure",
    "SopBound",
    "Undefined",
    "VerifyReport",
    "certify",
    "program_graph_of",
    "value_matches",
    "verify",
]


class _CallableModule(types.ModuleType):
    """Lets ``optracr.certify(model)`` call ``certify`` although the sub-package shares its name."""

    def __call__(self, *args: Any, **kwargs: Any) -> Certificate:
        return certify(*args, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
