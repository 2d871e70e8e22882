"""``import optracr``, ``import optracr.export`` and compiling never import torch, transformer_lens or safetensors
(the export and torch extras); saving and loading import safetensors only."""

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


def test_importing_optracr_export_and_saving_import_neither_torch_nor_transformer_lens(tmp_path) -> None:
    script = (
        "import sys, optracr, optracr.export\n"
        "from optracr import export, rasp\n"
        "assert 'torch' not in sys.modules and 'transformer_lens' not in sys.modules\n"
        "model = optracr.compile(rasp.Map(lambda t: t == 'a', rasp.tokens), {'a', 'b'}, 3)\n"
        f"loaded = export.load(export.save(model, {str(tmp_path)!r}))\n"
        "assert loaded.apply(['BOS', 'a']).decoded == ['BOS', True]\n"
        "assert export.FORMAT_VERSION == 2 and callable(export.reference_model)\n"
        "loaded = [name for name in ('torch', 'transformer_lens') if name in sys.modules]\n"
        "assert not loaded, loaded\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=300)
