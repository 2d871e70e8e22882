"""``lower``: ProgramGraph -> BlockGraph, translating every computed s-op on its own into a craft block.

Map and SequenceMap become MLPs, Aggregate an attention head, SelectorWidth a head plus an MLP; selectors
are folded into the block that reads them. Blocks come in the frontend's deterministic topological order.
With folding, a SequenceMap of two numeric-valued categorical s-ops whose output depends on them only through
t = a x + b y is lowered as a discretising MLP on t where that is narrower than its lookup table (``affine``).

Alongside, ``lower`` bounds how far each s-op's residual value may be from the evaluator's (``_error_bound``):
a numerical s-op's value, or the L1 distance of a categorical s-op's one-hot. Noisy query and key one-hots
change every attention weight by a relative c at most (``attention.weight_change``). A numerical Aggregate
adds to the error of what it averages the spread of its values (0 included) times its stray softmax mass
(``attention.value_leak``, grown by 1 + c) plus c; a categorical one, whose selected keys hold one value,
adds twice the stray mass. An affine map scales its input's error; a discretising MLP snaps its input's
error away (it checks the bound against its gaps); a lookup on categorical inputs restarts from float
rounding (its inputs' one-hots are off by about one head's stray mass, 1e-7; compounding a worst case
through deep chains of lookups would refuse exact programs). Every block adds float64 rounding. The bound
decides which discretising MLPs ``lower`` refuses; ``optracr.verify`` checks the whole model end to end.
"""

from __future__ import annotations

from optracr import errors
from optracr import frontend
from optracr import options as options_lib
from optracr.craft import affine
from optracr.craft import attention
from optracr.craft import bases
from optracr.craft import block_graph
from optracr.craft import blocks
from optracr.craft import categorical_mlp
from optracr.craft import conventions
from optracr.craft import fusion
from optracr.craft import mlp_units
from optracr.craft import numerical_mlp
from optracr.craft import passes
from optracr.craft import selector_width
from optracr.craft import tables

rasp = frontend.rasp
Label = str


class _Context:
    """What lowering one node needs: the program, ``tokens:BOS``, and the error bound of every s-op so far."""

    def __init__(self, program_graph: frontend.ProgramGraph, *, affine_combinations: bool = True) -> None:
        self.program_graph = program_graph
        self.affine_combinations = affine_combinations
        self.combinations: dict[Label, affine.AffineCombination] = {}  # the s-ops lowered through one
        self.bos_direction = conventions.bos_direction(program_graph.input_spec.bos)
        self.max_seq_len = program_graph.input_spec.max_seq_len
        self.error_bounds: dict[Label, float] = dict.fromkeys(program_graph.sources, 0.0)
        self._map_tables: dict[Label, tables.Table] = {}
        self._value_spaces: dict[Label, bases.VectorSpaceWithBasis] = {}

    def label(self, expr: rasp.RASPExpr) -> Label:
        """The node label of ``expr``."""
        return self.program_graph.label_of(expr)

    def values(self, expr: rasp.RASPExpr) -> frozenset:
        """The value set of ``expr``."""
        return self.program_graph.value_set(self.label(expr))

    def value_space(self, expr: rasp.RASPExpr) -> bases.VectorSpaceWithBasis:
        """The directions holding the s-op's possible values (``tokens`` without BOS and PAD); built once."""
        label = self.label(expr)
        if label not in self._value_spaces:
            self._value_spaces[label] = conventions.sop_space(label, rasp.get_encoding(expr), self.values(expr))
        return self._value_spaces[label]

    def dropped(self, label: Label) -> frozenset:
        """The inputs on which node ``label``'s function raised."""
        return self.program_graph.dropped_inputs(label)

    def error_bound(self, expr: rasp.SOp) -> float:
        """How far ``expr``'s residual value may be from the evaluator's (see the module doc)."""
        return self.error_bounds[self.label(expr)]

    def map_table(self, label: Label, expr: rasp.Map) -> tables.Table:
        """The Map's function over its input's value set (computed once: it calls the user's function)."""
        if label not in self._map_tables:
            self._map_tables[label] = tables.map_table(expr.f, self.values(expr.inner), self.dropped(label))
        return self._map_tables[label]


def _lower_map(label: Label, expr: rasp.Map, context: _Context) -> blocks.MLP:
    return _map_mlp(label, expr, expr.inner, context.map_table(label, expr), context)


