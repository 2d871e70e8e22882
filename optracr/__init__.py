"""optracr: compile RASP programs into exact transformer weights.

>>> from optracr import rasp
>>> rasp.evaluate(rasp.tokens == "x", list("xax"))
[True, False, True]
"""

import sys

from optracr.errors import (
    CausalMeaningWarning,
    CompileError,
    EvaluationError,
    ExportError,
    InputError,
    ModelFileError,
    OptracrBug,
    OptracrError,
    OptracrTypeError,
)
from optracr.frontend import rasp

__all__ = [
    "CausalMeaningWarning",
    "Certificate",
    "CompileError",
    "CompileOptions",
    "CompiledModel",
    "EvaluationError",
    "ExportError",
    "InputError",
    "ModelFileError",
    "OptracrBug",
    "OptracrError",
    "OptracrTypeError",
    "VerifyReport",
    "compile",
    "compile_many",
    "certify",
    "compile_rasp_to_model",
    "compress",
    "load",
    "rasp",
    "save",
    "verify",
]


def __getattr__(name: str):
    # The compiler pulls in JAX, Haiku and OR-Tools: load them on first use, not on `from optracr import rasp`.
    if name in ("compile", "compile_rasp_to_model", "compiling"):  # optracr.compiling: tracr.compiler.compiling
        from optracr import compiler

        return getattr(compiler, name)
    if name == "CompileOptions":
        from optracr.options import CompileOptions

        return CompileOptions
    if name in ("verify", "VerifyReport"):
        import optracr.certify

        return getattr(sys.modules["optracr.certify"], name)
    if name == "certify":  # the sub-package is callable: optracr.certify(model, program=None)
        import optracr.certify

        return sys.modules["optracr.certify"]
    if name == "Certificate":
        from optracr.certify import Certificate

        return Certificate
    if name == "compress":  # the sub-package is callable: optracr.compress(model, d, steps=...)
        import optracr.compress

        return sys.modules["optracr.compress"]
    if name in ("save", "load"):  # optracr.save(model, path), optracr.load(path): see optracr.export
        from optracr import export

        return getattr(export, name)
    if name == "compile_many":  # many programs on local processes or a Dask cluster (never imports Dask itself)
        from optracr import datasets

        return datasets.compile_many
    if name == "CompiledModel":
        from optracr.assemble import CompiledModel

        return CompiledModel
    raise AttributeError(f"module 'optracr' has no attribute {name!r}")
