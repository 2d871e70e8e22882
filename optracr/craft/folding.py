"""Folding: s-ops that are linear in residual directions already written need no block of their own.

A folded s-op F has no residual directions: each of its directions is a weighted sum of directions that are
in the residual, and every reader composes that sum into its own weights (an MLP's first layer, a head's
W_QK on either side and W_OV, the unembedding). ``plan`` finds the foldable s-ops and their sums:
- a Map or SequenceMap whose inputs all derive, through such folded maps, from ONE categorical s-op S in the
  residual (its root): F's value is a function of S's value, so F's one-hot is a 0/1 matrix times S's
  (a numerical F: the sum of f(s) over S's one-hot). S's directions with no value of F (BOS, PAD, inputs
  where a function raised or gave None) contribute nothing, as the lookup MLP would write nothing;
- a numerical Map affine on its input's known values, F = a x + b, and a numerical LinearSequenceMap of
  such s-ops: the constant is carried by ``one - tokens:BOS``, which is 1 at every position but BOS, so F
  reads 0 at BOS exactly like a block that writes nothing there.
Folding never widens anything: readers keep their hidden units and heads; an MLP reads more input rows.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Hashable, Mapping

import numpy as np

from optracr import errors
from optracr import frontend
from optracr.craft import bases
from optracr.craft import blocks
from optracr.craft import conventions
from optracr.craft import numerical_mlp
from optracr.craft import operators
from optracr.craft import tables

rasp = frontend.rasp
Label = str
Direction = bases.BasisDirection
Expression = Mapping[Direction, float]  # a weighted sum of residual directions
Substitution = Mapping[Direction, Expression]  # every direction of the folded s-ops, as such a sum


@dataclasses.dataclass(frozen=True)
class Fold:
    """A folded s-op: its directions as sums of residual directions, and the root value table if categorical."""

    label: Label
    expressions: Mapping[Direction, Expression]
    root: Label | None = None  # the categorical s-op in the residual it is a function of (None: affine)
    values: Mapping[Hashable, Hashable] | None = None  # root value -> this s-op's value (None: no value), typed
    readers: tuple[str, ...] = ()  # the blocks (by id), or the unembedding, that compose it

    @property
    def sources(self) -> tuple[Label, ...]:
        """The s-ops whose residual directions its sums read (``one`` left out: it is always there)."""
        names = {d.name for expression in self.expressions.values() for d in expression}
        return tuple(sorted(names - {conventions.ONE}))


def plan(program_graph: frontend.ProgramGraph) -> dict[Label, Fold]:
    """Every foldable s-op of ``program_graph`` and how it folds."""
    folds: dict[Label, Fold] = {}
    for label in program_graph.topological_labels():
        expr = program_graph.expr(label)
        if label in program_graph.sources or not isinstance(expr, rasp.SOp):
            continue
        fold = _categorical_fold(label, expr, program_graph, folds) or _affine_fold(label, expr, program_graph, folds)
        if fold is not None:
            folds[label] = fold
    return folds


def _inputs(expr: rasp.SOp) -> list[rasp.SOp] | None:
    if isinstance(expr, rasp.Map):
        return [expr.inner]
    if isinstance(expr, rasp.SequenceMap):
        return [expr.fst, expr.snd]
    return None


def _root_values(
    label: Label, graph: frontend.ProgramGraph, folds: Mapping[Label, Fold]
) -> tuple[Label, Mapping] | None:
    """The categorical residual s-op ``label`` is a function of, and that function as a table (or None)."""
    if graph.encoding(label) != rasp.Encoding.CATEGORICAL:
        return None
    if label in folds:
        fold = folds[label]
        return None if fold.root is None or fold.values is None else (fold.root, fold.values)
    return label, frontend.ValueTable((value, value) for value in graph.value_set(label))


def _categorical_fold(
    label: Label, expr: rasp.SOp, graph: frontend.ProgramGraph, folds: Mapping[Label, Fold]
) -> Fold | None:
    inputs = _inputs(expr)
    if inputs is None:
        return None
    roots = [_root_values(graph.label_of(sop), graph, folds) for sop in inputs]
    if any(root is None for root in roots) or len({root[0] for root in roots}) != 1:
        return None
    root = roots[0][0]
    values = frontend.ValueTable(
        (value, apply_function(expr, graph.dropped_inputs(label), [r[1][value] for r in roots]))
        for value in graph.value_set(root)
    )
    if rasp.is_numerical(expr):
        output = Direction(label)
        expression = {Direction(root, v): float(out) for v, out in values.items() if out not in (None, 0)}
        return Fold(label, {output: expression}, root, values)
    expressions: dict[Direction, dict[Direction, float]] = {
        Direction(label, out): {} for out in graph.value_set(label)
    }
    for value, out in values.items():
        if out is not None:
            expressions[Direction(label, out)][Direction(root, value)] = 1.0
    return Fold(label, expressions, root, values)


def apply_function(expr: rasp.SOp, dropped: frontend.ValueSet, arguments: list[Hashable]) -> Hashable:
    """The s-op's function on its inputs' values, as its lookup MLP computes it (None when it has no value)."""
    if any(argument is None for argument in arguments):
        return None
    key = arguments[0] if len(arguments) == 1 else tuple(arguments)
    if key in dropped:
        return None
    return tables.call(expr.f, *arguments)


def _affine_fold(
    label: Label, expr: rasp.SOp, graph: frontend.ProgramGraph, folds: Mapping[Label, Fold]
) -> Fold | None:
    if not rasp.is_numerical(expr):
        return None
    if isinstance(expr, rasp.LinearSequenceMap) and all(rasp.is_numerical(sop) for sop in (expr.fst, expr.snd)):
        terms = ((expr.fst_fac, expr.fst), (expr.snd_fac, expr.snd))
        expression = _sum(*(_scaled(_numerical_expression(graph.label_of(sop), folds), factor) for factor, sop in terms))
        return Fold(label, {Direction(label): expression})
    if isinstance(expr, rasp.Map) and rasp.is_numerical(expr.inner):
        inner = graph.label_of(expr.inner)
        table = tables.map_table(expr.f, graph.value_set(inner), graph.dropped_inputs(label))
        coefficients = numerical_mlp.affine_coefficients(label, table)
        if coefficients is None:
            return None
        slope, intercept = coefficients
        constant = {conventions.one_direction(): intercept, _bos(graph): -intercept} if intercept else {}
        expression = _sum(_scaled(_numerical_expression(inner, folds), slope), constant)
        return Fold(label, {Direction(label): expression})
    return None


def _bos(graph: frontend.ProgramGraph) -> Direction:
    return conventions.bos_direction(graph.input_spec.bos)


def _numerical_expression(label: Label, folds: Mapping[Label, Fold]) -> Expression:
    if label in folds:
        return folds[label].expressions[Direction(label)]
    return {Direction(label): 1.0}


def _scaled(expression: Expression, factor: float) -> dict[Direction, float]:
    return {direction: factor * weight for direction, weight in expression.items()}


def _sum(*expressions: Expression) -> dict[Direction, float]:
    total: dict[Direction, float] = {}
    for expression in expressions:
        for direction, weight in expression.items():
            total[direction] = total.get(direction, 0.0) + weight
    return {direction: weight for direction, weight in total.items() if weight != 0.0}


# ------------------------------------------------------------------------------------------ composing
def substitute_rows(
    space: bases.VectorSpaceWithBasis, matrix: np.ndarray, substitution: Substitution
) -> tuple[bases.VectorSpaceWithBasis, np.ndarray]:
    """Rows of ``matrix`` (indexed by ``space``) re-expressed over residual directions: a folded direction's row
    is spread over the directions of its sum. Directions whose new row is zero are dropped."""
    rows: dict[Direction, np.ndarray] = {}
    for index, direction in enumerate(space.basis):
        for source, weight in substitution.get(direction, {direction: 1.0}).items():
            rows[source] = rows.get(source, 0.0) + weight * matrix[index]
    kept = [(direction, row) for direction, row in rows.items() if np.any(row)]
    matrix = np.array([row for _, row in kept]).reshape(len(kept), matrix.shape[1])
    return bases.space(direction for direction, _ in kept), matrix


def substitute_linear(linear: operators.Linear, substitution: Substitution) -> operators.Linear:
    """The map reading residual directions in place of the folded directions it read."""
    if not any(direction in substitution for direction in linear.input_space.basis):
        return linear
    space, matrix = substitute_rows(linear.input_space, linear.matrix, substitution)
    return operators.Linear(space, linear.output_space, matrix)


def substitute_bilinear(bilinear: operators.Bilinear, substitution: Substitution) -> operators.Bilinear:
    """The form reading residual directions in place of folded ones, on both sides."""
    left, matrix = substitute_rows(bilinear.left_space, bilinear.matrix, substitution)
    right, transposed = substitute_rows(bilinear.right_space, matrix.T, substitution)
    return operators.Bilinear(left, right, transposed.T)


def substitute(block: blocks.Block, substitution: Substitution) -> blocks.Block:
    """``block`` reading through ``substitution``: the same function of the residual, folded s-ops composed in."""
    if not substitution:
        return block
    if isinstance(block, blocks.MLP):
        return blocks.MLP(substitute_linear(block.fst, substitution), block.snd)
    if isinstance(block, blocks.AttentionHead):
        return blocks.AttentionHead(
            substitute_bilinear(block.w_qk, substitution), substitute_linear(block.w_ov, substitution)
        )
    if isinstance(block, blocks.MultiAttentionHead):
        return blocks.MultiAttentionHead(tuple(substitute(head, substitution) for head in block.heads))
    if isinstance(block, blocks.SeriesWithResiduals):
        return blocks.SeriesWithResiduals(tuple(substitute(part, substitution) for part in block.blocks))
    raise errors.OptracrBug(f"no substitution for {type(block).__name__}")


def substitution_of(folds: Mapping[Label, Fold]) -> dict[Direction, Expression]:
    """Every folded direction and its sum of residual directions."""
    return {direction: expression for fold in folds.values() for direction, expression in fold.expressions.items()}


def read(fold: Fold, residual: bases.VectorInBasis) -> bases.VectorInBasis:
    """The folded s-op's value at every position of ``residual``: each of its directions' sums, evaluated."""
    space = bases.space(fold.expressions)
    columns = [
        sum((weight * residual.project(bases.space([source])).magnitudes[..., 0] for source, weight in sums.items()),
            np.zeros(residual.magnitudes.shape[:-1]))
        for sums in fold.expressions.values()
    ]
    return bases.VectorInBasis(space, np.stack(columns, axis=-1))
