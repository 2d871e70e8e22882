"""The exact allocation: a CP-SAT model over one layer variable per block.

Objective, lexicographic: (1) layers L, (2) parameters, (3) a tie-break preferring early placement.
(1) is settled without search: the ASAP placement is valid and has the fewest layers any placement can
have (see `bounds`), so L is fixed to `depth_lower_bound` and nothing with fewer layers is lost.
(2) With L fixed, `parameter_count` is `fixed + L * (a * H + b * M)` with constants a = 2D(dk + dv) and
b = 2D (dk, dv are maxima over all heads, independent of the placement), so it is linear in the widest
layer's heads H and hidden width M: the model minimises `(a * H + b * M) / gcd(a, b)`.
(3) is a second, greedy stage (`compact.pull_earlier`): each block moves to its earliest layer that keeps
every layer within the solver's H and M, so it never costs a parameter. Weighting the tie-break into the
objective made proofs several times slower on 60-block problems.

Each block's layer ranges over [ASAP layer, ALAP layer in L layers] only. Per-layer loads use one literal
per (block, layer of its domain), whose linear relaxation proves optimality quickly; above
`MAX_MEMBERSHIP_LITERALS` (e.g. 1,000 random blocks) two cumulative constraints replace them, keeping the
model linear in size. With one worker and a fixed seed the search is deterministic. The model is built by
one small function per constraint family, so later families (e.g. MLP fusion, relaxing precedence on
fusible edges) slot in beside them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping

from ortools.sat.python import cp_model

from optracr.schedule import allocation as allocation_lib
from optracr.schedule import bounds
from optracr.schedule import compact
from optracr.schedule import cost
from optracr.schedule import errors
from optracr.schedule import problem as problem_lib

# The package re-exports the function `check` under the module's name, so import the function itself.
from optracr.schedule.check import check as check_allocation

BlockId = problem_lib.BlockId

# Above this many (block, layer) literals, loads are modelled by two cumulative constraints instead: their
# propagation is weaker, but the model stays linear in size and presolves in well under a second.
MAX_MEMBERSHIP_LITERALS = 10_000
Membership = dict[BlockId, dict[problem_lib.LayerIndex, cp_model.IntVar]]


@dataclasses.dataclass(frozen=True)
class _Model:
    """The CP-SAT model and the variables read back from a solution."""

    model: cp_model.CpModel
    layers: Mapping[BlockId, cp_model.IntVar]
    sublayers: Mapping[BlockId, cp_model.IntVar]
    outputs: Mapping[BlockId, cp_model.IntVar]  # output sublayer: an ATTN_MLP's MLP half, else the sublayer
    membership: Membership
    num_heads: cp_model.IntVar
    mlp_hidden_width: cp_model.IntVar
    cost_unit: int  # parameters per layer per unit of the objective


def allocate_with_cpsat(
    problem: problem_lib.Problem,
    *,
    hint: Mapping[BlockId, problem_lib.SublayerIndex] | None = None,
    time_limit_s: float = 5.0,
    workers: int = 1,
    seed: int = 0,
) -> allocation_lib.Allocation:
    """Minimise layers, then parameters, with CP-SAT; raise `SolverFailure` if no solution comes in time.

    `hint` (a valid placement in the fewest layers; otherwise ignored for ASAP) seeds the search.
    """
    start = time.perf_counter()
    num_layers = bounds.depth_lower_bound(problem)
    built = build_model(problem, num_layers)
    _add_hints(built, problem, _usable_hint(problem, hint, num_layers))
    solver = cp_model.CpSolver()
    _set_parameters(solver, time_limit_s - (time.perf_counter() - start), workers, seed)
    status = _solve(solver, built.model, time_limit_s)
    placement = compact.pull_earlier(
        problem, {block_id: solver.value(var) for block_id, var in built.sublayers.items()}
    )
    parameters = cost.shape_of(problem, placement).parameter_count(problem)
    gap = 0.0 if status == cp_model.OPTIMAL else _relative_gap(problem, built, solver, parameters, num_layers)
    return allocation_lib.from_placement(
        problem,
        placement,
        status=allocation_lib.AllocationStatus.OPTIMAL if gap == 0.0 else allocation_lib.AllocationStatus.FEASIBLE,
        depth_lower_bound=num_layers,
        gap=gap,
        seconds=time.perf_counter() - start,
    )


def _set_parameters(solver: cp_model.CpSolver, seconds_left: float, workers: int, seed: int) -> None:
    """Time limit (keeping a tenth, at most 0.5 s, to read back and check), workers, seed, light presolve."""
    solver.parameters.max_time_in_seconds = max(0.0, seconds_left - min(0.1 * seconds_left, 0.5))
    solver.parameters.num_workers = workers
    solver.parameters.random_seed = seed
    # Measured on random 60-block problems: core-based search halves the slowest proofs. Symmetry detection
    # and probing cost seconds on 1,000-block models and gain nothing measurable on small ones.
    solver.parameters.optimize_with_core = True
    solver.parameters.symmetry_level = 0
    solver.parameters.cp_model_probing_level = 0


def _solve(solver: cp_model.CpSolver, model: cp_model.CpModel, time_limit_s: float) -> int:
    """Run the solver; raise `SolverFailure` unless it returns a solution."""
    try:
        status = solver.solve(model)
    except Exception as err:  # the fallback must cover any solver error
        raise errors.SolverFailure(f"CP-SAT raised {type(err).__name__}: {err}") from err
    if status in (cp_model.OPTIMAL, cp_model.FEASIBLE):
        return status
    if status == cp_model.UNKNOWN:
        raise errors.SolverFailure(
            f"CP-SAT found no allocation in the {max(time_limit_s, 0.0):.3g} s left of the time limit; raise "
            f"time_limit_s to let it finish"
        )
    raise errors.SolverFailure(
        f"CP-SAT returned {solver.status_name(status)} ({model.validate() or 'no model error reported'}); "
        f"the model is feasible by construction, so this is a bug in the schedule stage"
    )


def _relative_gap(
    problem: problem_lib.Problem,
    built: _Model,
    solver: cp_model.CpSolver,
    parameters: int,
    num_layers: int,
) -> float:
    """(parameters - proven lower bound on parameters) / parameters, from the solver's objective bound."""
    objective_bound = max(0, math.ceil(solver.best_objective_bound - 1e-6))
    parameter_bound = problem.fixed_parameters + num_layers * built.cost_unit * objective_bound
    if parameters <= parameter_bound:
        return 0.0
    return min(1.0, (parameters - parameter_bound) / parameters)


