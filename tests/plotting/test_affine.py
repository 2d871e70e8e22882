"""The affine picture shows, per MLP that discretises t, the s-ops feeding t and their coefficients, as the
model's ground truth records them; the coefficients are checked against the MLP's own first-layer weights."""

from __future__ import annotations

import numpy as np
import pytest

from optracr import plotting
from optracr.errors import CompileError


def test_shuffle_dyck2_separates_its_two_balances_with_a_small_lambda(compiled) -> None:
    _, model = compiled("shuffle_dyck2")
    plan = plotting.affine_plan(model)
    balances = [panel for panel in plan.panels if panel.inputs == ("balance_()", "balance_{}")]
    assert len(balances) == 2 and all(panel.layer == 0 for panel in balances)
    for panel in balances:
        # lambda = 1/80: small enough that t orders every pair by balance_() first (its values are k/n, n <= 5)
        assert panel.coefficients[0] == 1.0 and panel.coefficients[1] == pytest.approx(1 / 80)
    figure = plotting.affine_figure(model)
    assert len(figure.axes) == len(plan.panels)
    assert [axis.get_yticklabels()[0].get_text() for axis in figure.axes][:2] == ["balance_()", "balance_()"]


def test_the_coefficients_are_the_ratios_of_the_mlp_weights(compiled) -> None:
    """Every step unit reads balance_{} with lambda times its weight on balance_() (before the BOS silencer)."""
    _, model = compiled("shuffle_dyck2")
    panel = next(p for p in plotting.affine_plan(model).panels if p.inputs == ("balance_()", "balance_{}"))
    layer = model.layered.layers[panel.layer]
    location = model.layered.locations[panel.sops[0]]
    w_in = layer.mlp.fst
    units = np.array(location.mlp_units)
    # balance_() = opens#2 - closes#2 and balance_{} = opens - closes (folded): lambda = w(opens) / w(opens#2)
    by_name = {d.name: w_in.input_space.index(d) for d in w_in.input_space.basis}
    first, second = w_in.matrix[by_name["opens#2"], units], w_in.matrix[by_name["opens"], units]
    live = first != 0.0
    np.testing.assert_allclose(second[live] / first[live], panel.coefficients[1], rtol=1e-9)


def test_a_model_without_affine_combinations_is_refused_with_a_reason(compiled) -> None:
    _, model = compiled("frac_prevs")
    with pytest.raises(CompileError, match="no MLP of this model discretises an affine combination"):
        plotting.affine_figure(model)
