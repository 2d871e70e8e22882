"""``compile``: the stages chained as one pipeline (frontend, lower, the passes, schedule, assemble), each timed
and summarised in the model's provenance."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, TypeVar

from optracr import assemble, craft, frontend, schedule
from optracr import options as options_lib
from optracr.compiler import scheduling
from optracr.errors import CompileError
from optracr.frontend import rasp

Output = TypeVar("Output")


def compile(  # noqa: A001 - the reference's verb, on purpose
    program: rasp.SOp,
    options: options_lib.CompileOptions | Any = None,
    max_seq_len: int | None = None,
    /,
    **keywords: Any,
) -> assemble.CompiledModel:
    """Compiles ``program`` into a transformer exact on every input of the options' vocabulary and lengths.

    Call it as ``compile(program, options)`` with a ``CompileOptions``, or as ``compile(program, vocab,
    max_seq_len, **keywords)``, which builds one: every ``CompileOptions`` field is a keyword (``causal``,
    ``bos``, ``pad``, ``allocator``, ``time_limit_s``, ``workers``, ``seed``, ``passes``,
    ``partial_functions``), and so are ``fold``, ``fuse`` and ``fused_width_cap``, which switch the passes.
    Keywords given with a ``CompileOptions`` change it. The fold pass (on by default) gives no block to s-ops
    linear in directions already in the residual (e.g. any Map of ``tokens``): their readers compose them. The
    fuse pass (on by default) lets the allocator compute chains of MLP blocks in one MLP sublayer where that
    saves layers or parameters, each fused MLP no wider than ``fused_width_cap`` (default: 4 x the widest
    unfused MLP, at least 256). Without passes (``fold=False, fuse=False``) the model keeps the reference's
    structure: one block per s-op, every s-op in the residual. ``partial_functions="allow"`` compiles Maps and
    SequenceMaps whose function raises on some input values (the model has no value there, and ``verify``
    counts those inputs as undefined); by default they are a ``CompileError``. ``causal=True`` masks every key
    after its query: the model computes the program's causal meaning (``optracr.causal_eval``, which ``verify``
    compares it with), with a ``CausalMeaningWarning`` naming each selector that can pick a later position
    (where that meaning may differ from the plain one); ``causal="strict"`` refuses those instead.

    The model's ``provenance`` records the options and each stage's seconds and output; ``summary`` prints it.

    >>> import optracr
    >>> from optracr import rasp
    >>> model = optracr.compile(rasp.numerical(rasp.Map(lambda x: x == "a", rasp.tokens)), {"a", "b"}, 3)
    >>> model.apply(["BOS", "a", "b", "a"]).decoded
    ['BOS', 1.0, 0.0, 1.0]
    >>> options = optracr.CompileOptions(vocab={"a", "b"}, max_seq_len=3, passes=())
    >>> [stage.name for stage in optracr.compile(rasp.Map(lambda x: x == "a", rasp.tokens), options).provenance.stages]
    ['frontend', 'lower', 'schedule', 'assemble']
    """
    if options is None and isinstance(keywords.get("options"), options_lib.CompileOptions):
        options = keywords.pop("options")  # compile(program, options=...)
    return run_pipeline(program, _options(options, max_seq_len, keywords))


def _options(given: Any, max_seq_len: int | None, keywords: dict[str, Any]) -> options_lib.CompileOptions:
    """The ``CompileOptions`` ``compile``'s arguments stand for."""
    if isinstance(given, options_lib.CompileOptions):
        if max_seq_len is not None:
            raise CompileError(None, "compile(program, options) takes max_seq_len in the options, not beside them")
        return given.replace(**keywords) if keywords else given
    for name, value in (("vocab", given), ("max_seq_len", max_seq_len)):
        if value is not None:
            if name in keywords:
                raise CompileError(None, f"option {name}: given twice, as an argument and as a keyword")
            keywords[name] = value
    return options_lib.from_keywords(keywords=keywords)


def run_pipeline(program: rasp.SOp, options: options_lib.CompileOptions) -> assemble.CompiledModel:
    """``program`` through every stage ``options`` asks for; the model records each stage's time and output."""
    if options.vocab is None or options.max_seq_len is None:
        missing = "vocab" if options.vocab is None else "max_seq_len"
        raise CompileError(
            None, f"option {missing}: compile needs the vocabulary and the longest input; pass compile(program, "
            "vocab, max_seq_len) or CompileOptions(vocab=..., max_seq_len=...)"
        )
    stages: list[assemble.StageRecord] = []
    program_graph = _stage(stages, "frontend", lambda: frontend.analyse(
        program, options.vocab, options.max_seq_len, bos=options.bos, pad=options.pad, causal=options.causal,
        partial_functions=options.partial_functions,
    ), _program_summary)
    # the narrower affine SequenceMaps change the structure, so they come with folding, the first such pass
    affine = any(isinstance(chosen, options_lib.FoldOptions) for chosen in options.passes)
    graph = _stage(stages, "lower", lambda: craft.lower_each(program_graph, affine_combinations=affine),
                   _graph_summary)
    for chosen in options.passes:
        transform = craft.pass_for(chosen)
        graph = _stage(stages, transform.name, lambda: transform.apply(graph, program_graph),
                       lambda result: f"{transform.summary(result)}; {_graph_summary(result)}")
    allocation = _stage(stages, "schedule", lambda: schedule.allocate(
        scheduling.scheduling_problem(graph), allocator=options.allocator, time_limit_s=options.time_limit_s,
        workers=options.workers, seed=options.seed,
    ), _allocation_summary)
    layered = _stage(stages, "assemble", lambda: assemble.lay_out(graph, allocation), _layered_summary)
    provenance = assemble.Provenance(options, tuple(stages))
    return assemble.CompiledModel(layered, program=program, program_graph=program_graph, provenance=provenance)


def _stage(stages: list[assemble.StageRecord], name: str, run: Callable[[], Output],
           summary: Callable[[Output], str]) -> Output:
    """``run()``, recorded in ``stages`` with its seconds and ``summary`` of its output."""
    start = time.perf_counter()
    output = run()
    stages.append(assemble.StageRecord(name, time.perf_counter() - start, summary(output)))
    return output


def _program_summary(program_graph: frontend.ProgramGraph) -> str:
    computed = [label for label in program_graph.topological_labels()
                if isinstance(program_graph.expr(label), rasp.SOp) and label not in program_graph.sources]
    return f"{len(computed)} computed s-ops, output {program_graph.sink!r}"


def _graph_summary(graph: craft.BlockGraph) -> str:
    return f"{len(graph.blocks)} blocks, residual width {graph.residual_space().num_dims}"


def _allocation_summary(allocation: schedule.Allocation) -> str:
    fused = f", {len(allocation.fusion_groups)} regions fused" if allocation.fusion_groups else ""
    return (f"{allocation.status.name}, {allocation.shape.num_layers} layers, {allocation.parameter_count:,} "
            f"parameters{fused}")


def _layered_summary(layered: assemble.LayeredModel) -> str:
    return f"{len(layered.layers)} layers, residual width {layered.residual_space.num_dims}"
