"""A model with one weight perturbed: wherever enumeration finds a wrong output, the certificate is NOT PROVED and
names the perturbed block (so a bug in a construction cannot hide behind the certificate)."""

from __future__ import annotations

import numpy as np
import pytest

import optracr
from optracr import programs


def _perturbations(model: optracr.CompiledModel, every: bool) -> list[tuple[str, int | None, int | None, float]]:
    """Single-weight changes: a W_QK scaled down, a W_OV entry and MLP units changed, the unembedding (``every``:
    for every head and a few units of every layer; else one of each kind)."""
    found = []
    for layer, weights in enumerate(model.layered.layers):
        for head in range(len(weights.heads)):
            found += [("scale_qk", layer, head, 0.05), ("scale_ov", layer, head, 0.4)]
        if weights.mlp is not None:
            width = weights.mlp.hidden_width
            for unit in sorted({0, width // 2, width - 1}):
                found += [("drop_unit", layer, unit, 0.0), ("shift_bias", layer, unit, 1.0)]
    found.append(("unembed", None, None, 0.3))
    if every:
        return found
    firsts: dict[str, tuple] = {}
    for perturbation in found:
        firsts.setdefault(perturbation[0], perturbation)
    return list(firsts.values())


def _unit_writes(model: optracr.CompiledModel, layer: int, unit: int) -> set[str]:
    """The s-ops hidden unit ``unit`` of ``layer`` writes in the unperturbed model."""
    mlp = model.layered.layers[layer].mlp
    return {mlp.output_space.basis[column].name for column in np.flatnonzero(mlp.snd.matrix[unit])}


def _names(model, block, kind: str, layer: int | None, index: int | None) -> bool:
    if block is None:
        return False
    if kind == "unembed":
        return block.kind == "unembedding"
    if kind in ("scale_qk", "scale_ov"):
        return block.layer == layer and index in block.heads
    if block.kind == "missing":
        return block.writes[0] in _unit_writes(model, layer, index)
    return block.layer == layer and (index in block.units or bool(set(block.writes) & _unit_writes(
        model, layer, index)))


def _check(mode: str, every: bool, library_model, perturb) -> tuple[set[str], int]:
    """Perturbs every library model; returns the models with a perturbation enumeration catches, and how many."""
    models_caught, caught = set(), 0
    for name in sorted(programs.LIBRARY):
        model = library_model(name, mode)
        for kind, layer, index, factor in _perturbations(model, every):
            changed = perturb(model, kind, layer, index, factor)
            report = optracr.verify(changed, model.program, num_samples=300)
            if report.num_mismatches == 0:
                continue
            certificate = optracr.certify(changed, float32=False, search_seconds=0.02)
            where = f"{name} ({mode}) with {kind} at layer {layer}, index {index}"
            assert not certificate.proved, f"{where}: enumeration finds {report}\nbut certify says\n{certificate}"
            assert _names(model, certificate.blamed, kind, layer, index), f"{where}: blamed {certificate.blamed}"
            models_caught.add(name)
            caught += 1
    return models_caught, caught


@pytest.mark.parametrize("mode", ["default", "reference"])
def test_a_perturbation_enumeration_catches_is_not_proved_and_blamed_on_its_block(
    mode: str, library_model, perturb
) -> None:
    models_caught, caught = _check(mode, False, library_model, perturb)
    assert len(models_caught) >= 15 and caught >= 30, (sorted(models_caught), caught)


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["default", "reference"])
def test_every_perturbation_enumeration_catches_is_not_proved_and_blamed_on_its_block(
    mode: str, library_model, perturb
) -> None:
    models_caught, caught = _check(mode, True, library_model, perturb)
    assert len(models_caught) >= 20 and caught >= 100, (sorted(models_caught), caught)
