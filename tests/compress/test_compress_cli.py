"""The ``optracr compress`` and ``optracr scramble`` commands: they write a variant beside its original."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import optracr
from optracr import cli, compress


def test_scramble_writes_an_exact_variant_that_loads(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "hist_scrambled"
    assert cli.main(["scramble", "hist", "--seed", "3", "--out", str(out), "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "rotation variant" in printed and "EXACT on 1364 inputs (every input" in printed
    document = json.loads((out / "scrambled.json").read_text())
    assert document["kind"] == "rotation" and document["exact"] and document["check"]["agreement"] == 1.0
    assert document["provenance"]["seed"] == 3
    variant = compress.load_variant(out)
    original = optracr.load(out / "original")
    assert variant.apply(["BOS", "a", "b", "a"]).decoded == original.apply(["BOS", "a", "b", "a"]).decoded


def test_compress_writes_the_projection_and_reports_the_fit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "frac_prevs_d6"
    argv = ["compress", "frac_prevs", "--reference-structure", "--d", "6", "--steps", "200",
            "--learning-rate", "1e-2", "--out", str(out), "--progress"]
    assert cli.main(argv) == 0
    captured = capsys.readouterr()
    assert "compress frac_prevs" in captured.err and "200/200" in captured.err  # the tqdm bar
    assert "compression variant (D = 14 -> d = 6, 200 steps" in captured.out
    assert "APPROXIMATE on 1364 inputs" in captured.out or "EXACT on 1364 inputs" in captured.out
    document = json.loads((out / "scrambled.json").read_text())
    assert document["kind"] == "compression" and document["d"] == 6 and document["original_width"] == 14
    assert document["provenance"]["steps"] == 200 and document["provenance"]["options"]["learning_rate"] == 1e-2
    variant = compress.load_variant(out)
    assert variant.scrambling.residual.shape == (14, 6) and not variant.exact


def test_compress_with_a_width_beyond_the_residual_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["compress", "frac_prevs", "--d", "99", "--steps", "10", "--out", str(tmp_path / "x"), "--no-progress"]
    assert cli.main(argv) == 2
    assert "d must be an integer from 1 to the residual width" in capsys.readouterr().err
    assert not (tmp_path / "x").exists()


def test_scramble_parts_can_be_switched_off(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "heads_only"
    argv = ["scramble", "frac_prevs", "--seed", "1", "--no-residual", "--no-mlp", "--out", str(out), "--no-progress"]
    assert cli.main(argv) == 0
    assert "scrambled: heads" in capsys.readouterr().out
    variant = compress.load_variant(out)
    assert variant.scrambling.kind == "identity"
    np.testing.assert_array_equal(variant.weights.token_embed, variant.model.layered.dense().token_embed)


@pytest.mark.parametrize(
    "argv", [["compress", "frac_prevs", "--d", "6", "--steps", "50"], ["scramble", "sort", "--seed", "0"]]
)
def test_no_progress_bar_is_drawn_into_a_log_file_by_default(
    argv: list[str], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli.main([*argv, "--out", str(tmp_path / "variant")]) == 0  # stderr is captured: not a terminal
    assert capsys.readouterr().err == ""
