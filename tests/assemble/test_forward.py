"""The block-wise forward (``assemble.run_forward``, what ``apply`` runs) against the jitted Haiku forward and the
RASP evaluator.

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
    ours = assemble.run_forward(model.layered.block_weights(), ids)
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


@pytest.mark.parametrize("seed", range(6))
def test_block_wise_forward_equals_haiku_on_generated_programs(seed: int) -> None:
    from optracr import generate

    generated = generate.generate(seed, num_sops=12)
    model = optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator="heuristic",
                            causal=generated.causal)
    inputs = [tokens for n in range(1, generated.max_seq_len + 1)
              for tokens in itertools.islice(itertools.product(sorted(generated.vocab, key=repr), repeat=n), 40)]
    ours, theirs, _ = _both_traces(model, inputs)
    for field in ("output", "residuals", "sublayer_outputs", "attention"):
        mine, haiku = getattr(ours, field), getattr(theirs, field)
        for a, b in zip(*((mine, haiku) if isinstance(mine, tuple) else ((mine,), (haiku,))), strict=True):
            np.testing.assert_allclose(a, np.asarray(b), rtol=0, atol=1e-9, err_msg=f"seed {seed}: {field}")


def test_apply_summary_and_parameter_counts_build_no_padded_array() -> None:
    entry = programs.LIBRARY["sort"]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len)
    model.apply(["BOS", 3, 1, 2]), model.apply_batch([["BOS", 1], ["BOS", 2, 2]]), model.summary()
    assert "_dense" not in model.layered.__dict__  # only the backends that need padded arrays build them


@pytest.mark.parametrize("name", sorted(programs.LIBRARY))
def test_parameter_counts_from_the_shape_and_the_blocks_equal_the_padded_arrays(name: str) -> None:
    entry = programs.LIBRARY[name]
    model = optracr.compile(entry.build(), entry.vocab, entry.max_seq_len, allocator="heuristic")
    total, nonzero = model.params_total, model.params_nonzero
    arrays = model.layered.dense().arrays()
    assert total == sum(array.size for array in arrays.values())
    assert nonzero == sum(int(np.count_nonzero(array)) for array in arrays.values())
    by_block = model.layered.nonzeros_by_block
    for number, layer in enumerate(model.layered.dense().layers):
        mlp = int(np.count_nonzero(layer.mlp_in)) + int(np.count_nonzero(layer.mlp_out))
        assert by_block.get(f"layers.{number}.mlp", 0) == mlp
        heads = sum(int(np.count_nonzero(getattr(layer, part))) for part in ("query", "key", "value", "output"))
        assert sum(count for key, count in by_block.items() if key.startswith(f"layers.{number}.heads.")) == heads


def test_the_one_mask_allows_bos_always_never_pad_and_no_later_key_when_causal() -> None:
    from optracr import craft

    is_pad = np.array([[False, False, True, False]])  # a PAD before a token: the mask still never lets it be read
    plain = craft.attention_mask(is_pad, causal=False)[0]
    assert plain.tolist() == [[True, True, False, True]] * 4
    causal = craft.attention_mask(is_pad, causal=True)[0]
    assert causal.tolist() == [[True, False, False, False], [True, True, False, False],
                               [True, True, False, False], [True, True, False, True]]
    assert craft.attention_mask(np.array([True, True]), causal=False)[:, 0].all()  # BOS (key 0) never masked
