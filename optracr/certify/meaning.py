"""What the program says a position holds: the evaluator's meaning of each operation, applied to values.

The certificate never evaluates the program on an input. It asks, for one combination of values of the labels a
block reads, what the s-ops the block writes should be (``value_of``: Maps and SequenceMaps applied through
``frontend.apply_function``, down to the s-ops the residual stores; ``values_over``: the same rule applied inline
to every distinct combination at once), whether a Select picks a key
(``frontend.selects``) and what an Aggregate gives for the values it picks (``frontend.aggregate_value``).
Folded s-ops and the members of a fused MLP have no directions: their values come from the stored s-ops they are
functions of, exactly as the weights compose them.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping, Sequence

import numpy as np

from optracr import frontend
from optracr.certify import arrays
from optracr.certify import errors
from optracr.certify import residual as residual_lib

rasp = frontend.rasp


class _Undefined:
    """The evaluator has no value here (a function raised): every input reaching it is undefined by design."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()


def holds_undefined(values: list[Hashable]) -> bool:
    """Whether ``UNDEFINED`` itself is among ``values`` (by identity, as ``any(v is UNDEFINED ...)``, in C)."""
    return id(UNDEFINED) in map(id, values)


def identity(value: Hashable) -> Hashable:
    """A value's identity among others: ``frontend.value_key``, None and ``UNDEFINED`` as themselves."""
    return value if value is None or value is UNDEFINED else frontend.value_key(value)


def _applied(expr: rasp.SOp, arguments: Sequence[tuple[np.ndarray, list[Hashable]]]) -> tuple[list[Hashable], bool]:
    """The function of Map or SequenceMap ``expr`` at each combination of its arguments (per argument, the index
    of its value at each combination, and its distinct values), as the evaluator applies it at one position
    (``frontend.apply_function``): None where an argument is None, ``UNDEFINED`` where one is or where the function
    raises; and whether the function itself raised. The evaluator's rule is applied inline: this runs once per
    distinct combination, thousands of times per block (tests/certify/test_certify_meaning.py checks that it
    agrees with ``frontend.apply_function``)."""
    count = len(arguments[0][0])
    status = np.zeros(count, dtype=np.int8)  # 0: applied, 1: an argument is None, 2: one is UNDEFINED
    for picks, values in arguments:
        kinds = np.array([2 if value is UNDEFINED else 1 if value is None else 0 for value in values], dtype=np.int8)
        if len(kinds):
            np.maximum(status, kinds[picks], out=status)
    function, raised = expr.f, False
    if not arrays.some(status):  # every argument has a value everywhere: one pass, unless the function raises somewhere
        try:
            return [function(*values) for values in zip(*(
                [values[pick] for pick in picks.tolist()] for picks, values in arguments))], False
        except Exception:  # applied one at a time below, each raise marking its own combination
            pass
    found: list[Hashable] = [UNDEFINED if kind == 2 else None for kind in status.tolist()]
    live = arrays.positions(status == 0)
    chosen = [[values[pick] for pick in picks[live].tolist()] for picks, values in arguments]
    for position, values in zip(live.tolist(), zip(*chosen)):
        try:
            found[position] = function(*values)
        except Exception:  # the user's function does not apply here (the evaluator raises EvaluationError)
            found[position] = UNDEFINED
            raised = True
    return found, raised


def _deduplicated(codes: np.ndarray, values: list[Hashable]) -> tuple[np.ndarray, list[Hashable]]:
    """(codes, values) with equal values (by ``identity``) merged into one entry."""
    fast = _deduplicated_numbers(codes, values)
    if fast is not None:
        return fast
    index: dict[Hashable, int] = {}
    distinct: list[Hashable] = []
    remap: list[int] = []
    for value, key in zip(values, frontend.value_keys(values)):
        code = index.get(key)
        if code is None:
            code = index[key] = len(distinct)
            distinct.append(value)
        remap.append(code)
    return (np.asarray(remap, dtype=np.int64)[codes] if values else codes), distinct