def _map_mlp(label: Label, expr: rasp.SOp, inner: rasp.SOp, table: tables.Table, context: _Context) -> blocks.MLP:
    input_space, output_space = context.value_space(inner), context.value_space(expr)
    if rasp.is_categorical(inner) and rasp.is_categorical(expr):
        return categorical_mlp.map_categorical_mlp(
            label, input_space, output_space, table, bos_direction=context.bos_direction
        )
    if rasp.is_categorical(inner):
        return categorical_mlp.map_categorical_to_numerical_mlp(
            label, input_space, output_space, table, bos_direction=context.bos_direction
        )
    (direction,) = input_space.basis
    error = context.error_bound(inner)
    if rasp.is_numerical(expr):
        return numerical_mlp.map_numerical_mlp(
            label, direction, output_space, table, bos_direction=context.bos_direction, input_error=error
        )
    return numerical_mlp.map_numerical_to_categorical_mlp(
        label, direction, output_space, table, bos_direction=context.bos_direction, input_error=error
    )


def _lower_sequence_map(label: Label, expr: rasp.SequenceMap, context: _Context) -> blocks.MLP:
    fst, snd = expr.fst, expr.snd
    output_space = context.value_space(expr)
    if rasp.is_numerical(fst) and rasp.is_numerical(snd):
        if not isinstance(expr, rasp.LinearSequenceMap) or not rasp.is_numerical(expr):
            raise errors.CompileError(
                label,
                "a SequenceMap of numerical inputs compiles only as a numerical LinearSequenceMap; annotate it "
                "with rasp.numerical and, for a categorical result, Map it afterwards",
            )
        inputs = [
            (context.value_space(sop).basis[0], context.values(sop), factor)
            for sop, factor in ((fst, expr.fst_fac), (snd, expr.snd_fac))
        ]
        return numerical_mlp.linear_sequence_map_mlp(
            label, inputs[0], inputs[1], output_space, bos_direction=context.bos_direction
        )
    if context.label(fst) == context.label(snd):
        table = tables.diagonal_table(expr.f, context.values(fst), context.dropped(label))
        return _map_mlp(label, expr, fst, table, context)
    table = tables.sequence_map_table(expr.f, context.values(fst), context.values(snd), context.dropped(label))
    spaces = [context.value_space(fst), context.value_space(snd)]
    units = categorical_mlp.sequence_map_units(
        label, (spaces[0], spaces[1]), output_space, table, numerical_output=rasp.is_numerical(expr)
    )
    if context.affine_combinations:
        units = _affine_sequence_map_units(label, expr, table, len(units), context) or units
    domains = [mlp_units.InputDomain(space) for space in spaces]
    return mlp_units.build_mlp(label, domains, output_space, units, context.bos_direction)


def _affine_sequence_map_units(
    label: Label, expr: rasp.SequenceMap, table: tables.Table, lookup_width: int, context: _Context
) -> list[mlp_units.HiddenUnit] | None:
    """The discretising units on an affine combination of the two inputs' values, when narrower than the lookup."""
    spaces = [context.value_space(expr.fst), context.value_space(expr.snd)]
    inputs = [fusion.FusedInput(space, False, tuple(d.value for d in space.basis)) for space in spaces]
    output_space, numerical = context.value_space(expr), rasp.is_numerical(expr)

    def writes_of(arguments: tuple) -> affine.Writes:
        value = table[arguments]
        if value is None or (numerical and value == 0):
            return frozenset()
        if numerical:
            return frozenset([(output_space.basis[0], float(value))])
        return frozenset([(bases.BasisDirection(label, value), 1.0)])

    found = affine.affine_units(label, inputs, output_space, writes_of, max_width=lookup_width - 1)
    if found is None:
        return None
    context.combinations[label] = found.combination
    return list(found.units)


def _select_parts(selector: rasp.Selector, context: _Context) -> list[attention.SelectPart]:
    """The Selects a selector is the conjunction of (``frontend.conjuncts``), on their residual directions."""
    return [
        attention.SelectPart(context.value_space(select.queries), context.value_space(select.keys), select.predicate)
        for select in frontend.conjuncts(selector)
    ]


