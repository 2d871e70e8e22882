"""The shape the reference's hop counting gives 3 layers compiles to 2 with the solver, exactly."""

from __future__ import annotations

import optracr
from optracr import rasp


def _program() -> rasp.SOp:
    first = rasp.Select(rasp.indices, rasp.indices, rasp.Comparison.EQ)
    x = rasp.Aggregate(first, rasp.tokens).named("x")  # attention reading the input
    y = rasp.Map(lambda t: t.upper(), x).named("y")  # MLP reading x
    z = rasp.Map(lambda t: t == "a", rasp.tokens).named("z")  # MLP reading the input
    # attention keyed on z: where the token is "a", read the first token
    w = rasp.Aggregate(rasp.Select(rasp.indices, z, lambda key, query: key == 0 and query), rasp.tokens).named("w")
    return rasp.SequenceMap(lambda upper, first_token: f"{upper}{first_token}", y, w).named("out")


def test_solver_needs_two_layers_where_hop_counting_takes_three() -> None:
    program = _program()
    reference_structure = {"fold": False, "fuse": False}
    solver = optracr.compile(program, {"a", "b"}, 4, allocator="solver", **reference_structure)
    heuristic = optracr.compile(program, {"a", "b"}, 4, allocator="heuristic", **reference_structure)
    assert (solver.config.num_layers, heuristic.config.num_layers) == (2, 3)
    assert solver.sublayer_contents == (("x",), ("y", "z"), ("w",), ("out",))
    for model in (solver, heuristic):
        assert optracr.verify(model, program).ok


def test_folding_takes_the_same_program_to_one_layer() -> None:
    """z (a map of tokens) folds into w's query and y (a map of x) into out's reads: one layer is enough."""
    program = _program()
    model = optracr.compile(program, {"a", "b"}, 4)
    assert model.config.num_layers == 1
    assert model.sublayer_contents == (("x", "w"), ("out",))
    assert model.layered.locations["z"].folded_into == ("w",) and model.layered.locations["y"].folded_into == ("out",)
    assert optracr.verify(model, program).ok
