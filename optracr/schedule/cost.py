"""The size of the assembled model: the one parameter-count formula, and the widths a placement implies.

Chosen fusion groups change both: a group's `mlp_hidden_width` replaces its members' own MLP widths in the
layer it sits in, and its `residual_saving` narrows the residual width D (and the part of the fixed
parameters proportional to D).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping

from optracr.schedule import errors
from optracr.schedule import problem as problem_lib


def parameter_count(
    *,
    num_layers: int,
    num_heads: int,
    key_size: int,
    value_size: int,
    mlp_hidden_width: int,
    residual_width: int,
    fixed_parameters: int = 0,
) -> int:
    """Parameters of the assembled model: `fixed + L * (H * 2D(dk + dv) + 2D * M)`, no biases."""
    sizes = dict(num_layers=num_layers, num_heads=num_heads, key_size=key_size, value_size=value_size,
                 mlp_hidden_width=mlp_hidden_width, residual_width=residual_width,
                 fixed_parameters=fixed_parameters)
    for name, size in sizes.items():
        if isinstance(size, bool) or not isinstance(size, int) or size < 0:
            raise errors.ScheduleError(f"parameter_count: {name} must be a non-negative int, got {size!r}.")
    # Per layer: W_Q, W_K (D x dk each) and W_V, W_O (D x dv each) per head; W_in, W_out (D x M each).
    attention = num_heads * 2 * residual_width * (key_size + value_size)
    mlp = 2 * residual_width * mlp_hidden_width
    return fixed_parameters + num_layers * (attention + mlp)


def per_layer_costs(problem: problem_lib.Problem) -> tuple[int, int]:
    """Parameters that one more head (per layer) and one more hidden unit (per layer) cost, per layer."""
    width = problem.residual_width
    return 2 * width * (problem.key_size + problem.value_size), 2 * width


def fused_sizes(problem: problem_lib.Problem, fusion_groups: Iterable[problem_lib.GroupId] = ()) -> tuple[int, int]:
    """(residual width, fixed parameters) of `problem` once the `fusion_groups` (ids) are chosen."""
    saving = problem.residual_saving(fusion_groups)
    return problem.residual_width - saving, problem.fixed_parameters - problem.fixed_parameters_per_dim * saving


@dataclasses.dataclass(frozen=True)
class ModelShape:
    """The widths of the assembled model: layers L, heads H, key and value sizes, MLP width M."""

    num_layers: int
    num_heads: int
    key_size: int
    value_size: int
    mlp_hidden_width: int

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            size = getattr(self, field.name)
            if isinstance(size, bool) or not isinstance(size, int) or size < 0:
                raise errors.ScheduleError(f"ModelShape: {field.name} must be a non-negative int, got {size!r}.")

    def parameter_count(
        self, problem: problem_lib.Problem, fusion_groups: Iterable[problem_lib.GroupId] = ()
    ) -> int:
        """Parameters of a model of this shape for `problem` with the `fusion_groups` (ids) chosen."""
        residual_width, fixed_parameters = fused_sizes(problem, fusion_groups)
        return parameter_count(
            num_layers=self.num_layers,
            num_heads=self.num_heads,
            key_size=self.key_size,
            value_size=self.value_size,
            mlp_hidden_width=self.mlp_hidden_width,
            residual_width=residual_width,
            fixed_parameters=fixed_parameters,
        )


def shape_of(
    problem: problem_lib.Problem,
    sublayer_of: Mapping[problem_lib.BlockId, problem_lib.SublayerIndex],
    fusion_groups: Iterable[problem_lib.GroupId] = (),
) -> ModelShape:
    """The model shape that placing every block of `problem` at `sublayer_of[id]` implies.

    A chosen fusion group (id in `fusion_groups`) adds its `mlp_hidden_width` to the layer of its members
    instead of their own widths (its members share that layer; the first member's layer is taken).
    """
    groups = problem.groups_named(fusion_groups)
    fused = {member for group in groups for member in group.members}
    heads_per_layer: dict[int, int] = {}
    hidden_per_layer: dict[int, int] = {}
    for block in problem.blocks:
        layer = sublayer_of[block.id] // 2
        if block.kind.uses_attention:
            heads_per_layer[layer] = heads_per_layer.get(layer, 0) + block.num_heads
        if block.kind.uses_mlp and block.id not in fused:
            hidden_per_layer[layer] = hidden_per_layer.get(layer, 0) + block.mlp_hidden_width
    for group in groups:
        layer = sublayer_of[group.members[0]] // 2
        hidden_per_layer[layer] = hidden_per_layer.get(layer, 0) + group.mlp_hidden_width
    return ModelShape(
        num_layers=max((sublayer_of[block.id] // 2 + 1 for block in problem.blocks), default=0),
        num_heads=max(heads_per_layer.values(), default=0),
        key_size=problem.key_size,
        value_size=problem.value_size,
        mlp_hidden_width=max(hidden_per_layer.values(), default=0),
    )
