"""``import optracr`` and compiling never import torch, transformer_lens or safetensors (the export extra)."""

from __future__ import annotations

import subprocess
import sys


def test_compiling_and_the_reference_interface_import_no_export_dependency() -> None:
    script = (
        "import optracr, sys\n"
        "from optracr import rasp\n"
        "model = optracr.compile_rasp_to_model(rasp.Map(lambda t: t == 'a', rasp.tokens), {'a', 'b'}, 3)\n"
        "model.apply(['compiler_bos', 'a'])  # the reference's BOS, compile_rasp_to_model's default\n"
        "loaded = [name for name in ('torch', 'transformer_lens', 'safetensors') if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
