"""``compile``: the stages chained, and nothing else."""

from __future__ import annotations

import time
from collections.abc import Hashable, Iterable

from optracr import assemble, craft, export, frontend, schedule, scheduling
from optracr.errors import CompileError
from optracr.frontend import rasp

ALLOCATORS = schedule.ALLOCATORS
COMPILER_BOS = "compiler_bos"  # the reference's BOS and PAD tokens, compile_rasp_to_model's defaults
COMPILER_PAD = "compiler_pad"


def compile(  # noqa: A001 - the reference's verb, on purpose
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    *,
    causal: bool | str = False,
    bos: Hashable = "BOS",
    pad: Hashable = "PAD",
    allocator: str = "solver",
    time_limit_s: float = 5.0,
    workers: int = 1,
    seed: int = 0,
    fold: bool = True,
    fuse: bool = True,
    fused_width_cap: int | None = None,
    partial_functions: str = "refuse",
) -> assemble.CompiledModel:
    """Compiles ``program`` into a transformer exact on every input of ``vocab`` up to ``max_seq_len``.

    ``fold`` (default on) gives no block to s-ops that are linear in directions already in the residual
    (e.g. any Map of ``tokens``): their readers compose them. ``fuse`` (default on) lets the allocator compute
    chains of MLP blocks in one MLP sublayer where that saves layers or parameters, each fused MLP no wider than
    ``fused_width_cap`` (default: 4 x the widest unfused MLP, at least 256). ``fold=False, fuse=False`` keeps
    the reference's structure: one block per s-op, every s-op in the residual. ``partial_functions="allow"``
    compiles Maps and SequenceMaps whose function raises on some input values (the model has no value there,
    and ``verify`` counts those inputs as undefined); by default they are a ``CompileError``. ``causal=True``
    masks every key after its query: the model computes the program's causal meaning (``optracr.causal_eval``,
    which ``verify`` compares it with), with a ``CausalMeaningWarning`` naming each selector that can pick a later
    position (where that meaning may differ from the plain one); ``causal="strict"`` refuses those instead.

    >>> import optracr
    >>> from optracr import rasp
    >>> model = optracr.compile(rasp.numerical(rasp.Map(lambda x: x == "a", rasp.tokens)), {"a", "b"}, 3)
    >>> model.apply(["BOS", "a", "b", "a"]).decoded
    ['BOS', 1.0, 0.0, 1.0]
    """
    if allocator not in ALLOCATORS:
        raise CompileError(None, f"unknown allocator {allocator!r}; use one of {', '.join(ALLOCATORS)}")
    for name, value in (("fold", fold), ("fuse", fuse)):
        if not isinstance(value, bool):
            raise CompileError(None, f"{name} must be True or False, got {value!r}")
    if fused_width_cap is not None and (isinstance(fused_width_cap, bool) or not isinstance(fused_width_cap, int)
                                        or fused_width_cap < 1):
        raise CompileError(None, f"fused_width_cap must be a positive int or None, got {fused_width_cap!r}")
    seconds: dict[str, float] = {}
    start = time.perf_counter()
    program_graph = frontend.analyse(
        program, vocab, max_seq_len, bos=bos, pad=pad, causal=causal, partial_functions=partial_functions
    )
    seconds["frontend"] = _lap(start)
    start = time.perf_counter()
    block_graph = craft.lower(program_graph, fold=fold, fuse=fuse, fused_width_cap=fused_width_cap)
    seconds["craft"] = _lap(start)
    start = time.perf_counter()
    problem = scheduling.scheduling_problem(block_graph)
    allocation = schedule.allocate(problem, allocator=allocator, time_limit_s=time_limit_s, workers=workers, seed=seed)
    seconds["schedule"] = _lap(start)
    start = time.perf_counter()
    layered = assemble.lay_out(block_graph, allocation)
    seconds["assemble"] = _lap(start)
    return assemble.CompiledModel(layered, compile_seconds=seconds, program=program, program_graph=program_graph)


def _lap(start: float) -> float:
    return time.perf_counter() - start


def compile_rasp_to_model(
    program: rasp.SOp,
    vocab: Iterable[Hashable],
    max_seq_len: int,
    causal: bool | str = False,
    compiler_bos: Hashable = COMPILER_BOS,
    compiler_pad: Hashable = COMPILER_PAD,
    mlp_exactness: int = 100,
    *,
    fold: bool = False,
    fuse: bool = False,
    partial_functions: str = "refuse",
) -> export.ReferenceCompatibleModel:
    """The reference's entry point, argument names and returned interface; ``mlp_exactness`` is ignored.

    The result has the reference's ``model_config``, ``input_encoder``, ``output_encoder``, ``params`` and
    ``apply``; ``.compiled`` is the optracr ``CompiledModel`` (``summary``, ``verify``, exports). It keeps the
    reference's structure (one block per s-op, every s-op in the residual under its label), which ported code
    that reads s-ops off the residual relies on; ``fold=True, fuse=True`` gives optracr's smaller default. Its
    BOS and PAD default to the reference's ``compiler_bos`` and ``compiler_pad`` (``optracr.compile`` uses
    ``BOS`` and ``PAD``). ``partial_functions`` is ``compile``'s.

    optracr derives every construction's precision from the value sets and ``max_seq_len``, so no knob is
    needed (the reference's default of 100 gives wrong selector widths from 10 up).
    """
    del mlp_exactness
    model = compile(
        program, vocab, max_seq_len, causal=causal, bos=compiler_bos, pad=compiler_pad, fold=fold, fuse=fuse,
        partial_functions=partial_functions,
    )
    return export.reference_model(model)
