"""Regenerates `reference_allocations.json` with the reference Tracr (not an optracr dependency).

Run with a Python that has `tracr` installed (e.g. `pip install tracr-pypi einops chex` in a scratch venv):
    python tests/schedule/data/extract_reference_allocations.py > tests/schedule/data/reference_allocations.json
For each program it records the model blocks (kind, widths, the blocks each reads through selectors), the
reference's sublayer for each block and the shape of the model the reference assembles.
"""

import json
import sys

import networkx as nx
from tracr.compiler import basis_inference
from tracr.compiler import craft_graph_to_model
from tracr.compiler import craft_model_to_transformer
from tracr.compiler import expr_to_craft_graph
from tracr.compiler import lib
from tracr.compiler import nodes
from tracr.compiler import rasp_to_graph
from tracr.craft import bases
from tracr.craft import transformers
from tracr.rasp import rasp

MAX_SEQ_LEN = 5
PAIRS = ["()", "{}", "[]", "<>", "ab", "cd"]
PROGRAMS = {
    "reverse": (lambda: lib.make_reverse(rasp.tokens), {"a", "b", "c", "d"}),
    "sort": (lambda: lib.make_sort(rasp.tokens, rasp.tokens, max_seq_len=MAX_SEQ_LEN, min_key=1), {1, 2, 3, 4}),
    "sort_freq": (lambda: lib.make_sort_freq(max_seq_len=MAX_SEQ_LEN), {1, 2, 3, 4}),
    "hist": (lib.make_hist, {"a", "b", "c", "d"}),
    "sort_unique": (lambda: lib.make_sort_unique(rasp.tokens, rasp.tokens), {1, 2, 3, 4}),
    "frac_prevs": (lambda: lib.make_frac_prevs(rasp.tokens == "x"), {"x", "y"}),
    "count_less_freq": (lambda: lib.make_count_less_freq(2), {"a", "b", "c", "d"}),
    **{
        f"shuffle_dyck{k}": (lambda k=k: lib.make_shuffle_dyck(PAIRS[:k]), set("".join(PAIRS[:k])))
        for k in range(2, 7)
    },
}


def block_kind(node):
    block = node.get(nodes.MODEL_BLOCK)
    if isinstance(block, transformers.SeriesWithResiduals):
        return "ATTN_MLP"
    if isinstance(block, transformers.MLP):
        return "MLP"
    if isinstance(block, (transformers.AttentionHead, transformers.MultiAttentionHead)):
        return "ATTN"
    return None


def block_widths(block):
    heads, hidden, key_size, value_size = 0, 0, 0, 0
    parts = block.blocks if isinstance(block, transformers.SeriesWithResiduals) else [block]
    for part in parts:
        if isinstance(part, transformers.MLP):
            hidden += part.fst.output_space.num_dims
            continue
        for head in part.as_multi().heads():
            heads += 1
            key_size = max(key_size, max(head.w_qk.matrix.shape))
            value_size = max(value_size, head.w_ov.matrix.shape[0])
    return dict(num_heads=heads, mlp_hidden_width=hidden, key_size=key_size, value_size=value_size)


def block_inputs(graph, node_id):
    """The nearest model blocks upstream of `node_id`, reading through selectors."""
    inputs, stack, seen = set(), list(graph.predecessors(node_id)), set()
    while stack:
        other = stack.pop()
        if other in seen:
            continue
        seen.add(other)
        if block_kind(graph.nodes[other]) is not None:
            inputs.add(other)
        else:
            stack.extend(graph.predecessors(other))
    return sorted(inputs)


def extract(make, vocab):
    extracted = rasp_to_graph.extract_rasp_graph(make())
    graph = extracted.graph
    basis_inference.infer_bases(graph, extracted.sink, vocab, MAX_SEQ_LEN)
    expr_to_craft_graph.add_craft_components_to_rasp_graph(
        graph, bos_dir=bases.BasisDirection(rasp.tokens.label, "compiler_bos"), mlp_exactness=100
    )
    blocks = [
        dict(id=node_id, kind=block_kind(graph.nodes[node_id]),
             **block_widths(graph.nodes[node_id][nodes.MODEL_BLOCK]),
             depends_on=block_inputs(graph, node_id))
        for node_id in nx.topological_sort(graph)
        if block_kind(graph.nodes[node_id]) is not None
    ]
    sublayers = craft_graph_to_model._allocate_modules_to_layers(graph, extracted.sources)
    craft_model = craft_graph_to_model.craft_graph_to_model(graph, extracted.sources)
    config, _ = craft_model_to_transformer.assemble._get_model_config_and_module_names(craft_model)
    return dict(
        blocks=blocks,
        residual_width=craft_model.residual_space.num_dims,
        reference_sublayers={block["id"]: sublayers[block["id"]] for block in blocks},
        reference_num_layers=config.num_layers,
        reference_num_heads=config.num_heads,
        reference_mlp_hidden_width=config.mlp_hidden_size,
    )


if __name__ == "__main__":
    json.dump({name: extract(*spec) for name, spec in PROGRAMS.items()}, sys.stdout, indent=1)
    sys.stdout.write("\n")
