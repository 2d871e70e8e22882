"""``lay_out``: a block graph and its allocation -> the ``LayeredModel`` (assemble's entry function).

Every block's heads go to the attention sublayer of the layer the allocation gives it, its MLP to that
layer's MLP sublayer; each layer's MLPs are combined in craft (``craft.combine_in_parallel``), hidden units
side by side in block order. The residual space is the block graph's (``one``, ``tokens:*``, ``indices:*``,
then every s-op's directions in block order, private scratch right after its block's s-ops).
"""

from __future__ import annotations

import numpy as np

from optracr import craft
from optracr import schedule
from optracr.assemble import layered
from optracr.errors import CompileError

Label = str


def lay_out(block_graph: craft.BlockGraph, allocation: schedule.Allocation) -> layered.LayeredModel:
    """The labelled, layered model that runs ``block_graph`` placed as ``allocation`` says.

    The fusion candidates the allocation chose replace their members (``BlockGraph.realized``); a fused block
    sits in the layer of its members.
    """
    missing = [lowered.id for lowered in block_graph.blocks if lowered.id not in allocation.sublayer_of]
    if missing:
        raise CompileError(missing[0], f"the allocation places no sublayer for blocks {missing[:4]}")
    candidates = {candidate.id: candidate for candidate in block_graph.fusion_candidates}
    chosen = [candidates[name] for name in allocation.fusion_groups if name in candidates]
    layer_of = {lowered.id: sublayer // 2 for lowered, sublayer in _placed(block_graph, allocation)}
    layer_of.update({candidate.id: layer_of[candidate.members[0]] for candidate in chosen})
    head_owner = {  # a fused selector width's head computes that selector width, not the region's other s-ops
        candidate.block.id: member
        for candidate in chosen for member in candidate.members if block_graph.block_by_id[member].heads
    }
    block_graph = block_graph.realized(tuple(candidate.id for candidate in chosen))
    heads: list[list[craft.AttentionHead]] = [[] for _ in range(allocation.num_layers)]
    mlps: list[list[craft.MLP]] = [[] for _ in range(allocation.num_layers)]
    head_indices: dict[str, tuple[int, ...]] = {}
    for lowered in block_graph.blocks:
        layer = layer_of[lowered.id]
        first = len(heads[layer])
        heads[layer].extend(lowered.heads)
        head_indices[lowered.id] = tuple(range(first, len(heads[layer])))
        mlps[layer].extend(lowered.mlps)
    layers = tuple(
        layered.Layer(tuple(layer_heads), craft.combine_in_parallel(tuple(layer_mlps)) if layer_mlps else None)
        for layer_heads, layer_mlps in zip(heads, mlps)
    )
    output_space = block_graph.spaces[block_graph.output_label]
    return layered.LayeredModel(
        residual_space=block_graph.residual_space(),
        input_tokens=craft.input_tokens(block_graph),
        token_embedding=craft.token_embedding(block_graph).magnitudes,
        position_embedding=craft.position_embedding(block_graph).magnitudes,
        layers=layers,
        unembedding=craft.substitute_linear(
            craft.Linear(output_space, output_space, np.eye(output_space.num_dims)),
            craft.substitution_of(block_graph.folds),
        ),
        output_label=block_graph.output_label,
        output_encoding=block_graph.output_encoding,
        bos=block_graph.bos,
        pad=block_graph.pad,
        max_seq_len=block_graph.max_seq_len,
        causal=block_graph.causal,
        shape=allocation.shape,
        allocation=allocation,
        locations=_locations(block_graph, layer_of, layers, head_indices, chosen, head_owner),
    )


def _placed(block_graph: craft.BlockGraph, allocation: schedule.Allocation) -> list[tuple[craft.LoweredBlock, int]]:
    return [(lowered, allocation.sublayer_of[lowered.id]) for lowered in block_graph.blocks]


def _affine_fields(lowered: craft.LoweredBlock) -> dict[str, tuple]:
    """Which s-ops feed the affine combination the block's MLP discretises, and their coefficients."""
    if lowered.combination is None:
        return {}
    terms = lowered.combination.terms
    return {"affine_inputs": tuple(t.label for t in terms), "affine_coefficients": tuple(t.coefficient for t in terms)}


def _locations(
    block_graph: craft.BlockGraph,
    layer_of: dict[str, int],
    layers: tuple[layered.Layer, ...],
    head_indices: dict[str, tuple[int, ...]],
    chosen: list[craft.FusionCandidate],
    head_owner: dict[str, Label],
) -> dict[Label, layered.SopLocation]:
    """Where each computed s-op is computed (sublayer, heads, hidden units) and stored (directions)."""
    locations = {}
    internal = {candidate.block.id: candidate.internal for candidate in chosen}
    members = {candidate.block.id: candidate.members for candidate in chosen}
    for lowered in block_graph.blocks:
        layer_number = layer_of[lowered.id]
        layer = layers[layer_number]
        units: tuple[int, ...] = ()
        if lowered.mlps and layer.mlp is not None:
            hidden = layer.mlp.hidden_space
            units = tuple(hidden.index(unit) for mlp in lowered.mlps for unit in mlp.hidden_space.basis)
        for label in (*lowered.writes, *internal.get(lowered.id, ())):
            stored = block_graph.spaces[label].basis if label in lowered.writes else ()
            locations[label] = layered.SopLocation(
                label=label,
                block=lowered.id,
                layer=layer_number,
                sublayer=2 * layer_number + (1 if lowered.mlps else 0),
                heads=head_indices[lowered.id] if head_owner.get(lowered.id, label) == label else (),
                mlp_units=units,
                directions=tuple(str(direction) for direction in stored),
                fused_with=members.get(lowered.id, ()),
                **_affine_fields(lowered),
            )
    for label, fold in block_graph.folds.items():
        sources = {str(source) for sums in fold.expressions.values() for source in sums}
        locations[label] = layered.SopLocation(
            label=label, block=None, layer=None, sublayer=None, folded_into=fold.readers,
            folded_from=tuple(sorted(sources)),
        )
    return locations
