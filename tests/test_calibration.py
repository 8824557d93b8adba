"""Calibration end to end on short recordings: the excitation's limits, files, the verbs, the fit's verdicts.

The full recoveries (every shipped profile and family members, 60 s recordings, calibrated
blind) are ``tests/test_calibration_recovery.py``, in the slow tier.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import (
    CalibrationDataError,
    calibrate,
    excite,
    load_recording,
    run_calibration,
    save_recording,
)
from simreal.calibration.excitation import SAFE_MARGIN, SPEED_FRACTION
from simreal.cli import main
from simreal.specs import SpecError, load_randomization, load_target
from simreal.targets import PerturbedTarget


def _record(profile, path, trajectories: int = 10, seconds: float = 6.0, seed: int = 0, routine="default"):
    target = PerturbedTarget(profile)
    try:
        recording = excite(target, trajectories, seconds, seed, routine=routine)
    finally:
        target.close()
    save_recording(recording, path)
    return recording


def _assert_within_limits(spec, recording):
    allowed = SPEED_FRACTION * spec.velocity_limits * recording.control_period
    for traj in recording.trajectories:
        commands = np.vstack([spec.home, traj.commands])
        assert np.all(np.abs(np.diff(commands, axis=0)) <= allowed + 1e-9)
        assert np.all(traj.commands >= spec.lower + SAFE_MARGIN - 1e-9)
        assert np.all(traj.commands <= spec.upper - SAFE_MARGIN + 1e-9)


def test_the_default_routine_holds_every_kind_within_the_limits(tmp_path):
    spec = assets.robot_spec("panda")
    recording = _record("miscalibrated", tmp_path / "d.npz", trajectories=10, seconds=2.0)
    kinds = [t.kind for t in recording.trajectories]
    assert kinds[0] == "gravity" and set(kinds) == {"gravity", "push", "swing", "lift", "touch", "weigh", "twist"}
    assert recording.duration == pytest.approx(20.0)
    _assert_within_limits(spec, recording)  # the contacts are driven through the torques' offsets, in the limits
    robot = PerturbedTarget("miscalibrated")
    try:
        with pytest.raises(ValueError, match="routine"):
            excite(robot, 1, 1.0, routine="nope")
        with pytest.raises(ValueError, match="routine"):
            excite(robot, 1, 1.0, routine=("swing", "juggle"))
    finally:
        robot.close()
    assert main(["record", "--target", "laggy", "--out", str(tmp_path / "x.npz"), "--routine", "nope"]) == 2


def test_same_seed_same_data_and_same_fit(tmp_path):
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    swings = ("swing", "swing")
    first = _record("weak_motors", tmp_path / "a.npz", trajectories=2, seconds=2.0, seed=3, routine=swings)
    second = _record("weak_motors", tmp_path / "b.npz", trajectories=2, seconds=2.0, seed=3, routine=swings)
    other = _record("weak_motors", tmp_path / "c.npz", trajectories=2, seconds=2.0, seed=4, routine=swings)
    for a, b, c in zip(first.trajectories, second.trajectories, other.trajectories, strict=True):
        assert np.array_equal(a.commands, b.commands) and np.array_equal(a.joint_positions, b.joint_positions)
        assert not np.array_equal(a.commands, c.commands)
    fits = [calibrate(load_recording(tmp_path / f"{n}.npz", spec), ["actuator_gain"], spec, scene, workers=1)
            for n in ("a", "b")]
    assert fits[0].dynamics == fits[1].dynamics
    assert fits[0].dynamics.actuator_gain != 1.0


@pytest.fixture(scope="module")
def small_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rec") / "small.npz"
    _record("laggy", path, trajectories=2, seconds=1.0)
    return path


def _rewrite(source, target, change) -> None:
    with np.load(source, allow_pickle=False) as data:
        arrays = {k: data[k] for k in data.files}
    change(arrays)
    np.savez(target, **arrays)


def test_empty_and_truncated_files_name_the_file(tmp_path, small_file):
    spec = assets.robot_spec("panda")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    with pytest.raises(CalibrationDataError, match=r"empty\.npz.*<file>"):
        load_recording(empty, spec)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(small_file.read_bytes()[: small_file.stat().st_size // 2])
    with pytest.raises(CalibrationDataError, match=r"cut\.npz"):
        load_recording(cut, spec)
    missing = tmp_path / "missing.npz"
    with zipfile.ZipFile(small_file) as zin, zipfile.ZipFile(missing, "w") as zout:
        for item in zin.infolist():
            if item.filename != "t1_joint_positions.npy":
                zout.writestr(item, zin.read(item.filename))
    with pytest.raises(CalibrationDataError, match=r"missing\.npz: field 't1_joint_positions'.*truncated"):
        load_recording(missing, spec)


def test_nan_and_wrong_robot_name_the_field(tmp_path, small_file):
    spec = assets.robot_spec("panda")

    def poison(arrays):
        arrays["t0_joint_positions"][4, 2] = np.nan

    _rewrite(small_file, tmp_path / "nan.npz", poison)
    with pytest.raises(CalibrationDataError, match=r"nan\.npz: field 't0_joint_positions\[4, 2\]' = nan"):
        load_recording(tmp_path / "nan.npz", spec)
    with pytest.raises(CalibrationDataError, match=r"field 'robot' = 'panda'.*xarm6"):
        load_recording(small_file, assets.robot_spec("xarm6"))


def test_unknown_param_and_broken_jsonl_are_clear_errors(tmp_path, small_file):
    with pytest.raises(SpecError, match=r"'params' = 'actuator_gian'"):
        run_calibration("panda", [small_file], ["actuator_gian"], "x", tmp_path)
    log = tmp_path / "deploy.jsonl"
    good = {"episode": 0, "step": 0, "time": 0.05, "command_positions": [0.0] * 7, "command_gripper": 0.08,
            "joint_positions": [0.0] * 7, "joint_velocities": [0.0] * 7, "gripper_width": 0.08}
    log.write_text(json.dumps(good) + "\n" + json.dumps(good)[:40] + "\n")
    with pytest.raises(CalibrationDataError, match=r"deploy\.jsonl: field 'line 2'"):
        load_recording(log, assets.robot_spec("panda"))
    log.write_text(json.dumps(good) + "\n")
    recording = load_recording(log, assets.robot_spec("panda"))
    assert len(recording.trajectories) == 1 and recording.steps == 1
    with pytest.raises(CalibrationDataError, match=r"command_positions.*7 values"):
        log.write_text(json.dumps({**good, "command_positions": [0.0] * 6}) + "\n")
        load_recording(log, assets.robot_spec("panda"))


def test_cli_reports_bad_data_without_traceback(tmp_path, small_file, capsys):
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    assert main(["calibrate", "--data", str(empty), "--params", "actuator_gain", "--out-dir", str(tmp_path)]) == 2
    assert "empty.npz" in capsys.readouterr().out
    assert main(["calibrate", "--data", str(small_file), "--params", "latency_step", "--out-dir", str(tmp_path)]) == 2
    assert "latency_step" in capsys.readouterr().out
    assert main(["record", "--target", "no_such_profile", "--out", str(tmp_path / "x.npz")]) == 2
    assert "no_such_profile" in capsys.readouterr().out


def test_cli_records_and_calibrates_the_named_fields(tmp_path, capsys):
    data = tmp_path / "laggy.npz"
    assert main(["record", "--target", "laggy", "--out", str(data), "--trajectories", "3", "--seconds", "3"]) == 0
    assert main(["calibrate", "--data", str(data), "--params", "latency_steps,position_noise", "--name", "lag",
                 "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "latency_steps" in out and "rad (fitted)" in out and "stage latency" in out
    assert load_target(tmp_path / "out" / "lag.yaml").dynamics.latency_steps == 3
    report = json.loads((tmp_path / "out" / "lag.json").read_text())
    assert report["estimates"]["latency_steps"]["read_by"] == ["latency"]
    assert load_randomization(tmp_path / "out" / "lag_randomization.yaml").range_of("latency_steps") == (3, 3)


def test_a_fit_that_cannot_explain_the_data_is_flagged(tmp_path):
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    recording = _record("weak_motors", tmp_path / "weak.npz", trajectories=2, seconds=2.0, routine=("swing",))
    fit = calibrate(recording, ["latency_steps"], spec, scene, workers=1)  # the gain is what differs
    assert not fit.converged
    explained = calibrate(recording, ["actuator_gain"], spec, scene, workers=1)
    assert explained.converged and explained.residual_after["joint_rms_rad"] < fit.residual_after["joint_rms_rad"]


def test_a_repeated_replay_is_served_from_the_cache(small_file):
    """The replay is deterministic in its (noise-free) dynamics, so a repeat runs nothing and matches."""
    from dataclasses import replace

    from simreal.calibration.simulate import Simulator
    from simreal.specs import DynamicsParams

    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    recording = load_recording(small_file)
    with Simulator(spec, scene, recording.trajectories, workers=1, segment=15) as simulator:
        first = simulator.run(DynamicsParams(actuator_gain=0.5))
        again = simulator.run(DynamicsParams(actuator_gain=0.5, position_noise=0.01))  # noise is not replayed
        assert simulator.calls == 1
        assert all(np.array_equal(a.joint_positions, b.joint_positions) for a, b in zip(first, again, strict=True))
        one = simulator.run(DynamicsParams(actuator_gain=0.5), [1])  # a subset of a cached request
        assert simulator.calls == 1 and np.array_equal(one[0].joint_positions, first[1].joint_positions)
        other = simulator.run(replace(DynamicsParams(), actuator_gain=0.6))
        assert simulator.calls == 2
        assert not np.array_equal(first[0].joint_positions, other[0].joint_positions)
    with Simulator(spec, scene, recording.trajectories, workers=1, segment=15) as fresh:  # no history effect
        assert np.array_equal(fresh.run(DynamicsParams(actuator_gain=0.5))[0].joint_positions, first[0].joint_positions)


def test_the_probe_flags_a_coordinate_the_cost_hardly_sees_however_pinned_the_jacobian_looks():
    from simreal.calibration.parameters import coordinates
    from simreal.calibration.uncertainty import PROBE_STEP, analyse

    coords = coordinates(["payload_mass", "link_mass_scale", "actuator_gain"], 7)
    rng = np.random.default_rng(0)
    jac = rng.normal(0, 10, (400, 3))  # a jittery finite-difference Jacobian that claims all three pinned
    data = rng.normal(0, 1, 400)

    def cost(x):  # the truth: the payload is hardly seen, the others are
        return 400 + 10 * x[0] ** 2 + 4e4 * x[1] ** 2 + 4e4 * x[2] ** 2

    u = analyse(coords, np.zeros(3), jac, data, np.arange(400) % 4, 1.0, cost=cost)
    assert list(u.identifiable) == [False, True, True]
    assert u.sigma[0] > PROBE_STEP > u.sigma[2]
    chaotic = analyse(coords, np.zeros(3), jac, data, np.arange(400) % 4, 1.0, cost=cost, jitter=1e4)
    assert not chaotic.identifiable.any()  # no rise beats a cost that jumps that much for nothing


def test_orientation_error_ignores_the_cubes_quarter_turns_and_reads_small_rotations():
    from scipy.spatial.transform import Rotation

    from simreal.calibration.residuals import orientation_error

    recorded = Rotation.from_euler("xyz", [0.3, -0.2, 1.1])
    small = np.array([0.01, -0.02, 0.015])
    for quarter in ([np.pi / 2, 0, 0], [0, -np.pi / 2, 0], [0, 0, np.pi], [0, 0, 0]):
        simulated = recorded * Rotation.from_rotvec(small) * Rotation.from_euler("xyz", quarter)
        error = orientation_error(simulated.as_quat()[None], recorded.as_quat()[None])[0]
        assert np.allclose(error, small, atol=2e-4), (quarter, error)
    tilted = recorded * Rotation.from_rotvec([0.0, 0.0, 0.3])
    assert np.linalg.norm(orientation_error(tilted.as_quat(), recorded.as_quat())) > 0.25


def test_noise_levels_recover_white_noise_and_ringing_joints_do_not_inflate_them():
    from simreal.calibration.noise import noise_level, shared_noise_level

    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, 121)[:, None]
    truth = np.sin(t * np.arange(1, 8))
    model = truth + 0.01 * np.cos(t)  # a slowly varying model error the differences cancel
    assert noise_level([truth + rng.normal(0, 0.002, truth.shape)], [model]) == pytest.approx(0.002, rel=0.1)
    assert noise_level([truth], [truth]) == 0.0
    recorded = [rng.normal(0, 0.02, (121, 7)) for _ in range(10)]
    ringing = [np.zeros((121, 7)) for _ in range(10)]
    for m in ringing:
        m[:, 4:] = rng.normal(0, 0.02, (121, 3))
    assert noise_level(recorded, ringing) > 1.1 * 0.02
    assert shared_noise_level(recorded, ringing)[0] == pytest.approx(0.02, rel=0.06)
