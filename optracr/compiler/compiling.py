"""The reference's ``tracr.compiler.compiling``: ``compile_rasp_to_model`` and its BOS and PAD defaults.

A ported ``from tracr.compiler import compiling`` becomes ``from optracr.compiler import compiling`` (or
``from optracr import compiling``); the model it returns has the reference's interface
(``optracr.export.ReferenceCompatibleModel``) and structure.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Any

from optracr import export
from optracr import options as options_lib
from optracr.compiler import pipeline
from optracr.frontend import rasp

__all__ = ["COMPILER_BOS", "COMPILER_PAD", "compile_rasp_to_model"]

COMPILER_BOS = "compiler_bos"  # the reference's BOS and PAD tokens, compile_rasp_to_model's defaults
COMPILER_PAD = "compiler_pad"


def compile_rasp_to_model(
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    causal: bool | str = False,
    compiler_bos: Hashable = COMPILER_BOS,
    compiler_pad: Hashable = COMPILER_PAD,
    mlp_exactness: int = 100,
    **options: Any,
) -> export.ReferenceCompatibleModel:
    """The reference's entry point, argument names and returned interface; ``mlp_exactness`` is ignored.

    The result has the reference's ``model_config``, ``input_encoder``, ``output_encoder``, ``params`` and
    ``apply``; ``.compiled`` is the optracr ``CompiledModel`` (``summary``, ``verify``, exports). It keeps the
    reference's structure (one block per s-op, every s-op in the residual under its label), which ported code
    that reads s-ops off the residual relies on; ``fold=True, fuse=True`` gives optracr's smaller default. Its
    BOS and PAD default to the reference's ``compiler_bos`` and ``compiler_pad`` (``optracr.compile`` uses
    ``BOS`` and ``PAD``). Further keywords (``partial_functions``, ``allocator``, ...) are ``compile``'s; all of
    them become one ``CompileOptions``, which ``.compiled.options`` keeps.

    optracr derives every construction's precision from the value sets and ``max_seq_len``, so no knob is
    needed (the reference's default of 100 gives wrong selector widths from 10 up).
    """
    del mlp_exactness
    keywords = {"fold": False, "fuse": False, **options, "vocab": vocab, "max_seq_len": max_seq_len,
                "causal": causal, "bos": compiler_bos, "pad": compiler_pad}
    return export.reference_model(pipeline.run_pipeline(program, options_lib.from_keywords(keywords=keywords)))
