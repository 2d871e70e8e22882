"""Passes: transformations of a lowered ``BlockGraph``, each a small frozen dataclass holding its own options.

``lowering.lower_each`` gives the reference's structure (one block per computed s-op, every s-op in the
residual); each pass takes that graph (and the program graph it came from) and returns a new one that computes
the same function. A pass's options are a frozen dataclass in ``optracr.options`` (``FoldOptions``,
``FuseOptions``), so that ``CompileOptions`` can name them without loading craft; ``optracr.compile`` runs
``pass_for(options)`` of each, in order, timing each and recording it in the model's provenance. A new pass is
an options dataclass there and a pass class here with ``name``, ``apply`` and ``summary``, listed in ``PASSES``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import ClassVar, Protocol

from optracr import errors
from optracr import frontend
from optracr import options as options_lib
from optracr.craft import block_graph
from optracr.craft import conventions
from optracr.craft import folding
from optracr.craft import regions

Label = str


class Pass(Protocol):
    """A block-graph transformation that keeps the computed function: a frozen dataclass of its options."""

    name: ClassVar[str]

    def apply(self, graph: block_graph.BlockGraph, program_graph: frontend.ProgramGraph) -> block_graph.BlockGraph:
        """The transformed graph (``graph`` itself is not changed)."""
        ...

    def summary(self, graph: block_graph.BlockGraph) -> str:
        """What the pass did, read off the graph it returned."""
        ...


@dataclasses.dataclass(frozen=True)
class FoldPass:
    """Gives no block to s-ops linear in residual directions already written; their readers compose them."""

    options: options_lib.FoldOptions = options_lib.FoldOptions()
    name: ClassVar[str] = options_lib.FoldOptions.name

    def apply(self, graph: block_graph.BlockGraph, program_graph: frontend.ProgramGraph) -> block_graph.BlockGraph:
        """``graph`` without the blocks of foldable s-ops, every reader composing their sums (``folding``)."""
        _check_unpassed(self, graph)
        folds = folding.plan(program_graph)
        if not folds:
            return graph
        substitution = folding.substitution_of(folds)
        readers: dict[Label, list[str]] = {label: [] for label in folds}
        for lowered in graph.blocks:  # every computed s-op still has its block here, in topological order
            for read in lowered.reads:
                readers.get(read, []).append(lowered.id)
        if graph.output_label in folds:
            readers[graph.output_label].append(block_graph.UNEMBEDDING)
        kept = tuple(_substituted(lowered, folds, substitution) for lowered in graph.blocks if lowered.id not in folds)
        return dataclasses.replace(
            graph,
            blocks=kept,
            scratch_spaces={key: space for key, space in graph.scratch_spaces.items() if key not in folds},
            folds={label: dataclasses.replace(fold, readers=tuple(readers[label])) for label, fold in folds.items()},
        )

    def summary(self, graph: block_graph.BlockGraph) -> str:
        """How many s-ops were folded, and which."""
        return f"{len(graph.folds)} s-ops folded" + (f": {', '.join(graph.folds)}" if graph.folds else "")


@dataclasses.dataclass(frozen=True)
class FusePass:
    """Offers the scheduler regions of MLP blocks one hidden layer can compute, each at most
    ``options.width_cap`` wide (None: ``regions.width_cap``, 4 x the widest MLP block and at least 256)."""

    options: options_lib.FuseOptions = options_lib.FuseOptions()
    name: ClassVar[str] = options_lib.FuseOptions.name

    def apply(self, graph: block_graph.BlockGraph, program_graph: frontend.ProgramGraph) -> block_graph.BlockGraph:
        """``graph`` with its fusion candidates (the scheduler picks among them; blocks are unchanged)."""
        if graph.fusion_candidates:
            raise errors.CompileError(None, "the fuse pass ran twice: the block graph already has fusion candidates")
        context = regions.RegionContext(
            program_graph, graph.blocks, graph.folds, graph.spaces, graph.scratch_spaces, graph.error_bounds,
            graph.selector_errors, conventions.bos_direction(graph.bos),
        )
        cap = self.options.width_cap
        cap = regions.width_cap(graph.blocks) if cap is None else cap
        return dataclasses.replace(graph, fusion_candidates=regions.candidates(context, cap=cap))

    def summary(self, graph: block_graph.BlockGraph) -> str:
        """How many regions the scheduler may fuse."""
        return f"{len(graph.fusion_candidates)} fusion candidates"


PASSES: Mapping[str, type] = {cls.name: cls for cls in (FoldPass, FusePass)}


def pass_for(chosen: options_lib.PassOptions) -> Pass:
    """The pass object that runs with the options ``chosen`` (``optracr.options.FoldOptions`` ...)."""
    if getattr(chosen, "name", None) not in PASSES:
        raise errors.CompileError(None, f"no pass runs with {chosen!r}; the passes are {', '.join(PASSES)}")
    return PASSES[chosen.name](chosen)


def _check_unpassed(chosen: Pass, graph: block_graph.BlockGraph) -> None:
    if graph.folds or graph.fusion_candidates:
        raise errors.CompileError(None, f"the {chosen.name} pass takes a graph from lower_each, before other passes")


def _substituted(
    unfolded: block_graph.LoweredBlock, folds: Mapping[Label, folding.Fold], substitution: folding.Substitution
) -> block_graph.LoweredBlock:
    """The block reading the residual directions its folded inputs are sums of."""
    if not any(read in folds for read in unfolded.reads):
        return unfolded
    reads: list[Label] = []
    for read in unfolded.reads:
        reads.extend(folds[read].sources if read in folds else (read,))
    block = folding.substitute(unfolded.block, substitution)
    return dataclasses.replace(unfolded, block=block, reads=tuple(dict.fromkeys(reads)))
