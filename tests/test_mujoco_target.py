"""MuJoCo and unmodeled targets through every verb that takes a target: served on the bridge,
recorded for calibration, calibrated (the fit must say it does not explain them), benched,
and documented with the schema tables the code prints."""

from pathlib import Path

import numpy as np
import pytest

from simreal import assets
from simreal.bridge import RobotClient, RobotServer
from simreal.calibration import load_recording
from simreal.cli import main
from simreal.robot import JointCommand, ResetRequest
from simreal.specs.engine import MujocoParams
from simreal.specs.param_table import section_markdown
from simreal.specs.unmodeled import UnmodeledEffects
from simreal.targets import open_target

DOC = (Path(__file__).resolve().parents[1] / "docs" / "mujoco_target.md").read_text(encoding="utf-8")
SPEC = assets.robot_spec("panda")


def test_docs_schema_tables_match_the_code(capsys):
    for section, cls in (("mujoco", MujocoParams), ("unmodeled", UnmodeledEffects)):
        assert section_markdown(cls) in DOC, section
        assert main(["schema", "--section", section]) == 0
        assert capsys.readouterr().out.strip() == section_markdown(cls)


def test_a_mujoco_target_served_on_the_bridge_behaves_as_in_process():
    local = open_target("mujoco_panda")
    server = RobotServer(open_target("mujoco_panda")).start()
    client = RobotClient(server.endpoint, SPEC, timeout=5.0)
    request = ResetRequest({"cube": (0.45, 0.05, 0.2)})
    try:
        states = [(robot.reset(request, seed=3), robot) for robot in (local, client)]
        for first, _ in states:
            np.testing.assert_allclose(first.objects["cube"].position[:2], (0.45, 0.05), atol=0.01)
        target = np.asarray(SPEC.home) + 0.05
        traces = []
        for _, robot in states:
            trace = []
            for _ in range(10):
                robot.apply(JointCommand(target, 0.04))
                trace.append(robot.step().joint_positions)
            traces.append(np.array(trace))
        np.testing.assert_allclose(traces[0], traces[1], atol=1e-6)  # same seed, same robot, over the wire
    finally:
        client.close()
        server.stop()
        local.close()


@pytest.mark.parametrize("target", ["mujoco_panda_worn", "worn_gearbox"])
def test_record_runs_on_unmodelable_targets_with_torques(target, tmp_path):
    out = tmp_path / "data.npz"
    assert main(["record", "--target", target, "--out", str(out), "--trajectories", "2", "--seconds", "2"]) == 0
    recording = load_recording(out, SPEC)
    assert len(recording.trajectories) == 2
    assert all(t.has_torques for t in recording.trajectories)


def test_bench_calibrate_sends_each_kind_of_profile_to_its_fit(monkeypatch, capsys):
    import simreal.bench.calibrate_unmodeled as unmodeled
    import simreal.calibration.bench as modeled
    from simreal.calibration.explained import Consistency

    seen = []

    def blind(path, *args):
        seen.append(("truth", path.stem))
        return modeled.Score(path.stem, differs=1, found=1, nominal=3, nominal_fine=3, identifiable=2, covered=2,
                             wall_s=2.0)

    def beyond(name, fields, *args):
        seen.append(("beyond", Path(name).stem, tuple(fields)))
        return unmodeled.UnmodeledFit(name, tuple(fields), 1.0, 2.0, 60.0, 10, 0.03, 0.006, False,
                                      {"latency_steps": {"value": 1}},
                                      Consistency(0.006, 0.001, (1.0, 1.02, 0.98, 1.01)))

    monkeypatch.setattr(modeled, "bench_profile", blind)
    monkeypatch.setattr(unmodeled, "fit_unmodeled", beyond)
    assert main(["bench", "calibrate", "--targets", "weak_motors,mujoco_panda,worn_gearbox",
                 "--fields", "actuator_gain,latency_steps"]) == 0
    out = capsys.readouterr().out
    assert seen == [("truth", "weak_motors"), ("beyond", "mujoco_panda", ("actuator_gain", "latency_steps")),
                    ("beyond", "worn_gearbox", ("actuator_gain", "latency_steps"))]
    assert "0.0300 -> 0.0060 rad" in out and "NO" in out and "within 3 sigma" in out
    assert "0.0010 rad" in out and "6.00" in out  # the joints' noise, and the residual in its units


@pytest.mark.slow
def test_a_fit_of_the_mujoco_robot_says_whether_it_explains_the_data_by_its_residual_and_noise(tmp_path):
    """A robot outside PyBullet's model class: the fit lowers the misfit, and its verdict is the one
    its residual gives against what the fitted model leaves on recordings simulated from itself
    (``calibration.explained``), never a claim the numbers do not carry: here, that it does not
    explain the data."""
    from simreal.bench.calibrate_unmodeled import DEFAULT_FIELDS
    from simreal.calibration import record, run_calibration

    record("mujoco_panda", tmp_path / "data.npz", 4, 6.0, 0)
    fit = run_calibration("panda", [tmp_path / "data.npz"], list(DEFAULT_FIELDS), "fit", tmp_path / "out",
                          seed=0).fit
    before, after, check = fit.residual_before["joint_rms_rad"], fit.residual_after["joint_rms_rad"], fit.consistency
    assert after < before
    assert check.residual_rad == pytest.approx(after)
    noise = next(e.value for e in fit.estimates if e.label == "position_noise")
    assert check.noise_rad == pytest.approx(noise, rel=0.5)  # the ratio is in units of the joints' noise
    assert len(check.simulated) > 1 and check.limit >= check.expected
    assert fit.converged == (check.ratio <= check.limit)
    assert not fit.converged  # MuJoCo's servos leave more than the fitted model leaves on its own recordings


def test_bench_calibrate_default_fields_are_the_benchs():
    from simreal.bench.calibrate_unmodeled import DEFAULT_FIELDS
    from simreal.cli import BenchCalibrateConfig

    assert BenchCalibrateConfig().fields == ",".join(DEFAULT_FIELDS)
