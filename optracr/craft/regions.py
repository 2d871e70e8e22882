"""Fusion candidates: regions of MLP blocks that one hidden layer can compute, with the block that would.

A region is a connected set of MLP blocks (Maps and SequenceMaps that were not folded), optionally led by one
selector width whose MLP half joins it (its head stays in the attention sublayer before). The region must be
convex (no path between two members leaves it: nothing outside may have to run between them), its
categorical inputs from outside must always hold a value (an absent input switches a fused MLP off as a
whole, while one member alone might still have written), and it may read at most one numerical input (a
selector width's scratch counts as one). ``fusion.fused_mlp`` builds the one MLP from the region's external
inputs straight to every member that is read outside it; the members read only inside are not stored.

Candidates are enumerated by growing connected sets up to ``MAX_MEMBERS`` members, the widest no wider than
the cap; the scheduler decides which (disjoint) candidates to use, since a fusion saves sublayers but may
cost hidden units.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Hashable, Mapping, Sequence

import networkx as nx

from optracr import errors
from optracr import frontend
from optracr.craft import affine
from optracr.craft import bases
from optracr.craft import block_graph as block_graph_lib
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import folding
from optracr.craft import fusion
from optracr.craft import selector_width

rasp = frontend.rasp
Label = str
_Applied = dict[tuple[Label, tuple], Hashable]  # (member, its arguments' value keys) -> its value
MAX_MEMBERS = 5
MAX_CANDIDATES = 400
MIN_WIDTH_CAP = 256
WIDTH_CAP_FACTOR = 4


@dataclasses.dataclass(frozen=True)
class RegionContext:
    """What building candidates needs from lowering."""

    program_graph: frontend.ProgramGraph
    blocks: tuple[block_graph_lib.LoweredBlock, ...]  # after folding
    folds: Mapping[Label, folding.Fold]
    spaces: Mapping[Label, bases.VectorSpaceWithBasis]
    scratch_spaces: Mapping[str, bases.VectorSpaceWithBasis]
    error_bounds: Mapping[Label, float]
    selector_errors: Mapping[Label, float]  # per selector width: its query and key error (L1)
    bos_direction: bases.BasisDirection
    affine_combinations: bool = True  # offer the discretising MLP on an affine combination of the inputs


def width_cap(lowered: Sequence[block_graph_lib.LoweredBlock]) -> int:
    """The default cap on a fused MLP: 4 x the widest unfused MLP block, and at least 256."""
    return max(WIDTH_CAP_FACTOR * max((block.mlp_hidden_width for block in lowered), default=0), MIN_WIDTH_CAP)


def candidates(context: RegionContext, *, cap: int) -> tuple[block_graph_lib.FusionCandidate, ...]:
    """Every fusable region of the block graph (up to ``MAX_CANDIDATES``), each with its fused block."""
    graph = _block_graph(context)
    found: list[block_graph_lib.FusionCandidate] = []
    applied: _Applied = {}  # overlapping regions share members: each member's function runs once per argument
    for region in _regions(graph, context):
        candidate = _candidate(region, context, cap, applied)
        if candidate is not None:
            found.append(candidate)
        if len(found) >= MAX_CANDIDATES:
            break
    return tuple(found)


def _kind(context: RegionContext, block: block_graph_lib.LoweredBlock) -> str | None:
    expr = context.program_graph.expr(block.id)
    if isinstance(expr, rasp.SelectorWidth):
        return "selector_width"
    if isinstance(expr, (rasp.Map, rasp.SequenceMap)) and not block.heads:
        return "map"
    return None


def _block_graph(context: RegionContext) -> nx.DiGraph:
    """Blocks (by id) with an edge writer -> reader for every value one block reads of another."""
    graph = nx.DiGraph()
    writer = {label: block.id for block in context.blocks for label in block.writes}
    for block in context.blocks:
        graph.add_node(block.id)
        graph.add_edges_from((writer[read], block.id) for read in block.reads if read in writer)
    return graph


def _regions(graph: nx.DiGraph, context: RegionContext) -> list[frozenset[str]]:
    """Connected, convex sets of fusable blocks with 2..MAX_MEMBERS members, in a deterministic order."""
    order = {block.id: index for index, block in enumerate(context.blocks)}
    fusable = {block.id for block in context.blocks if _kind(context, block) is not None}
    neighbours = {
        node: sorted((set(graph.predecessors(node)) | set(graph.successors(node))) & fusable, key=order.get)
        for node in fusable
    }
    seen: set[frozenset[str]] = set()
    frontier = [frozenset([node]) for node in sorted(fusable, key=order.get)]
    regions = []
    while frontier:
        grown = []
        for region in frontier:
            for member in sorted(region, key=order.get):
                for neighbour in neighbours[member]:
                    bigger = region | {neighbour}
                    if neighbour in region or bigger in seen:
                        continue
                    seen.add(bigger)
                    if _convex(graph, bigger) and _one_leading_selector_width(graph, bigger, context):
                        regions.append(bigger)
                        if len(bigger) < MAX_MEMBERS:
                            grown.append(bigger)
        frontier = grown
        if len(regions) > 4 * MAX_CANDIDATES:
            break
    return regions


def _convex(graph: nx.DiGraph, region: frozenset[str]) -> bool:
    after = set().union(*(nx.descendants(graph, member) for member in region)) - region
    before = set().union(*(nx.ancestors(graph, member) for member in region)) - region
    return not (after & before)


def _one_leading_selector_width(graph: nx.DiGraph, region: frozenset[str], context: RegionContext) -> bool:
    widths = [m for m in region if isinstance(context.program_graph.expr(m), rasp.SelectorWidth)]
    return len(widths) <= 1 and all(not (nx.ancestors(graph, width) & region) for width in widths)


# --------------------------------------------------------------------------------------- one region
def _candidate(
    region: frozenset[str], context: RegionContext, cap: int, applied: _Applied
) -> block_graph_lib.FusionCandidate | None:
    graph = context.program_graph
    members = tuple(block.id for block in context.blocks if block.id in region)
    evaluated = _evaluated(members, context)
    externals = _externals(evaluated, members, context)
    outputs = _outputs(members, evaluated, context)
    if not _absence_reaches_every_output(externals, outputs, evaluated, context):
        return None
    inputs = [_fused_input(label, label in members, context) for label in externals]
    fused_outputs = [
        fusion.FusedOutput(label, context.spaces[label], graph.encoding(label) == rasp.Encoding.NUMERICAL)
        for label in outputs
    ]
    function = _RegionValues(evaluated, externals, set(members), outputs, graph, applied)
    name = "fused:" + "+".join(members)
    try:
        units = fusion.fused_units(
            inputs, fused_outputs, function, name=name, affine_combinations=context.affine_combinations,
            width_cap=cap,
        )
    except errors.CompileError:
        return None  # several numerical inputs, or gaps too fine for their error: not fusable
    if units.width > cap:
        return None
    needed = _needed_outside(evaluated, context)
    widths = [m for m in members if isinstance(graph.expr(m), rasp.SelectorWidth)]
    return block_graph_lib.FusionCandidate(
        id=name,
        members=members,
        mlp_hidden_width=units.width,
        internal=tuple(label for label in evaluated if label not in outputs and label not in needed),
        build=functools.partial(_fused_block, name, members, outputs, units, externals, context),
        scratch=context.scratch_spaces[widths[0]] if widths else None,
    )


def _evaluated(members: tuple[str, ...], context: RegionContext) -> tuple[Label, ...]:
    """Members and the folded s-ops between them (read inside, computed from members), in topological order.

    A member that reads a fold of another member cannot read it from the residual in the same sublayer, so the
    region computes that fold itself; a fold of outside s-ops only is an input like any other.
    """
    graph, inside = context.program_graph, set(members)
    order = graph.topological_labels()
    for label in reversed(order):
        fold = context.folds.get(label)
        if fold is not None and set(fold.sources) & set(members) and set(graph.readers(label)) & inside:
            inside.add(label)
    return tuple(label for label in order if label in inside)


def _children(label: Label, graph: frontend.ProgramGraph) -> list[Label]:
    expr = graph.expr(label)
    if isinstance(expr, rasp.Map):
        return [graph.label_of(expr.inner)]
    if isinstance(expr, rasp.SequenceMap):
        return [graph.label_of(expr.fst), graph.label_of(expr.snd)]
    return []  # a selector width's MLP half reads its scratch, an input of the region


def _externals(evaluated: tuple[Label, ...], members: tuple[str, ...], context: RegionContext) -> list[Label]:
    """The region's inputs from outside (a selector width member stands for its scratch direction)."""
    graph, inside = context.program_graph, set(evaluated)
    externals: list[Label] = []
    for label in evaluated:
        if isinstance(graph.expr(label), rasp.SelectorWidth):
            externals.append(label)
        externals += [child for child in _children(label, graph) if child not in inside]
    return list(dict.fromkeys(externals))