def _usable_hint(
    problem: problem_lib.Problem,
    hint: Mapping[BlockId, problem_lib.SublayerIndex] | None,
    num_layers: int,
) -> bounds.Placement:
    """`hint` if it validly places `problem` in `num_layers` layers, else the ASAP placement."""
    if hint is not None:
        try:
            check_allocation(problem, allocation_lib.from_placement(
                problem, hint, status=allocation_lib.AllocationStatus.HEURISTIC, depth_lower_bound=0
            ))
        except (errors.ScheduleError, KeyError):
            hint = None
    if hint is None or bounds.layers_used(dict(hint)) != num_layers:
        return bounds.earliest_sublayers(problem)
    return dict(hint)


def build_model(problem: problem_lib.Problem, num_layers: int) -> _Model:
    """The CP-SAT model placing `problem` in exactly the layers 0 .. num_layers - 1."""
    model = cp_model.CpModel()
    domains = _layer_domains(problem, num_layers)
    layers = {
        block_id: model.new_int_var(domain.start, domain.stop - 1, f"layer_{block_id}")
        for block_id, domain in domains.items()
    }
    sublayers = _add_alternation(model, problem, layers, domains)
    outputs = _add_pairing(model, problem, sublayers, domains)
    _add_precedence(model, problem, sublayers, outputs)
    if _membership_size(problem, domains) <= MAX_MEMBERSHIP_LITERALS:
        membership = _add_layer_membership(model, problem, layers, domains)
        num_heads, mlp_hidden_width = _add_layer_loads(model, problem, membership, domains)
    else:
        membership = {}
        num_heads, mlp_hidden_width = _add_cumulative_loads(model, problem, layers)
    cost_unit = _add_objective(model, problem, num_heads, mlp_hidden_width)
    return _Model(model, layers, sublayers, outputs, membership, num_heads, mlp_hidden_width, cost_unit)


