"""Calibration: record a target profile, fit the fields it sets, compare with its truth.

Tolerances follow the issue's bars: every fitted continuous value within 10 % of the
truth, latency exact. ``joint_offset`` truths include 0.0, so offsets are held to 10 %
of the largest true offset magnitude, per joint (0.005 rad for ``miscalibrated``).
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
    profile_fields,
    run_calibration,
    save_recording,
)
from simreal.calibration.excitation import SAFE_MARGIN
from simreal.calibration.geometry import ContactGeometry
from simreal.cli import main
from simreal.specs import SpecError, load_randomization, load_target
from simreal.targets import PerturbedTarget

FAST = ("laggy", "weak_motors", "soft_shoulder")  # in the default run; the rest are marked slow
KNOWN_GAPS = {  # profiles the current excitation + fit do not yet meet the bars on (see the report)
    "heavy_payload": "the fit depends on the order the fields are scanned in: with --params payload_mass,"
                     "link_mass_scale,joint_gain_scale,... every field lands within 5 % (joint RMS 0.0015 rad, the "
                     "truth's), but with this test's order (joint_gain_scale, link_mass_scale, payload_mass) the "
                     "coordinate scan ends in another part of the gain/mass valley that one round of _coupled_scan "
                     "does not leave: joint_gain_scale[0] 1.17 (truth 1.0), payload 2.90 kg (truth 2.0)",
    "miscalibrated": "the default excitation hides encoder offsets (free space moves commands and readings "
                     "together): the fit reaches the joint-noise floor but joint 1's offset lands ~0.1 rad off, "
                     "and velocity_noise reads 0.023 (truth 0.02, model error at contacts). The opt-in "
                     "'record --routine offsets' data get every offset within 14 mrad (bar 5); see the report",
    "slippery": "friction x grip force / object mass are not separable; only the product is identifiable",
}


def _profiles() -> list:
    out = []
    for name in assets.available("target"):
        marks = [] if name in FAST else [pytest.mark.slow]
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


def _record(profile: str, path, trajectories: int = 10, seconds: float = 6.0, seed: int = 0):
    robot = PerturbedTarget(profile)
    try:
        recording = excite(robot, trajectories, seconds, seed)
    finally:
        robot.close()
    save_recording(recording, path)
    return recording


def _assert_close(name: str, fitted: object, truth: object) -> None:
    if name == "latency_steps":
        assert fitted == truth
    elif name == "joint_offset":
        tolerance = 0.1 * max(abs(v) for v in truth)
        assert np.max(np.abs(np.subtract(fitted, truth))) <= tolerance, (fitted, truth)
    elif isinstance(truth, tuple):  # per-joint scales: each joint within 10 %
        assert np.all(np.abs(np.subtract(fitted, truth)) <= 0.1 * np.abs(truth)), (name, fitted, truth)
    else:
        assert abs(fitted - truth) <= 0.1 * abs(truth), (name, fitted, truth)


@pytest.mark.parametrize("profile", _profiles())
def test_fit_recovers_each_profile(profile, tmp_path):
    truth = assets.target_profile(profile)
    recording = _record(profile, tmp_path / "data.npz")
    assert len(recording.trajectories) <= 10 and recording.duration <= 60.0
    params = profile_fields(profile)
    result = run_calibration(truth.robot, [tmp_path / "data.npz"], params, "fit", tmp_path / "out")
    for name in params:
        _assert_close(name, getattr(result.fit.dynamics, name), getattr(truth.dynamics, name))
    assert result.fit.converged
    assert result.fit.residual_after["joint_rms_rad"] < result.fit.residual_before["joint_rms_rad"]
    # what is written loads, and the narrowed ranges hold the truth
    fitted = load_target(result.paths["profile"])
    assert fitted.robot == truth.robot and fitted.name == "fit"
    ranges = load_randomization(result.paths["randomization"])
    for name in params:  # per joint for per-joint fields
        low, high, value = (np.atleast_1d(v) for v in (*ranges.range_of(name), getattr(truth.dynamics, name)))
        assert np.all((low <= value) & (value <= high)), (name, value, low, high)
    default = assets.randomization_spec("default")  # the other fields keep the default ranges
    for name, low, high in default.ranges:
        if name not in params:
            assert ranges.range_of(name) == (low, high), name
    report = json.loads(result.paths["report"].read_text())
    assert set(report["estimates"]) == set(params)
    assert all(e["identifiable"] for e in report["estimates"].values()), report["combinations"]
    assert result.paths["plot"].stat().st_size > 10_000


def _assert_within_limits(spec, recording):
    allowed = spec.velocity_limits * recording.control_period
    for traj in recording.trajectories:
        commands = np.vstack([spec.home, traj.commands])
        assert np.all(np.abs(np.diff(commands, axis=0)) <= allowed + 1e-9)
        assert np.all(traj.commands >= spec.lower + SAFE_MARGIN - 1e-9)
        assert np.all(traj.commands <= spec.upper - SAFE_MARGIN + 1e-9)


def test_excitation_respects_velocity_and_joint_limits(tmp_path):
    recording = _record("soft_shoulder", tmp_path / "soft.npz", trajectories=4, seconds=6.0)
    _assert_within_limits(assets.robot_spec("panda"), recording)


def test_offsets_routine_is_opt_in_and_respects_limits(tmp_path, capsys):
    spec = assets.robot_spec("panda")
    data = tmp_path / "offsets.npz"
    assert main(["record", "--target", "miscalibrated", "--out", str(data), "--trajectories", "2",
                 "--seconds", "4", "--routine", "offsets"]) == 0
    probes = load_recording(data, spec)
    _assert_within_limits(spec, probes)
    default = _record("miscalibrated", tmp_path / "default.npz", trajectories=2, seconds=4.0)
    assert not np.array_equal(default.trajectories[0].commands, probes.trajectories[0].commands)
    robot = PerturbedTarget("miscalibrated")
    try:
        with pytest.raises(ValueError, match="routine"):
            excite(robot, 1, 1.0, routine="nope")
    finally:
        robot.close()
    assert main(["record", "--target", "laggy", "--out", str(tmp_path / "x.npz"), "--routine", "nope"]) == 2


def test_contact_geometry_is_consistent_at_the_true_offsets(tmp_path):
    """Touches found in an offsets recording: the hand posed at measured - true offset rests on
    what it touched (one common contact depth), while the nominal pose does not."""
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    truth = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
    robot = PerturbedTarget("miscalibrated")
    try:
        recording = excite(robot, 2, 6.0, routine="offsets")
    finally:
        robot.close()
    geometry = ContactGeometry(recording, spec, scene)
    try:
        assert len(geometry.instants) >= 5
        kinds = np.array([kind for *_, kind in geometry.instants])
        touch = kinds == "touch"
        at_truth, at_zero = geometry.residuals(truth)[touch], geometry.residuals(np.zeros(spec.dof))[touch]
    finally:
        geometry.close()
    assert np.std(at_truth) < 0.004 and np.std(at_truth) < 0.5 * np.std(at_zero), (at_truth, at_zero)


def test_same_seed_same_data_and_same_fit(tmp_path):
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    first = _record("weak_motors", tmp_path / "a.npz", trajectories=2, seconds=2.0, seed=3)
    second = _record("weak_motors", tmp_path / "b.npz", trajectories=2, seconds=2.0, seed=3)
    other = _record("weak_motors", tmp_path / "c.npz", trajectories=2, seconds=2.0, seed=4)
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


def test_cli_records_and_calibrates(tmp_path, capsys):
    data = tmp_path / "laggy.npz"
    assert main(["record", "--target", "laggy", "--out", str(data), "--trajectories", "3", "--seconds", "3"]) == 0
    assert main(["calibrate", "--data", str(data), "--params", "latency_steps,position_noise", "--name", "lag",
                 "--out-dir", str(tmp_path / "out")]) == 0
    out = capsys.readouterr().out
    assert "latency_steps" in out and "rad (fitted)" in out
    assert load_target(tmp_path / "out" / "lag.yaml").dynamics.latency_steps == 3


def test_noise_level_recovers_white_noise_under_a_smooth_model_error():
    from simreal.calibration.fit import noise_level

    rng = np.random.default_rng(0)
    t = np.linspace(0, 6, 121)[:, None]
    truth = np.sin(t * np.arange(1, 8))
    recorded = truth + rng.normal(0, 0.002, truth.shape)
    model = truth + 0.01 * np.cos(t)  # a slowly varying model error the differences cancel
    assert noise_level([recorded], [model]) == pytest.approx(0.002, rel=0.1)
    assert noise_level([truth], [truth]) == 0.0


def test_a_fit_that_cannot_explain_the_data_is_flagged(tmp_path):
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    recording = _record("weak_motors", tmp_path / "weak.npz", trajectories=2, seconds=2.0)
    fit = calibrate(recording, ["latency_steps"], spec, scene, workers=1)  # the gain is what differs
    assert not fit.converged
    explained = calibrate(recording, ["actuator_gain"], spec, scene, workers=1)
    assert explained.converged


def test_probe_flags_a_flat_valley_a_jittery_jacobian_hides():
    from simreal.calibration.parameters import coordinates
    from simreal.calibration.uncertainty import PROBE_STEP, analyse

    coords = coordinates(["payload_mass", "link_mass_scale", "actuator_gain"], 7)
    rng = np.random.default_rng(0)
    seen = rng.normal(0, 10, (400, 2))
    # payload + ln(link mass) and the gain are seen; jitter adds curvature along the valley too
    jac = np.column_stack([seen[:, 0], seen[:, 0], seen[:, 1]]) + rng.normal(0, 1, (400, 3))
    data = rng.normal(0, 1, 400)

    def cost(x):  # the truth: only payload + ln(link mass) and the gain are seen
        return 400 + 4e4 * (x[0] + x[1]) ** 2 + 4e4 * x[2] ** 2 + 10 * (x[0] - x[1]) ** 2

    u = analyse(coords, np.zeros(3), jac, data, np.arange(400) % 4, 1.0, cost=cost)
    assert list(u.identifiable) == [False, False, True]
    assert u.sigma[0] > PROBE_STEP and u.sigma[2] < PROBE_STEP
    (combo,) = u.combinations
    assert set(combo["fields"]) == {"payload_mass", "link_mass_scale"}
    (trade,) = combo["trade_off"]
    weights = trade["weights"]
    assert weights["payload_mass"] == pytest.approx(-weights["link_mass_scale"], rel=0.05)


@pytest.mark.slow
@pytest.mark.xfail(strict=True, reason="with this test's field order the fit ends at payload_mass 2.90 kg (truth "
                   "2.0), reported identifiable (see KNOWN_GAPS)")
def test_heavy_payload_masses_are_flagged_or_found(tmp_path):
    truth = assets.target_profile("heavy_payload")
    _record("heavy_payload", tmp_path / "data.npz")
    params = profile_fields("heavy_payload")
    result = run_calibration(truth.robot, [tmp_path / "data.npz"], params, "fit", tmp_path / "out")
    report = json.loads(result.paths["report"].read_text())["estimates"]
    ranges = load_randomization(result.paths["randomization"])
    for name in ("payload_mass", "link_mass_scale"):
        value, true = getattr(result.fit.dynamics, name), getattr(truth.dynamics, name)
        assert abs(value - true) <= 0.1 * true or not report[name]["identifiable"], (name, value)
        low, high = ranges.range_of(name)
        assert low <= true <= high, (name, low, high)


def test_vertex_averages_out_jitter_and_coupled_needs_masses_and_joint_gains():
    from simreal.calibration.fit import _vertex, coupled
    from simreal.calibration.parameters import coordinates

    values = np.linspace(-0.1, 0.1, 5)
    costs = 200 + 4e4 * (values - 0.013) ** 2 + np.array([9.0, -8.0, 12.0, -10.0, 7.0])  # jitter ~ 10 %
    assert abs(_vertex(values, costs) - 0.013) < 0.01  # the best grid point alone (0.0) is off by more
    assert _vertex(values, -costs) == values[int(np.argmax(costs))]  # concave: the best value
    assert coupled(coordinates(["payload_mass", "joint_gain_scale"], 7))
    assert not coupled(coordinates(["payload_mass", "actuator_gain"], 7))
    assert not coupled(coordinates(["joint_gain_scale"], 7))