def _absence_reaches_every_output(
    externals: list[Label], outputs: list[Label], evaluated: tuple[Label, ...], context: RegionContext
) -> bool:
    """Whether every output depends on every input that may be absent.

    An absent categorical input switches the whole fused MLP off; unfused, each lookup that reads an absent
    input writes nothing, and that absence passes down the chain, so the two agree exactly when every output
    is downstream of every input that may be absent (numerical s-ops never depend on one: validate refuses it).
    """
    graph = context.program_graph
    inside = set(evaluated)
    for external in externals:
        if external in inside or graph.encoding(external) != rasp.Encoding.CATEGORICAL:
            continue
        if not graph.may_be_none(external):
            continue
        reached, stack = set(), [external]
        while stack:
            for reader in graph.readers(stack.pop()):
                if reader in inside and reader not in reached:
                    reached.add(reader)
                    stack.append(reader)
        if not set(outputs) <= reached:
            return False
    return True


def _needed_outside(evaluated: tuple[Label, ...], context: RegionContext) -> set[Label]:
    """What the region computes that something outside reads (a block, a selector, or as the output)."""
    graph, inside = context.program_graph, set(evaluated)
    return {label for label in evaluated if label == graph.sink or set(graph.readers(label)) - inside}


def _outputs(members: tuple[str, ...], evaluated: tuple[Label, ...], context: RegionContext) -> list[Label]:
    """Members the fused block must store: those read outside, and the sources of folds read outside."""
    stored: set[Label] = set()
    for label in _needed_outside(evaluated, context):
        stored |= set(context.folds[label].sources) if label in context.folds else {label}
    return [member for member in members if member in stored]