def _lower_aggregate(label: Label, expr: rasp.Aggregate, context: _Context) -> blocks.AttentionHead:
    first, *more = _select_parts(expr.selector, context)
    return attention.aggregate_head(
        label,
        first.query_space,
        first.key_space,
        first.predicate,
        context.value_space(expr.sop),
        context.value_space(expr),
        max_seq_len=context.max_seq_len,
        bos_direction=context.bos_direction,
        value_scale=_value_scale(expr.sop, context),
        more_parts=more,
    )


def _lower_selector_width(label: Label, expr: rasp.SelectorWidth, context: _Context) -> blocks.SeriesWithResiduals:
    first, *more = _select_parts(expr.selector, context)
    return selector_width.selector_width_block(
        label,
        first.query_space,
        first.key_space,
        first.predicate,
        context.value_space(expr),
        numerical_output=rasp.is_numerical(expr),
        max_seq_len=context.max_seq_len,
        bos_direction=context.bos_direction,
        selector_error=_selector_error(expr.selector, context),
        more_parts=more,
    )


def _selector_error(selector: rasp.Selector, context: _Context) -> float:
    """How far a selector's query and key one-hots may be off, together (L1), summed over its Selects."""
    return sum(
        context.error_bound(select.queries) + context.error_bound(select.keys)
        for select in frontend.conjuncts(selector)
    )


def _error_bound(label: Label, expr: rasp.SOp, context: _Context) -> float:
    """How far ``expr``'s residual value may be from the evaluator's, given the bounds of what it reads."""
    numerical = rasp.is_numerical(expr)
    rounding = numerical_mlp.rounding_error(context.values(expr) if numerical else (1.0,))
    if isinstance(expr, rasp.Aggregate):
        return context.error_bound(expr.sop) + _aggregate_leak_error(expr, context) + rounding
    inputs = [child for child in expr.children if isinstance(child, rasp.SOp)]
    if not any(rasp.is_numerical(child) for child in inputs) and not isinstance(expr, rasp.SelectorWidth):
        # A lookup table on categorical inputs. Their one-hots are off by the stray softmax mass of one head
        # at most (about 1e-7); a worst-case bound compounded through every lookup of a deep program grows
        # exponentially and would refuse exact programs, so a lookup's output counts as off by rounding only.
        return rounding
    if isinstance(expr, rasp.LinearSequenceMap):
        terms = ((expr.fst_fac, expr.fst), (expr.snd_fac, expr.snd))
        return sum(abs(factor) * context.error_bound(sop) for factor, sop in terms) + rounding
    if isinstance(expr, rasp.Map) and numerical:
        slope = numerical_mlp.affine_slope(label, context.map_table(label, expr))
        if slope is not None:
            return abs(slope) * context.error_bound(expr.inner) + rounding
    return rounding  # discretised: an input error within the checked tolerance is snapped away


def _aggregate_leak_error(expr: rasp.Aggregate, context: _Context) -> float:
    """The error the head's attention weights add (see the module doc)."""
    scale = _value_scale(expr.sop, context)
    logit = attention.aggregate_logit(context.max_seq_len, scale)
    change = attention.weight_change(logit, _selector_error(expr.selector, context))
    stray = attention.value_leak(scale) * (1.0 + change)
    if not rasp.is_numerical(expr):  # the selected keys hold one value: only the stray mass moves the one-hot
        return 2.0 * stray
    values = [float(v) for v in context.values(expr.sop)] + [0.0]  # BOS holds 0
    return (stray + change) * (max(values) - min(values))


def _value_scale(sop: rasp.SOp, context: _Context) -> float:
    """The largest |value| of a numerical s-op (1 for a categorical one)."""
    if not rasp.is_numerical(sop):
        return 1.0
    return max((abs(float(v)) for v in context.values(sop)), default=1.0)


def _reads(expr: rasp.SOp, context: _Context) -> tuple[Label, ...]:
    if isinstance(expr, (rasp.Aggregate, rasp.SelectorWidth)):
        sops = tuple(sop for select in frontend.conjuncts(expr.selector) for sop in (select.keys, select.queries))
        sops += (expr.sop,) if isinstance(expr, rasp.Aggregate) else ()
    else:
        sops = tuple(child for child in expr.children if isinstance(child, rasp.SOp))
    return tuple(dict.fromkeys(context.label(sop) for sop in sops))