def _deduplicated_numbers(codes: np.ndarray, values: list[Hashable]) -> tuple[np.ndarray, list[Hashable]] | None:
    """``_deduplicated`` where every value but None and ``UNDEFINED`` is a float (no NaN), or every one an int of at
    most 62 bits, by numpy: equal bit patterns are one value (so 0.0 and -0.0 stay two, as ``frontend.value_key``
    keeps them), None and ``UNDEFINED`` each one value of their own (a bit pattern no number has: a NaN's, or one
    past 62 bits), numbered in order of first appearance; None for any other list (the general rule applies)."""
    kinds = set(map(type, values))
    specials = kinds & _SPECIAL_KINDS
    kinds -= specials
    if len(kinds) != 1 or len(values) < 16:
        return None
    (kind,) = kinds
    numbers = [0 if value is None or value is UNDEFINED else value for value in values] if specials else values
    if kind is float:
        floats = np.array(numbers, dtype=np.float64)
        if arrays.some(np.isnan(floats)):  # NaNs are one value only when they are one object
            return None
        bits, marks = floats.view(np.int64), _NAN_MARKS
    elif kind is int:
        if max(numbers) >= 1 << 62 or min(numbers) <= -(1 << 62):
            return None
        bits, marks = np.array(numbers, dtype=np.int64), _WIDE_MARKS
    else:
        return None
    if specials:
        bits = bits.copy()
        for marker, mark in zip((None, UNDEFINED), marks):
            bits[[position for position, value in enumerate(values) if value is marker]] = mark
    _, first, inverse = np.unique(bits, return_index=True, return_inverse=True)
    order = np.argsort(first, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return rank[inverse.reshape(-1)][codes], [values[position] for position in first[order].tolist()]


_SPECIAL_KINDS = frozenset({type(None), _Undefined})
# The bit patterns None and UNDEFINED take among numbers: two NaNs (no float here is NaN), and two ints past 62 bits.
_NAN_MARKS = tuple(int(np.array([mark], dtype=np.uint64).view(np.int64)[0])
                   for mark in (0x7FF8000000000001, 0x7FF8000000000002))
_WIDE_MARKS = (1 << 62, (1 << 62) + 1)


def _rows_by_identity(values: list[Hashable]) -> dict[Hashable, list[int]]:
    """Per identity of the values other than None and ``UNDEFINED``, their indices."""
    rows: dict[Hashable, list[int]] = {}
    for index, (value, key) in enumerate(zip(values, frontend.value_keys(values))):
        if value is not None and value is not UNDEFINED:
            rows.setdefault(key, []).append(index)
    return rows


class Meaning:
    """The program's meaning at one position, over the labels of a model's residual."""

    def __init__(self, program_graph: frontend.ProgramGraph, residual: residual_lib.Residual) -> None:
        self.program_graph = program_graph
        self.residual = residual
        self._memo: dict[tuple, Hashable] = {}
        self.raised: set[str] = set()  # the s-ops whose function raised on some values met
        self._frontiers: dict[tuple[str, bool], tuple[str, ...]] = {}
        self._pairs: dict[str, frozenset[tuple[Hashable, Hashable]] | None] = {}

    def expr(self, label: str) -> rasp.RASPExpr:
        """The (rewritten) program's expression ``label``."""
        return self.program_graph.expr(label)

    def stored(self, label: str) -> bool:
        """Whether the residual holds ``label``'s value in directions of its own."""
        found = self.residual.labels.get(label)
        return found is not None and found.role in (residual_lib.Role.SOP, residual_lib.Role.TOKENS,
                                                    residual_lib.Role.INDICES)

    def frontier(self, label: str, *, own: bool = False, computed: frozenset[str] = frozenset()) -> tuple[str, ...]:
        """The residual labels whose values determine ``label``'s at a position: the label itself when stored
        (unless ``own``: for the block computing it, or it is among the ``computed`` labels that block writes
        from the same inputs), else the stored labels its Maps and SequenceMaps read; a SelectorWidth computed
        by its own MLP reads its scratch label."""
        key = (label, own, computed)
        if key not in self._frontiers:
            self._frontiers[key] = self._frontier(label, own, computed)
        return self._frontiers[key]

    def _frontier(self, label: str, own: bool, computed: frozenset[str]) -> tuple[str, ...]:
        if self.stored(label) and not own and label not in computed:
            return (label,)
        expr = self.expr(label)
        if isinstance(expr, (rasp.Map, rasp.SequenceMap)):
            children = (expr.inner,) if isinstance(expr, rasp.Map) else (expr.fst, expr.snd)
            found: dict[str, None] = {}
            for child in children:
                found.update(dict.fromkeys(self.frontier(self.program_graph.label_of(child), computed=computed)))
            return tuple(found)
        if isinstance(expr, rasp.SelectorWidth):
            scratch = self.residual.scratch_of(label)
            if scratch is not None:
                return (scratch.name,)
        raise errors.CertifyError(
            label, f"{type(expr).__name__} {label!r} is not stored in the residual, so no block can read its value; "
            "certify the model with the program it was compiled from",
        )

    def value_of(self, label: str, assignment: Mapping[str, Hashable], *, own: bool = False,
                 computed: frozenset[str] = frozenset()) -> Hashable:
        """``label``'s value where the frontier labels hold ``assignment`` (None for no value, ``UNDEFINED`` where
        a function raises); ``own`` and ``computed`` as for ``frontier``."""
        if self.stored(label) and not own and label not in computed:
            return assignment[label]
        expr = self.expr(label)
        if isinstance(expr, rasp.SelectorWidth):
            return assignment[self.residual.scratch_of(label).name]
        if isinstance(expr, rasp.Map):
            arguments = (self.value_of(self.program_graph.label_of(expr.inner), assignment, computed=computed),)
        else:
            arguments = tuple(self.value_of(self.program_graph.label_of(child), assignment, computed=computed)
                              for child in (expr.fst, expr.snd))
        return self._apply(label, expr, arguments)

    def read_as_is(self, label: str, frontier: Collection[str], own: bool) -> str | None:
        """The frontier label whose states are ``label``'s values (``values_over``'s rule for the labels asked):
        a stored label itself (unless ``own``: its block computes it), a selector width computed by its own block its
        scratch label; None for any other."""
        if not own:
            return label if label in frontier and self.stored(label) else None
        if isinstance(self.expr(label), rasp.SelectorWidth):
            scratch = self.residual.scratch_of(label)
            return scratch.name if scratch is not None and scratch.name in frontier else None
        return None

    def values_over(self, labels: Sequence[str], columns: Mapping[str, tuple[np.ndarray, list[Hashable]]], *,
                    own: bool = False) -> dict[str, tuple[np.ndarray, list[Hashable]]]:
        """Each label's value at many combinations at once, as (codes, distinct values): ``columns`` gives every
        frontier label's value per combination the same way. Each function is called once per distinct
        combination of its inputs' values, not once per combination; ``own`` as for ``frontier``, the labels
        being what one block computes together."""
        computed = frozenset(labels) if own else frozenset()
        found: dict[tuple[str, bool], tuple[np.ndarray, list[Hashable]]] = {}

        def visit(label: str, top: bool) -> tuple[np.ndarray, list[Hashable]]:
            key = (label, top)
            if key in found:
                return found[key]
            name = self.read_as_is(label, columns, own) if top else None
            if name is not None:
                found[key] = columns[name]
                return found[key]
            if self.stored(label) and not (top and own) and label not in computed:
                found[key] = columns[label]
                return found[key]
            expr = self.expr(label)
            if isinstance(expr, rasp.SelectorWidth):
                found[key] = columns[self.residual.scratch_of(label).name]
                return found[key]
            children = (expr.inner,) if isinstance(expr, rasp.Map) else (expr.fst, expr.snd)
            parts = [visit(self.program_graph.label_of(child), False) for child in children]
            if len(parts) == 1:
                codes, values = parts[0]
                arguments = [(np.arange(len(values)), values)]
            else:
                (first, first_values), (second, second_values) = parts
                size = max(1, len(second_values))
                pairs, codes = np.unique(first * size + second, return_inverse=True)
                arguments = [(pairs // size, first_values), (pairs % size, second_values)]
            results, raised = _applied(expr, arguments)
            if raised:
                self.raised.add(label)
            if len(parts) == 2:
                self._rule_out_unmet_pairs(label, arguments, results)
            found[key] = _deduplicated(np.asarray(codes, dtype=np.int64).reshape(-1), results)
            return found[key]

        return {label: visit(label, True) for label in labels}

    def _rule_out_unmet_pairs(self, label: str, arguments: list[tuple[np.ndarray, list[Hashable]]],
                              results: list[Hashable]) -> None:
        """``UNDEFINED`` (no input reaches it) where a SequenceMap reads a pair value-set inference rules out: two
        means over the same positions (``ProgramGraph.input_pairs``). A pair is met when its values' identities
        are a met pair's, as the set keys its members (``frontend.value_key``)."""
        met = self._met_pairs(label)
        if met is None:
            return
        (first_picks, first_values), (second_picks, second_values) = arguments
        first_rows, second_rows = _rows_by_identity(first_values), _rows_by_identity(second_values)
        width = len(second_values)
        allowed = np.zeros(len(first_values) * width, dtype=bool)
        for first, second in met:
            for row in first_rows.get(first, ()):
                for column in second_rows.get(second, ()):
                    allowed[row * width + column] = True
        allowed = allowed.reshape(len(first_values), width)
        # None or UNDEFINED on either side: left as the function's rule made it (never ruled out here)
        allowed[[row for row, value in enumerate(first_values) if value is None or value is UNDEFINED]] = True
        allowed[:, [column for column, value in enumerate(second_values) if value is None or value is UNDEFINED]] = True
        for position in arrays.positions(~allowed[first_picks, second_picks]).tolist():
            results[position] = UNDEFINED

    def _met_pairs(self, label: str) -> frozenset[tuple[Hashable, Hashable]] | None:
        """The identities of the pairs SequenceMap ``label`` can read (None: every pair), remembered."""
        if label not in self._pairs:
            met = self.program_graph.input_pairs(label)
            if met is None:
                self._pairs[label] = None
            else:
                pairs = list(met)
                self._pairs[label] = frozenset(zip(frontend.value_keys([first for first, _ in pairs]),
                                                   frontend.value_keys([second for _, second in pairs])))
        return self._pairs[label]

    def _apply(self, label: str, expr: rasp.SOp, arguments: tuple) -> Hashable:
        """A Map's or SequenceMap's value on given input values (remembered)."""
        met = self.program_graph.input_pairs(label) if len(arguments) == 2 else None
        if met is not None and None not in arguments and UNDEFINED not in arguments and arguments not in met:
            return UNDEFINED  # two means over the same positions never hold this pair
        if any(argument is UNDEFINED for argument in arguments):
            return UNDEFINED
        key = (label, tuple(frontend.value_key(argument) for argument in arguments))
        if key not in self._memo:
            try:
                self._memo[key] = frontend.apply_function(expr, *arguments)
            except frontend.EvaluationError:
                self._memo[key] = UNDEFINED
                self.raised.add(label)
        return self._memo[key]

    def raising_inputs(self, label: str) -> list[Hashable]:
        """The input values (pairs for a SequenceMap) on which ``label``'s function raises."""
        return sorted(self.program_graph.dropped_inputs(label), key=repr)
