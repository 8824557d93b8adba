"""Fields measured by other means (``simreal calibrate --known``) are held, written and narrowed."""

from __future__ import annotations

import json

import pytest

from simreal import assets
from simreal.calibration import run_calibration
from simreal.calibration.parameters import parse_known
from simreal.cli import main
from simreal.specs import SpecError, load_randomization, load_target
from simreal.calibration.excitation import excite
from simreal.calibration.trajectory_file import save_recording
from simreal.targets import PerturbedTarget


@pytest.fixture(scope="module")
def laggy_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("known") / "laggy.npz"
    robot = PerturbedTarget("laggy")
    try:
        save_recording(excite(robot, 3, 3.0, seed=0, routine=("swing", "touch", "swing")), path)
    finally:
        robot.close()
    return path


def test_parse_known_reads_yaml_values_and_names_bad_items():
    assert parse_known("latency_steps=3, joint_offset=[0, 0.1, 0, 0, 0, 0, 0],object_mass_scale=3") == {
        "latency_steps": 3, "joint_offset": [0, 0.1, 0, 0, 0, 0, 0], "object_mass_scale": 3}
    assert parse_known("") == {}
    with pytest.raises(SpecError, match=r"'known' = 'latency_steps'.*name=value"):
        parse_known("latency_steps")
    with pytest.raises(SpecError, match=r"'known.joint_offset' = '\[0, 1'"):
        parse_known("joint_offset=[0, 1")


def test_known_values_are_checked_against_the_schema_and_the_params(tmp_path, laggy_file):
    cases = [({"latency_steps": 3}, ["latency_steps"], r"'known.latency_steps' = 3.*not also in --params"),
             ({"object_mass_scale": 50.0}, ["position_noise"], r"known.object_mass_scale.*\[0.05, 20.0\]"),
             ({"joint_offset": [0.0, 0.1]}, ["position_noise"], r"known.joint_offset.*7 values"),
             ({"actuator_gian": 1.0}, ["position_noise"], r"actuator_gian")]
    for known, params, message in cases:
        with pytest.raises(SpecError, match=message):
            run_calibration("panda", [laggy_file], params, "x", tmp_path, workers=1, known=known)


def test_a_known_field_is_held_and_written_and_a_wrong_one_fits_worse(tmp_path, laggy_file, capsys):
    """laggy's latency is 3 steps: held at 3, the joints are explained far better than held at 0."""
    truth = assets.target_profile("laggy").dynamics
    args = ["calibrate", "--data", str(laggy_file), "--params", "position_noise", "--out-dir", str(tmp_path)]
    assert main([*args, "--name", "right", "--known", "latency_steps=3"]) == 0
    main([*args, "--name", "wrong", "--known", "latency_steps=0"])
    capsys.readouterr()
    reports = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in ("right", "wrong")}
    assert reports["right"]["known"] == {"latency_steps": 3}
    right, wrong = (reports[n]["residual_after"]["joint_rms_rad"] for n in ("right", "wrong"))
    assert right < 0.5 * wrong, (right, wrong)
    profile = load_target(tmp_path / "right.yaml").dynamics
    assert profile.latency_steps == 3
    assert abs(profile.position_noise - truth.position_noise) <= 0.2 * truth.position_noise
    assert load_randomization(tmp_path / "right_randomization.yaml").range_of("latency_steps") == (3, 3)
    assert main([*args, "--name", "bad", "--known", "latency_steps=abc"]) == 2
    assert "known.latency_steps" in capsys.readouterr().out
