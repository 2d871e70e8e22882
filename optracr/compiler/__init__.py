"""compiler: ``compile`` (the pipeline of stages and passes, recorded in the model's provenance), the reference's
``compile_rasp_to_model`` (module ``compiling``), and the craft -> schedule adapter (module ``scheduling``)."""

from optracr.compiler import compiling
from optracr.compiler import scheduling
from optracr.compiler.compiling import COMPILER_BOS, COMPILER_PAD, compile_rasp_to_model
from optracr.compiler.pipeline import compile, run_pipeline
from optracr.options import ALLOCATORS, CompileOptions

__all__ = [
    "ALLOCATORS",
    "COMPILER_BOS",
    "COMPILER_PAD",
    "CompileOptions",
    "compile",
    "compile_rasp_to_model",
    "run_pipeline",
]
