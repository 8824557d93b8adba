"""Sweeps: grids parsed and typed, one trial function on every backend, the same numbers as serial,
failures kept as rows."""

import importlib.util
import json

import pytest

from simreal.cli import main
from simreal.sweep import Trial, grid, run_sweep
from simreal.sweep.parsing import parse_axes, parse_fixed
from simreal.sweep.trials import option_types

TINY = {"episodes": 2, "policy": "panda_grasp"}


def _trials() -> list[Trial]:
    axes = {"target": ["weak_motors", "no_such_target"], "seed": [3_000_000, 3_000_050]}
    return [Trial("evaluate", options) for options in grid(axes, TINY)]


def test_grid_is_every_combination_first_axis_slowest():
    assert grid({"a": [1, 2], "b": ["x", "y"]}, {"c": 0}) == [
        {"c": 0, "a": 1, "b": "x"}, {"c": 0, "a": 1, "b": "y"}, {"c": 0, "a": 2, "b": "x"}, {"c": 0, "a": 2, "b": "y"}]


def test_grid_text_is_typed_by_the_kind_and_bad_text_names_the_option():
    types = option_types("evaluate")
    assert parse_axes("evaluate", "target=a,b; seed=1,2", types) == {"target": ["a", "b"], "seed": [1, 2]}
    assert parse_fixed("evaluate", "episodes=3", types) == {"episodes": 3}
    with pytest.raises(ValueError, match="no option 'colour'"):
        parse_axes("evaluate", "colour=red", types)
    with pytest.raises(ValueError, match="seed: 'x' is not a int"):
        parse_axes("evaluate", "seed=x", types)
    with pytest.raises(ValueError, match="name=value"):
        parse_fixed("evaluate", "episodes", types)


def test_a_failing_trial_is_a_row_and_the_others_run():
    results = run_sweep(_trials(), "serial")
    assert [r.ok for r in results] == [True, True, False, False]
    assert "no_such_target" in results[2].error and "Traceback" in results[2].traceback
    assert all(r.result["episodes"] == 2 for r in results[:2])


@pytest.mark.slow
def test_the_pool_gives_the_serial_numbers():
    trials = _trials()[:2]
    assert [r.result for r in run_sweep(trials, "pool", workers=2)] == [r.result for r in run_sweep(trials)]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("ray") is None, reason="Ray is not installed (pip install simreal[ray])")
def test_a_local_ray_with_two_cpus_gathers_the_serial_numbers():
    trials = _trials()
    on_ray = run_sweep(trials, "ray", workers=2)
    serial = run_sweep(trials, "serial")
    assert [r.ok for r in on_ray] == [True, True, False, False]
    assert [r.result for r in on_ray] == [r.result for r in serial]
    assert "no_such_target" in on_ray[3].error


def test_cli_writes_every_trial_and_exits_1_when_one_failed(tmp_path):
    out = tmp_path / "sweep.json"
    code = main(["sweep", "--backend", "serial", "--grid", "target=weak_motors,no_such_target",
                 "--fixed", "episodes=1", "--out", str(out)])
    data = json.loads(out.read_text())
    assert code == 1 and len(data["trials"]) == 2 and data["trials"][1]["error"]
    assert main(["sweep", "--backend", "serial", "--grid", "colour=red", "--out", str(out)]) == 2
