"""TransformerLens 4.x: optracr's bridge, and TL's own Tracr loader fed the reference-style interface."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest

from optracr import export, rasp

torch = pytest.importorskip("torch")  # CI installs the export extra; a bare checkout skips these
tl_tracr = pytest.importorskip("transformer_lens.utilities.tracr")
from transformer_lens.model_bridge import TransformerBridge  # noqa: E402


def _ids_and_mask(bridge, inputs: list[list]) -> tuple:
    """Token ids B x T padded with PAD, and the keep-mask the bridge takes for PAD keys."""
    encoder, length = bridge.input_encoder, max(len(tokens) for tokens in inputs)
    ids = torch.tensor([encoder.encode(tokens + [encoder.pad_token] * (length - len(tokens))) for tokens in inputs])
    return ids, (ids != encoder.pad_encoding).long()


def _decode(bridge, logits: np.ndarray) -> list:
    if isinstance(bridge.output_encoder, export.NumericalEncoder):
        return [float(value) for value in logits[:, 0]]
    classes = list(bridge.output_encoder.encoding_map)
    return [classes[int(np.argmax(row))] if row.max() > 0.5 else None for row in logits]


def _check_exact(bridge, model, inputs, matches) -> None:
    ids, mask = _ids_and_mask(bridge, inputs)
    with torch.no_grad():
        logits = bridge(ids, attention_mask=mask).double().numpy()
    numerical = model.output_encoding == rasp.Encoding.NUMERICAL
    for row, (tokens, want) in enumerate(zip(inputs, model.apply_batch(inputs))):
        assert matches(_decode(bridge, logits[row, 1 : len(tokens)]), want, numerical), tokens


def test_bridge_matches_apply_on_every_input(case, compiled, every_input, matches) -> None:
    model = compiled(*case)
    bridge = export.to_transformer_lens(model)
    assert isinstance(bridge, TransformerBridge)
    assert bridge.residual_labels == list(model.residual_labels) and bridge.output_label == model.output_label
    _check_exact(bridge, model, every_input(model), matches)


def test_bridge_state_dict_is_every_weight_of_the_bridge(compiled) -> None:
    model = compiled("sort", False)
    weights = export.state_dict(model)
    bridge = export.to_transformer_lens(model)
    assert set(weights) == set(bridge.state_dict())
    assert all(torch.equal(bridge.state_dict()[name], tensor) for name, tensor in weights.items())


def test_run_with_cache_exposes_the_residual_stream_by_label(compiled) -> None:
    model = compiled("sort", False)
    bridge = export.to_transformer_lens(model)
    ids, _ = _ids_and_mask(bridge, [[model.bos, 3, 1, 2]])
    _, cache = bridge.run_with_cache(ids)
    final = cache[f"blocks.{model.layered.shape.num_layers - 1}.hook_resid_post"][0].numpy()
    np.testing.assert_allclose(final, model.apply([model.bos, 3, 1, 2]).residuals[-1], atol=1e-9)


def test_saved_bridge_loads_strictly_and_stays_exact(compiled, every_input, matches, tmp_path: Path) -> None:
    model = compiled("frac_prevs", True)
    export.save_transformer_lens(model, tmp_path)
    bridge = export.load_transformer_lens(tmp_path)
    _check_exact(bridge, model, every_input(model)[::5], matches)


def test_transformer_lens_own_tracr_loader_runs_optracr_models(compiled, every_input, matches) -> None:
    model = compiled("sort", False)
    interface = export.reference_model(model)
    bridge = TransformerBridge.boot_native(tl_tracr.make_tracr_transformer_bridge_config(interface))
    result = bridge.load_state_dict(tl_tracr.make_tracr_transformer_bridge_state_dict(interface), strict=False)
    # TL 4.3.0 names the MLP weights fc_in/fc_out, which load, but its strict check wants the aliases
    # mlp.in/mlp.out and an unembedding bias: exactly those are reported missing, nothing else.
    assert all(".mlp.in." in key or ".mlp.out." in key or key.startswith("head.") for key in result.missing_keys)
    assert not result.unexpected_keys
    bridge.input_encoder, bridge.output_encoder = interface.input_encoder, interface.output_encoder
    _check_exact(bridge, model, every_input(model), matches)  # float32, as TL's loader builds it


def test_transformer_lens_own_tracr_loader_refuses_numerical_outputs(compiled) -> None:
    interface = export.reference_model(compiled("frac_prevs", True))
    with pytest.raises(NotImplementedError, match="categorical"):
        tl_tracr.make_tracr_transformer_bridge_config(interface)


def test_loading_a_transformer_lens_export_of_another_format_is_refused(tmp_path: Path) -> None:
    (tmp_path / "transformer_lens.json").write_text('{"format": "something-else"}')
    (tmp_path / "transformer_lens.safetensors").write_bytes(b"")
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(tmp_path / 'transformer_lens.json'))}: field "
                                                    "'format' must be 'optracr-transformer-lens', got 'something-else'"):
        export.load_transformer_lens(tmp_path)


def test_a_damaged_transformer_lens_export_is_refused_naming_the_file(compiled, tmp_path: Path) -> None:
    export.save_transformer_lens(compiled("sort", False), tmp_path)
    weights = tmp_path / "transformer_lens.safetensors"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x10
    weights.write_bytes(bytes(data))
    with pytest.raises(export.ModelFileError, match=f"{re.escape(str(weights))} is damaged or was changed"):
        export.load_transformer_lens(tmp_path)


def test_bridge_logits_equal_the_block_wise_forward_at_every_token(case, compiled, every_input) -> None:
    from optracr import assemble

    model = compiled(*case)
    bridge = export.to_transformer_lens(model)
    inputs = every_input(model)[:300]
    ids, mask = _ids_and_mask(bridge, inputs)
    with torch.no_grad():
        logits = bridge(ids, attention_mask=mask).double().numpy()
    want = assemble.run_forward(model.layered.block_weights(), ids.numpy()).output
    keep = mask.numpy().astype(bool)  # PAD positions are no token's output
    np.testing.assert_allclose(logits[keep], want[keep], rtol=0, atol=1e-9)
