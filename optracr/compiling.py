"""The reference's ``tracr.compiler.compiling``: ``compile_rasp_to_model`` and its BOS and PAD defaults.

A ported ``from tracr.compiler import compiling`` becomes ``from optracr import compiling``; the model it
returns has the reference's interface (``optracr.export.ReferenceCompatibleModel``) and structure.
"""

from __future__ import annotations

from optracr.compiler import COMPILER_BOS, COMPILER_PAD, compile_rasp_to_model

__all__ = ["COMPILER_BOS", "COMPILER_PAD", "compile_rasp_to_model"]
