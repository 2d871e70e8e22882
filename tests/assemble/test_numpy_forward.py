"""The numpy forward (``assemble.dense_forward``) against the jitted Haiku forward and the RASP evaluator.

Every input of each program's vocabulary and length runs through both backends in one padded batch: outputs
and every residual agree to 1e-9, decoding is identical (numerical values to 1e-9), and where the evaluator has an answer it is the
model's (numerical outputs within the stated softmax bound).
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

import optracr
from optracr import assemble, programs, rasp
from optracr.errors import CompileError, EvaluationError

NAMES = ["frac_prevs", "sort", "reverse", "hist", "shuffle_dyck2", "sort_unique", "nary_sequencemap"]


def _every_input(entry: programs.LibraryProgram) -> list[tuple]:
    vocab = sorted(entry.vocab, key=repr)
    return [t for n in range(1, entry.max_seq_len + 1) for t in itertools.product(vocab, repeat=n)]


def _both_traces(model: assemble.CompiledModel, inputs: list[tuple]):
    ids, lengths = model.layered.batch_token_ids([["BOS", *tokens] for tokens in inputs])
    pad_id = model.input_tokens.index(model.pad)
    ours = assemble.dense_forward(model.layered.dense(), ids, pad_id=pad_id, causal=model.layered.causal)
    theirs = model._run_jax(ids)
    return ours, theirs, lengths


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("name", NAMES)
def test_numpy_forward_equals_haiku_and_the_evaluator_on_every_input(name: str, causal: bool) -> None:
    entry = programs.LIBRARY[name]
    if causal and not entry.causal:
        pytest.skip(f"{name} does not mean the same under causal evaluation")
    program = entry.build()
    model = optracr.compile(program, entry.vocab, entry.max_seq_len, causal=causal)
    inputs = _every_input(entry)
    ours, theirs, lengths = _both_traces(model, inputs)
    np.testing.assert_allclose(ours.output, np.asarray(theirs.output), rtol=0, atol=1e-9)
    for mine, haiku in zip(ours.residuals, theirs.residuals, strict=True):
        np.testing.assert_allclose(mine, np.asarray(haiku), rtol=0, atol=1e-9)
    for mine, haiku in zip(ours.attention, theirs.attention, strict=True):
        np.testing.assert_allclose(mine, np.asarray(haiku), rtol=0, atol=1e-9)
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    for row, (tokens, length) in enumerate(zip(inputs, lengths)):
        decoded, haiku = model.decode(ours.output[row, 1:length]), model.decode(np.asarray(theirs.output)[row, 1:length])
        assert decoded == (pytest.approx(haiku, rel=0, abs=1e-9) if numerical else haiku), tokens
        try:
            expected = rasp.evaluate(program, list(tokens), causal=causal)
        except EvaluationError:
            continue
        assert decoded == (pytest.approx(expected, abs=1e-6) if numerical else expected), tokens


@pytest.mark.parametrize("name", ["frac_prevs", "sort"])
def test_apply_runs_numpy_by_default_and_matches_the_jax_backend(name: str) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
    tokens = ["BOS", *sorted(entry.vocab, key=repr)[:3], "PAD"]
    fast = model.apply(tokens)
    assert "_forward" not in model.__dict__  # the default path never built the jitted forward
    jitted = model.apply(tokens, backend="jax")
    assert fast.decoded == jitted.decoded
    for field in ("residuals", "sublayer_outputs", "attention"):
        for mine, haiku in zip(getattr(fast, field), getattr(jitted, field), strict=True):
            np.testing.assert_allclose(mine, haiku, rtol=0, atol=1e-9)
    assert model.apply_batch([tokens], backend="numpy") == model.apply_batch([tokens], backend="jax")


def test_float32_models_run_the_numpy_forward_in_float32() -> None:
    entry = programs.LIBRARY["frac_prevs"]
    model = dataclasses.replace(optracr.compile(entry.build(), entry.vocab, entry.max_seq_len), float64=False)
    result = model.apply(["BOS", "x", "a"])
    assert result.output.dtype == np.float32 and result.residuals[-1].dtype == np.float32
    np.testing.assert_allclose(result.output, model.apply(["BOS", "x", "a"], backend="jax").output, atol=1e-6)


def test_a_model_without_layers_runs_on_embeddings_and_unembedding_only() -> None:
    model = optracr.compile(rasp.Map(lambda t: t.upper(), rasp.tokens).named("upper"), {"a", "b"}, 3)
    assert model.config.num_layers == 0
    assert model.apply(["BOS", "b", "a"]).decoded == ["BOS", "B", "A"]


def test_an_unknown_backend_is_refused_listing_the_valid_ones() -> None:
    model = optracr.compile(rasp.Map(lambda t: t.upper(), rasp.tokens), {"a", "b"}, 3)
    with pytest.raises(CompileError, match="unknown backend 'torch'; use one of auto, numpy, jax"):
        model.apply(["BOS", "a"], backend="torch")


def test_compiling_applying_and_verifying_in_a_fresh_process_never_imports_jax_or_haiku() -> None:
    import os
    import subprocess
    import sys

    script = (
        "import sys, optracr\n"
        "from optracr import programs\n"
        "entry = programs.LIBRARY['sort']\n"
        "model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)\n"
        "model.apply(['BOS', 1, 2]); model.summary()\n"
        "assert optracr.verify(model, entry.build(), num_samples=50).ok\n"
        "print(sorted(name for name in ('jax', 'haiku', 'torch', 'dask', 'distributed') if name in sys.modules))\n"
    )
    root = str(__import__("pathlib").Path(optracr.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": root + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, check=True)
    assert done.stdout.strip() == "[]", done.stderr