def _fused_input(label: Label, member: bool, context: RegionContext) -> fusion.FusedInput:
    """The input ``label`` as the fused MLP reads it; a member (a selector width) through its scratch."""
    graph = context.program_graph
    if member:
        space = context.scratch_spaces[label]
        max_seq_len = graph.input_spec.max_seq_len
        values = tuple(selector_width.scratch_value(width) for width in range(max_seq_len + 1))
        error = selector_width.scratch_error(max_seq_len, context.selector_errors[label])
        return fusion.FusedInput(space, True, values, error, meanings=tuple(range(max_seq_len + 1)))
    if graph.encoding(label) == rasp.Encoding.NUMERICAL:
        values = tuple(sorted(float(v) for v in graph.value_set(label)))
        return fusion.FusedInput(context.spaces[label], True, values, context.error_bounds[label])
    space = context.spaces[label]
    if label == conventions.TOKENS:  # BOS and PAD are no values of tokens
        space = bases.space(d for d in space.basis if d.value in graph.input_spec.vocab)
    return fusion.FusedInput(space, False, tuple(d.value for d in space.basis))


class _RegionValues:
    """The region's function: every output's value for one combination of the external inputs' values.

    What each external input and each evaluated s-op needs is looked up once, when the region is built; the
    function then runs once per combination of input values (None: no value).
    """

    def __init__(
        self,
        evaluated: tuple[Label, ...],
        externals: list[Label],
        members: set[Label],
        outputs: list[Label],
        graph: frontend.ProgramGraph,
        applied: _Applied,
    ) -> None:
        self._labelled_readings = [(label, self._reading(label, label in members, graph)) for label in externals]
        given = set(externals)
        self._steps = [
            (label, graph.expr(label), graph.dropped_inputs(label), _children(label, graph))
            for label in evaluated if label not in given
        ]
        self._outputs, self._applied = outputs, applied

    @staticmethod
    def _reading(label: Label, member: bool, graph: frontend.ProgramGraph) -> Callable[[Hashable], Hashable]:
        if member:  # a selector width member: its scratch holds 1/(w+1)
            return lambda value: round(1.0 / value - 1.0)
        if graph.encoding(label) == rasp.Encoding.NUMERICAL:
            # The fused MLP places its steps at float(v); the members' functions see v itself, as the
            # evaluator does (f(1) and f(1.0) may differ: a table keyed on repr, a type check).
            originals = {float(v): v for v in graph.value_set(label)}
            return lambda value: originals.get(value, value)
        return lambda value: value

    def __call__(self, inputs: tuple) -> tuple:
        values: dict[Label, Hashable] = {
            label: reading(value) for (label, reading), value in zip(self._labelled_readings, inputs)
        }
        applied = self._applied
        for label, expr, dropped, children in self._steps:
            arguments = [values[child] for child in children]
            key = (label, tuple(frontend.value_key(argument) for argument in arguments))
            if key not in applied:
                applied[key] = folding.apply_function(expr, dropped, arguments)
            values[label] = applied[key]
        return tuple(values[label] for label in self._outputs)


def _fused_block(
    name: str,
    members: tuple[str, ...],
    outputs: list[Label],
    units: fusion.FusedUnits,
    externals: list[Label],
    context: RegionContext,
) -> block_graph_lib.LoweredBlock:
    """The fused MLP as one block: composed with the folds it reads, after a selector width member's head."""
    by_id = {block.id: block for block in context.blocks}
    mlp = units.mlp(bos_direction=context.bos_direction)
    substituted = folding.substitute(mlp, folding.substitution_of(context.folds))
    reads: list[Label] = []
    for label in externals:
        if label in context.folds:
            reads.extend(context.folds[label].sources)
        elif label not in members:
            reads.append(label)
    widths = [m for m in members if isinstance(context.program_graph.expr(m), rasp.SelectorWidth)]
    block: blocks.Block = substituted
    if widths:
        (width,) = widths
        block = blocks.SeriesWithResiduals((by_id[width].heads[0], substituted))
        reads.extend(by_id[width].reads)
    return block_graph_lib.LoweredBlock(
        id=name, writes=tuple(outputs), block=block, reads=tuple(r for r in dict.fromkeys(reads) if r not in outputs),
        combination=_named_by_sop(units.combination, context),
    )


def _named_by_sop(combination: affine.AffineCombination | None, context: RegionContext) -> affine.AffineCombination | None:
    """The combination with a selector width's scratch term named by the selector width (it stands for w)."""
    if combination is None:
        return None
    owners = {space.basis[0].name: label for label, space in context.scratch_spaces.items()}
    terms = tuple(dataclasses.replace(term, label=owners.get(term.label, term.label)) for term in combination.terms)
    return dataclasses.replace(combination, terms=terms)