def _lower_node(label: Label, expr: rasp.SOp, context: _Context) -> block_graph.LoweredBlock:
    if isinstance(expr, rasp.Map):
        block: blocks.Block = _lower_map(label, expr, context)
    elif isinstance(expr, rasp.SequenceMap):
        block = _lower_sequence_map(label, expr, context)
    elif isinstance(expr, rasp.Aggregate):
        block = _lower_aggregate(label, expr, context)
    elif isinstance(expr, rasp.SelectorWidth):
        block = _lower_selector_width(label, expr, context)
    else:
        raise errors.CompileError(
            label, f"craft has no construction for {type(expr).__name__}; run frontend.analyse, which rewrites it"
        )
    return block_graph.LoweredBlock(
        id=label, writes=(label,), block=block, reads=_reads(expr, context), combination=context.combinations.get(label)
    )


def _check_program(program_graph: frontend.ProgramGraph) -> None:
    if not isinstance(program_graph, frontend.ProgramGraph):
        message = f"lower takes a frontend.ProgramGraph (build it with frontend.analyse), got {program_graph!r}"
        raise errors.CompileError(None, message)


def lower(
    program_graph: frontend.ProgramGraph, *, fold: bool = True, fuse: bool = True, fused_width_cap: int | None = None
) -> block_graph.BlockGraph:
    """``lower_each`` then the ``passes.FoldPass`` (``fold``) and ``passes.FusePass`` (``fuse``, its cap
    ``fused_width_cap``): craft's short form of what ``optracr.compile`` runs as a timed pipeline.

    The options (vocabulary, max_seq_len, BOS, PAD, causal) come from ``program_graph.input_spec``, which
    ``frontend.analyse`` has checked together with the program. With ``fold``, every s-op that is linear in
    residual directions already written gets no block: its readers compose it (``folding``). With ``fuse``,
    the block graph also offers the regions of MLP blocks one hidden layer can compute (``regions``), each no
    wider than ``fused_width_cap`` (default ``regions.width_cap``); the scheduler chooses among them.
    """
    options = options_lib.from_keywords(keywords={"fold": fold, "fuse": fuse, "fused_width_cap": fused_width_cap})
    lowered = lower_each(program_graph, affine_combinations=fold)
    for chosen in options.passes:
        lowered = passes.pass_for(chosen).apply(lowered, program_graph)
    return lowered


def lower_each(
    program_graph: frontend.ProgramGraph, *, affine_combinations: bool = False
) -> block_graph.BlockGraph:
    """One craft block per computed s-op of ``program_graph``, with every s-op's subspace, before any pass. The
    graph records each s-op's error bound for the passes. With ``affine_combinations`` a SequenceMap of two
    numeric-valued categoricals may be a discretising MLP on an affine combination of their values where that
    is narrower than its table (``affine``); without it (the reference's structure) it is always the table."""
    _check_program(program_graph)
    context = _Context(program_graph, affine_combinations=affine_combinations)
    input_spec = program_graph.input_spec
    spaces: dict[Label, bases.VectorSpaceWithBasis] = {
        conventions.ONE: conventions.one_space(),
        conventions.TOKENS: conventions.tokens_space(input_spec.vocab, input_spec.bos, input_spec.pad),
        conventions.INDICES: conventions.indices_space(input_spec.max_seq_len),
    }
    lowered, scratch, selector_errors = [], {}, {}
    for label in program_graph.topological_labels():
        expr = program_graph.expr(label)
        if not isinstance(expr, rasp.SOp) or label in program_graph.sources:
            continue
        spaces[label] = context.value_space(expr)
        lowered.append(_lower_node(label, expr, context))
        if isinstance(expr, rasp.SelectorWidth):
            scratch[label] = bases.space([conventions.selector_width_scratch(label)])
            selector_errors[label] = _selector_error(expr.selector, context)
        context.error_bounds[label] = _error_bound(label, expr, context)
    sink = program_graph.sink
    return block_graph.BlockGraph(
        blocks=tuple(lowered),
        spaces=spaces,
        scratch_spaces=scratch,
        output_label=sink,
        output_encoding=rasp.get_encoding(program_graph.expr(sink)),
        output_space=spaces[sink],
        input_spec=input_spec,
        error_bounds=context.error_bounds,
        selector_errors=selector_errors,
    )
