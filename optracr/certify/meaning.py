"""What the program says a position holds: the evaluator's meaning of each operation, applied to values.

The certificate never evaluates the program on an input. It asks, for one combination of values of the labels a
block reads, what the s-ops the block writes should be (``value_of``: Maps and SequenceMaps applied through
``frontend.apply_function``, down to the s-ops the residual stores), whether a Select picks a key
(``frontend.selects``) and what an Aggregate gives for the values it picks (``frontend.aggregate_value``).
Folded s-ops and the members of a fused MLP have no directions: their values come from the stored s-ops they are
functions of, exactly as the weights compose them.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping

from optracr import frontend
from optracr.certify import errors
from optracr.certify import residual as residual_lib

rasp = frontend.rasp


class _Undefined:
    """The evaluator has no value here (a function raised): every input reaching it is undefined by design."""

    def __repr__(self) -> str:
        return "UNDEFINED"


UNDEFINED = _Undefined()


class Meaning:
    """The program's meaning at one position, over the labels of a model's residual."""

    def __init__(self, program_graph: frontend.ProgramGraph, residual: residual_lib.Residual) -> None:
        self.program_graph = program_graph
        self.residual = residual
        self._memo: dict[tuple, Hashable] = {}
        self._frontiers: dict[tuple[str, bool], tuple[str, ...]] = {}

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
        if any(argument is UNDEFINED for argument in arguments):
            return UNDEFINED
        key = (label, tuple(frontend.value_key(argument) for argument in arguments))
        if key not in self._memo:
            try:
                self._memo[key] = frontend.apply_function(expr, *arguments)
            except frontend.EvaluationError:
                self._memo[key] = UNDEFINED
        return self._memo[key]

    def raising_inputs(self, label: str) -> list[Hashable]:
        """The input values (pairs for a SequenceMap) on which ``label``'s function raises."""
        return sorted(self.program_graph.dropped_inputs(label), key=repr)
