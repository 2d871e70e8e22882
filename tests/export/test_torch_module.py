"""``export.to_torch``: a plain torch module equal to the block-wise forward, with TransformerLens's hook points."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

import optracr
from optracr import assemble, export, rasp
from optracr.errors import CompileError, InputError

torch = pytest.importorskip("torch")  # the torch extra (or the export extra) installs it; a bare checkout skips

TOLERANCE = 1e-12  # float64: the two forwards sum in different orders


def _numpy_forward(model: optracr.CompiledModel, token_ids: np.ndarray, weights=None) -> assemble.ForwardTrace:
    """The block-wise forward (the definition every backend is tested against)."""
    return assemble.run_forward(weights or model.layered.block_weights(), token_ids)


def test_forward_equals_the_numpy_forward_on_every_input_padded_into_one_batch(case, compiled, every_input) -> None:
    model = compiled(*case)
    module = export.to_torch(model)
    assert isinstance(module, torch.nn.Module)
    inputs = every_input(model)
    token_ids = module.encode(inputs)
    assert (token_ids == module.pad_id).any()  # shorter inputs are padded with PAD, masked as keys
    with torch.no_grad():
        output = module(token_ids).numpy()
    np.testing.assert_allclose(output, _numpy_forward(model, token_ids.numpy()).output, rtol=0, atol=TOLERANCE)
    decoded, want = module.apply_batch(inputs), model.apply_batch(inputs)
    if model.output_encoding == rasp.Encoding.NUMERICAL:
        assert all(np.allclose(got, expected, rtol=0, atol=TOLERANCE) for got, expected in zip(decoded, want))
    else:
        assert decoded == want


def test_hook_points_carry_what_the_numpy_forward_computes(case, compiled) -> None:
    model = compiled(*case)
    module = export.to_torch(model)
    tokens = [model.bos, *[t for t in model.input_tokens if t not in (model.bos, model.pad)][:3]]
    result = model.apply(tokens)
    _, cache = module.run_with_cache(module.encode([tokens]))
    ids = model.encode(tokens)
    dense = model.layered.dense()
    expected = {"hook_embed": dense.token_embed[ids], "hook_pos_embed": dense.pos_embed[: len(ids)]}
    for layer in range(len(dense.layers)):
        expected |= {
            f"blocks.{layer}.hook_resid_pre": result.residuals[2 * layer],
            f"blocks.{layer}.attn.hook_pattern": result.attention[layer],
            f"blocks.{layer}.hook_attn_out": result.sublayer_outputs[2 * layer],
            f"blocks.{layer}.hook_resid_mid": result.residuals[2 * layer + 1],
            f"blocks.{layer}.hook_mlp_out": result.sublayer_outputs[2 * layer + 1],
            f"blocks.{layer}.hook_resid_post": result.residuals[2 * layer + 2],
        }
    assert set(expected) <= set(cache)
    for name, array in expected.items():
        np.testing.assert_allclose(cache[name][0].numpy(), array, rtol=0, atol=TOLERANCE, err_msg=name)


def test_a_forward_hook_that_returns_a_tensor_patches_the_activation(compiled) -> None:
    model = compiled("sort", False)
    module = export.to_torch(model)
    # layer 1's attention computes target_pos (layer 0 has no head)
    module.blocks[1].hook_attn_out.register_forward_hook(lambda hook, inputs, output: torch.zeros_like(output))
    token_ids = module.encode([[model.bos, 3, 1, 2], [model.bos, 2, 1]])
    with torch.no_grad():
        patched = module(token_ids).numpy()
    weights = model.layered.block_weights()  # the same ablation block-wise: layer 1's heads write nothing
    silent = dataclasses.replace(weights.layers[1], heads=tuple(
        dataclasses.replace(head, w_ov=np.zeros_like(head.w_ov)) for head in weights.layers[1].heads))
    ablated = dataclasses.replace(weights, layers=(weights.layers[0], silent, *weights.layers[2:]))
    want = _numpy_forward(model, token_ids.numpy(), ablated).output
    np.testing.assert_allclose(patched, want, rtol=0, atol=TOLERANCE)
    assert not np.allclose(patched, _numpy_forward(model, token_ids.numpy()).output)


def test_weights_are_held_under_transformer_lens_names_and_layouts(compiled) -> None:
    model = compiled("sort", False)
    dense = model.layered.dense()
    weights = export.to_torch(model).state_dict()
    heads, width = dense.num_heads, len(model.residual_labels)
    assert weights["embed.W_E"].shape == (len(model.input_tokens), width)
    assert weights["pos_embed.W_pos"].shape == (model.layered.max_seq_len + 1, width)
    assert weights["blocks.1.attn.W_Q"].shape == (heads, width, dense.key_size)
    assert weights["blocks.1.attn.W_O"].shape == (heads, dense.value_size, width)
    for head in range(heads):  # head h's query columns, and its rows of the output map
        columns = slice(head * dense.key_size, (head + 1) * dense.key_size)
        assert np.array_equal(weights["blocks.1.attn.W_Q"][head].numpy(), dense.layers[1].query[:, columns])
        rows = slice(head * dense.value_size, (head + 1) * dense.value_size)
        assert np.array_equal(weights["blocks.1.attn.W_O"][head].numpy(), dense.layers[1].output[rows])
    assert np.array_equal(weights["blocks.0.mlp.W_in"].numpy(), dense.layers[0].mlp_in)
    assert np.array_equal(weights["unembed.W_U"].numpy(), dense.unembed)
    assert all(tensor.dtype == torch.float64 for tensor in weights.values())
    assert len(weights) == 3 + 6 * len(dense.layers)


def test_float32_decodes_as_optracrs_own_float32_forward(compiled, every_input) -> None:
    for name, causal in (("sort", False), ("frac_prevs", True)):
        model = compiled(name, causal)
        module = export.to_torch(model, dtype=torch.float32)
        assert module.embed.W_E.dtype == torch.float32
        inputs = every_input(model)[::3]
        want = assemble.CompiledModel(model.layered, float64=False).apply_batch(inputs)
        got = module.apply_batch(inputs)
        if model.output_encoding == rasp.Encoding.NUMERICAL:
            assert all(np.allclose(g, w, rtol=0, atol=1e-5) for g, w in zip(got, want))
        else:
            assert got == want


def test_a_loaded_model_converts_like_the_original(compiled, tmp_path) -> None:
    model = compiled("hist", False)
    loaded = optracr.load(optracr.save(model, tmp_path))
    original, again = export.to_torch(model).state_dict(), export.to_torch(loaded).state_dict()
    assert all(torch.equal(original[name], again[name]) for name in original)


def test_bad_inputs_and_options_are_refused_with_what_works(compiled) -> None:
    model = compiled("sort", False)
    module = export.to_torch(model)
    with pytest.raises(CompileError, match="dtype must be torch.float64 or torch.float32, got torch.float16"):
        export.to_torch(model, dtype=torch.float16)
    with pytest.raises(InputError, match=r"token_ids have 7 positions, but this model takes at most 6 \(BOS and "
                                         r"max_seq_len = 5 tokens\)"):
        module(torch.zeros(1, 7, dtype=torch.long))
    with pytest.raises(InputError, match=r"token ids must lie in 0..\d+ \(the input tokens .*\), got 0..99"):
        module(torch.tensor([[0, 99]]))
    with pytest.raises(InputError, match="token_ids must be integer ids, B x T or T, got .1, 2. of torch.float64"):
        module(torch.zeros(1, 2, dtype=torch.float64))
    with pytest.raises(InputError, match="an input must start with the BOS token"):
        module.encode([[3, 1]])
    with pytest.raises(CompileError, match="no hook point 'blocks.9.hook_resid_pre'; hook points are hook_embed, "):
        module.run_with_cache(module.encode([[model.bos, 1]]), names=["blocks.9.hook_resid_pre"])


def test_a_one_dimensional_input_is_one_row() -> None:
    model = optracr.compile(rasp.Map(lambda t: t == "a", rasp.tokens).named("is_a"), {"a", "b"}, 3)
    module = export.to_torch(model)
    ids = module.encode([[model.bos, "a", "b"]])
    with torch.no_grad():
        assert torch.equal(module(ids[0]), module(ids))
    assert module.apply_batch([[model.bos, "a", "b"]]) == [[True, False]]


def test_to_torch_imports_torch_but_not_transformer_lens() -> None:
    script = (
        "import sys, optracr\n"
        "from optracr import export, rasp\n"
        "model = optracr.compile(rasp.Map(lambda t: t == 'a', rasp.tokens), {'a', 'b'}, 3)\n"
        "assert export.to_torch(model).apply_batch([['BOS', 'a']]) == [[True]]\n"
        "print(sorted(name for name in ('torch', 'transformer_lens', 'transformers') if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "['torch']"