def _layer_domains(problem: problem_lib.Problem, num_layers: int) -> dict[BlockId, range]:
    """Each block's possible layers: from its ASAP layer to its ALAP layer in `num_layers` layers."""
    earliest = bounds.earliest_sublayers(problem)
    latest = bounds.latest_sublayers(problem, num_layers)
    return {block.id: range(earliest[block.id] // 2, latest[block.id] // 2 + 1) for block in problem.blocks}


def _add_alternation(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    layers: Mapping[BlockId, cp_model.IntVar],
    domains: Mapping[BlockId, range],
) -> dict[BlockId, cp_model.IntVar]:
    """Sublayer = 2 * layer for attention-side blocks, 2 * layer + 1 for MLPs: the parity of each kind."""
    sublayers = {}
    for block in problem.blocks:
        first, last = domains[block.id][0], domains[block.id][-1]
        sublayer = model.new_int_var(
            problem_lib.sublayer_of_layer(block.kind, first),
            problem_lib.sublayer_of_layer(block.kind, last),
            f"sublayer_{block.id}",
        )
        model.add(sublayer == 2 * layers[block.id] + block.kind.offset)
        sublayers[block.id] = sublayer
    return sublayers


def _add_pairing(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    sublayers: Mapping[BlockId, cp_model.IntVar],
    domains: Mapping[BlockId, range],
) -> dict[BlockId, cp_model.IntVar]:
    """Each block's output sublayer: an ATTN_MLP's MLP half takes the sublayer right after its head."""
    outputs = dict(sublayers)
    for block in problem.blocks:
        if block.kind is problem_lib.BlockKind.ATTN_MLP:
            first, last = 2 * domains[block.id][0] + 1, 2 * domains[block.id][-1] + 1
            mlp_half = model.new_int_var(first, last, f"mlp_of_{block.id}")
            model.add(mlp_half == sublayers[block.id] + 1)
            outputs[block.id] = mlp_half
    return outputs


def _add_precedence(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    sublayers: Mapping[BlockId, cp_model.IntVar],
    outputs: Mapping[BlockId, cp_model.IntVar],
) -> None:
    """Every block sits strictly after the sublayer where each dependency's output appears."""
    for block in problem.blocks:
        for dep in block.depends_on:
            model.add(sublayers[block.id] >= outputs[dep] + 1)


def _add_layer_membership(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    layers: Mapping[BlockId, cp_model.IntVar],
    domains: Mapping[BlockId, range],
) -> Membership:
    """One literal per (block, layer of its domain) for blocks that add width: true iff it sits there."""
    membership: Membership = {}
    for block in problem.blocks:
        domain = domains[block.id]
        if block.widths == (0, 0) or len(domain) == 1:
            continue
        literals = {layer: model.new_bool_var(f"in_{block.id}_{layer}") for layer in domain}
        model.add_exactly_one(literals.values())
        model.add(cp_model.LinearExpr.weighted_sum(list(literals.values()), list(domain)) == layers[block.id])
        membership[block.id] = literals
    return membership


def _membership_size(problem: problem_lib.Problem, domains: Mapping[BlockId, range]) -> int:
    """How many (block, layer) literals `_add_layer_membership` would create."""
    return sum(
        len(domains[block.id]) for block in problem.blocks
        if block.widths != (0, 0) and len(domains[block.id]) > 1
    )


def _add_layer_loads(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    membership: Membership,
    domains: Mapping[BlockId, range],
) -> tuple[cp_model.IntVar, cp_model.IntVar]:
    """H >= heads of every layer and M >= hidden width of every layer (the objective makes them the maxima)."""
    maxima = []
    for side, name in ((0, "num_heads"), (1, "mlp_hidden_width")):
        fixed: dict[int, int] = {}  # per layer: width of the blocks that can sit nowhere else
        placed: dict[int, tuple[list[cp_model.IntVar], list[int]]] = {}  # per layer: membership literals
        for block in problem.blocks:
            width = block.widths[side]
            if width == 0:
                continue
            if block.id not in membership:
                fixed[domains[block.id][0]] = fixed.get(domains[block.id][0], 0) + width
                continue
            for layer, literal in membership[block.id].items():
                literals, widths = placed.setdefault(layer, ([], []))
                literals.append(literal)
                widths.append(width)
        used = set(fixed) | set(placed)
        upper = max((fixed.get(layer, 0) + sum(placed.get(layer, ((), ()))[1]) for layer in used), default=0)
        maximum = model.new_int_var(0, upper, name)
        for layer in sorted(used):
            literals, widths = placed.get(layer, ([], []))
            model.add(maximum >= cp_model.LinearExpr.weighted_sum(literals, widths) + fixed.get(layer, 0))
        maxima.append(maximum)
    return maxima[0], maxima[1]


def _add_cumulative_loads(
    model: cp_model.CpModel, problem: problem_lib.Problem, layers: Mapping[BlockId, cp_model.IntVar]
) -> tuple[cp_model.IntVar, cp_model.IntVar]:
    """H and M as the capacities of two cumulative constraints over one-layer intervals (large models)."""
    maxima = []
    for side, name in ((0, "num_heads"), (1, "mlp_hidden_width")):
        intervals, demands = [], []
        for block in problem.blocks:
            if width := block.widths[side]:
                intervals.append(model.new_fixed_size_interval_var(layers[block.id], 1, f"{name}_{block.id}"))
                demands.append(width)
        maximum = model.new_int_var(max(demands, default=0), sum(demands), name)
        model.add_cumulative(intervals, demands, maximum)
        maxima.append(maximum)
    return maxima[0], maxima[1]


def _add_objective(
    model: cp_model.CpModel,
    problem: problem_lib.Problem,
    num_heads: cp_model.IntVar,
    mlp_hidden_width: cp_model.IntVar,
) -> int:
    """Minimise the parameters at fixed L, `L * (a * H + b * M)`, divided by `L * gcd(a, b)`; return the gcd."""
    per_head, per_hidden_unit = cost.per_layer_costs(problem)
    unit = math.gcd(per_head, per_hidden_unit) or 1
    model.minimize((per_head // unit) * num_heads + (per_hidden_unit // unit) * mlp_hidden_width)
    return unit


def _add_hints(built: _Model, problem: problem_lib.Problem, placement: bounds.Placement) -> None:
    """Hint every variable from a valid placement in the model's layers."""
    model = built.model
    for block_id, sublayer in placement.items():
        model.add_hint(built.layers[block_id], sublayer // 2)
        model.add_hint(built.sublayers[block_id], sublayer)
        if built.outputs[block_id] is not built.sublayers[block_id]:
            model.add_hint(built.outputs[block_id], sublayer + 1)
        for layer, literal in built.membership.get(block_id, {}).items():
            model.add_hint(literal, layer == sublayer // 2)
    shape = cost.shape_of(problem, placement)
    model.add_hint(built.num_heads, shape.num_heads)
    model.add_hint(built.mlp_hidden_width, shape.mlp_hidden_width)

