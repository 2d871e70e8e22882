"""The scaling benchmark's measurement, checked against facts it does not compute itself."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from optracr import schedule
from optracr.generate import random_programs

import scaling  # benchmarks/ is on sys.path (tests/conftest.py)


@pytest.fixture(scope="module")
def tiny_row() -> dict:
    return scaling.measure(10, 0, time_limit_s=5.0, repeats=2)


def test_tiny_row_describes_the_generated_program(tiny_row: dict) -> None:
    generated = random_programs.generate(0, num_sops=10)
    problem = scaling.scheduling_problem(generated)
    assert (tiny_row["num_sops"], tiny_row["seed"]) == (10, 0)
    assert tiny_row["num_blocks"] == len(problem.blocks)
    assert tiny_row["num_dependencies"] == sum(len(block.depends_on) for block in problem.blocks)


def test_solver_is_never_worse_than_heuristic_and_reaches_the_depth_bound(tiny_row: dict) -> None:
    heuristic, solver = tiny_row["heuristic"], tiny_row["solver"]
    problem = scaling.scheduling_problem(random_programs.generate(0, num_sops=10))
    assert solver["layers"] <= heuristic["layers"]
    assert (solver["layers"], solver["params"]) <= (heuristic["layers"], heuristic["params"])
    # ASAP's layer count is the exact minimum (schedule.bounds); an OPTIMAL/FEASIBLE solver reaches it.
    assert solver["layers"] == schedule.allocate_asap(problem).num_layers == solver["depth_lower_bound"]


def test_statuses_are_valid_and_the_solver_kept_its_time_limit(tiny_row: dict) -> None:
    heuristic, solver = tiny_row["heuristic"], tiny_row["solver"]
    assert heuristic["status"] == "HEURISTIC" and heuristic["gap"] is None
    assert solver["status"] in {"OPTIMAL", "FEASIBLE", "FALLBACK"}
    assert (solver["status"] == "FALLBACK") == (solver["reason"] is not None)
    if solver["status"] == "OPTIMAL":
        assert solver["gap"] == 0.0
    assert solver["alloc_s"] <= tiny_row["time_limit_s"] + scaling.LIMIT_SLACK_S
    assert tiny_row["solver_within_limit"] and tiny_row["checked"]


def test_a_solver_without_time_falls_back_cleanly_and_says_so() -> None:
    row = scaling.measure(10, 1, time_limit_s=0.0, repeats=1)  # seed 1: a problem with room to search
    solver = row["solver"]
    assert solver["status"] == "FALLBACK" and solver["gap"] is None
    assert "time limit" in solver["reason"] and solver["fallback_warnings"] == 1
    assert solver["layers"] <= row["heuristic"]["layers"]  # the fallback is the best of the heuristics
    assert row["checked"]


def test_a_forced_placement_needs_no_time_and_is_optimal() -> None:
    row = scaling.measure(10, 0, time_limit_s=0.0, repeats=1)  # seed 0: one placement in the fewest layers
    assert (row["solver"]["status"], row["solver"]["gap"], row["solver"]["fallback_warnings"]) == ("OPTIMAL", 0.0, 0)
    assert row["solver"]["layers"] == row["heuristic"]["layers"] and row["checked"]


def test_stage_times_are_present_and_bounded_by_the_compile_time(tiny_row: dict) -> None:
    for allocator in scaling.ALLOCATORS:
        result = tiny_row[allocator]
        assert set(result["stage_s"]) == set(scaling.STAGES)
        assert all(seconds >= 0 for seconds in result["stage_s"].values())
        assert sum(result["stage_s"].values()) <= result["compile_s"]
        assert 0 <= result["alloc_s"] <= result["stage_s"]["schedule"]
    assert tiny_row["heuristic_alloc_s"] > 0


def test_model_sizes_match_an_independent_recompile(tiny_row: dict) -> None:
    import optracr

    generated = random_programs.generate(0, num_sops=10)
    for allocator in scaling.ALLOCATORS:
        model = optracr.compile(generated.program, generated.vocab, generated.max_seq_len, allocator=allocator)
        assert tiny_row[allocator]["layers"] == model.config.num_layers
        assert tiny_row[allocator]["params"] == model.params_total == model.allocation.parameter_count


def test_fitted_slope_recovers_known_powers() -> None:
    sizes = [10, 30, 100, 300, 1000]
    assert scaling.fitted_slope(sizes, [2e-5 * n for n in sizes]) == pytest.approx(1.0)
    assert scaling.fitted_slope(sizes, [3e-7 * n**2 for n in sizes]) == pytest.approx(2.0)
    assert math.isnan(scaling.fitted_slope([10, 10], [1.0, 2.0]))


def test_heuristic_work_grows_linearly_with_blocks() -> None:
    sweep = scaling.heuristic_sweep([200, 2000], repeats=1)
    assert [entry["num_blocks"] for entry in sweep] == [200, 2000]
    ratio = sweep[1]["calls"] / sweep[0]["calls"]
    assert 9.0 < ratio < 11.0  # ten times the blocks, ten times the Python calls: linear


def test_slopes_and_table_cover_every_series(tiny_row: dict) -> None:
    rows = [tiny_row, {**tiny_row, "num_sops": 20}]
    fitted = scaling.slopes(rows)
    assert set(fitted) == set(scaling.SERIES)
    assert all(slope == pytest.approx(0.0) for slope in fitted.values())  # same times at both sizes
    table = scaling.markdown(rows).splitlines()
    assert len(table) == 4 and table[2].startswith("| 10 | 0 | ")


@pytest.mark.slow
def test_main_writes_json_and_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    scaling.main(["--sizes", "10,30", "--seeds", "1", "--time-limit", "5", "--repeats", "1", "--out", str(tmp_path)])
    report = json.loads((tmp_path / "scaling.json").read_text())
    assert [row["num_sops"] for row in report["rows"]] == [10, 30]
    assert (tmp_path / "scaling.png").stat().st_size > 0


@pytest.mark.slow
def test_thousand_sops_compile_end_to_end_within_a_minute() -> None:
    row = scaling.measure(1000, 0, time_limit_s=30.0, repeats=1)
    assert row["solver"]["compile_s"] < 60.0
    assert row["solver_within_limit"]
    assert row["solver"]["layers"] <= row["heuristic"]["layers"]
