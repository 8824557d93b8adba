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
from simreal.calibration.excitation import SAFE_MARGIN, routine_for
from simreal.calibration.geometry import ContactGeometry
from simreal.cli import main
from simreal.specs import SpecError, load_randomization, load_target
from simreal.targets import PerturbedTarget

FAST = ("laggy", "weak_motors", "soft_shoulder")  # in the default run; the rest are marked slow
KNOWN_GAPS: dict[str, str] = {}  # profiles the current excitation + fit do not yet meet the bars on (see the report)
# Fields a profile's fit places each on its own reading (``fit._staged``), not on one replay cost: slippery's
# finger friction (the touches' joints) and grip force (the lifts' sinks). Their probed tolerance is honest but
# wide (12-20 %, the truth within 1-2 sigma on seeds 0-4), so they may be flagged; and with noise-free joints
# and a slipping cube only the truth's own replay explains the joints down to their floor (``converged``).
STAGED: dict[str, set[str]] = {"slippery": {"finger_friction", "gripper_force"}}


def _profiles() -> list:
    out = []
    for name in assets.available("target"):
        if not assets.target_profile(name).in_model_class:
            continue  # no truth to recover: the fit's verdict on these is tested in test_calibrate_unmodeled.py
        marks = [] if name in FAST else [pytest.mark.slow]
        if name in KNOWN_GAPS:
            marks.append(pytest.mark.xfail(strict=True, reason=KNOWN_GAPS[name]))
        out.append(pytest.param(name, marks=marks, id=name))
    return out


def _record(profile: str, path, trajectories: int = 10, seconds: float = 6.0, seed: int = 0,
            routine: str = "dynamics"):
    robot = PerturbedTarget(profile)
    try:
        recording = excite(robot, trajectories, seconds, seed, routine=routine)
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
    params = profile_fields(profile)
    recording = _record(profile, tmp_path / "data.npz", routine=routine_for(params))  # as ``simreal bench`` does
    assert len(recording.trajectories) <= 10 and recording.duration <= 60.0
    result = run_calibration(truth.robot, [tmp_path / "data.npz"], params, "fit", tmp_path / "out")
    for name in params:
        _assert_close(name, getattr(result.fit.dynamics, name), getattr(truth.dynamics, name))
    assert result.fit.converged or profile in STAGED
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
    flagged = {name for name, e in report["estimates"].items() if not e["identifiable"]}
    assert flagged <= STAGED.get(profile, set()), report["combinations"]
    for name in flagged:  # flagged, but honestly: the reported 3 sigma holds the truth
        estimate = report["estimates"][name]
        assert abs(estimate["value"] - getattr(truth.dynamics, name)) <= 3 * estimate["sigma"], (name, estimate)
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
    assert main(["record", "--target", "miscalibrated", "--out", str(data), "--trajectories", "5",
                 "--seconds", "6", "--routine", "offsets"]) == 0
    probes = load_recording(data, spec)
    assert [t.kind for t in probes.trajectories] == ["gravity"] * 3 + ["push", "twist"]
    _assert_within_limits(spec, probes)  # the pushes are driven through the torques' offsets, in the limits
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
    """Table touches found in an offsets recording: the hand posed at measured - true offset
    rests on the table (one common contact depth), while the nominal pose does not."""
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    truth = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
    robot = PerturbedTarget("miscalibrated")
    try:
        recording = excite(robot, 4, 6.0, routine="contacts")  # cube, table, cube, table
    finally:
        robot.close()
    geometry = ContactGeometry(recording, spec, scene)
    try:
        assert len(geometry.instants) >= 5
        touch = np.array([kind == "touch" and recording.trajectories[i].kind == "table"
                          for i, _, kind in geometry.instants])
        assert touch.sum() >= 5
        at_truth, at_zero = geometry.residuals(truth)[touch], geometry.residuals(np.zeros(spec.dof))[touch]
    finally:
        geometry.close()
    assert np.std(at_truth) < 0.004 and np.std(at_truth) < 0.5 * np.std(at_zero), (at_truth, at_zero)


def test_pushes_read_the_base_and_flange_offsets_once_the_torques_hold_the_rest():
    """The offsets routine's pushes, driven through the offsets the still postures before
    them read. Where the cube comes to rest against the fingers lies at the true hand within
    the encoders' noise; the closed-finger pushes across the reach turn 0.4 mm per mrad of
    base offset, and each open finger's push 0.4 mm per 10 mrad of flange offset, the two
    fingers opposite ways. The geometry fit with joints 1-5 held at the truth (as the
    torques leave them) lands both offsets within the 5 mrad bar and within 3 of their
    sigmas, the flange's sigma under 3 mrad (10 trajectories: 60 s of robot time)."""
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    truth = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
    robot = PerturbedTarget("miscalibrated")
    try:
        recording = excite(robot, 10, 6.0, seed=4, routine="offsets")
    finally:
        robot.close()
    assert [t.kind for t in recording.trajectories].count("twist") == 5
    geometry = ContactGeometry(recording, spec, scene)
    try:
        kinds, event = np.array(geometry.row_kinds()), geometry.events()
        at_truth = geometry.residuals(truth)
        base = geometry.residuals(truth + np.r_[0.01, np.zeros(6)]) - at_truth
        flange = geometry.residuals(truth + np.r_[np.zeros(6), 0.01]) - at_truth
        held = np.array([False, True, True, True, True, True, False])
        found = geometry.fit(np.where(held, truth, 0.0), 0.01, held=held)
        sigma = geometry.sigma
    finally:
        geometry.close()
    push, tip = kinds == "push", kinds == "tip"
    assert push.sum() >= 4 and len(set(event[tip])) >= 4
    assert np.median(np.abs(at_truth[push | tip])) < 0.002, at_truth[push | tip]
    assert np.median(np.abs(base[push])) > 0.003, base[push]
    turns = np.array([np.mean(flange[event == e]) for e in sorted(set(event[tip]))])
    assert np.all(np.abs(turns) > 0.0003) and turns.min() < 0 < turns.max(), turns
    error = np.abs(found - truth)[[0, 6]]
    assert np.all(error < 0.005) and np.all(error < 3 * sigma[[0, 6]]) and sigma[6] < 0.003, (found - truth, sigma)


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


def test_shared_noise_level_is_not_inflated_by_ringing_joints():
    """Noise shared by all joints, plus white-like model error on the three wrist joints
    (ringing at contacts): the pooled estimate reads high, the joints' lower quartile does not."""
    from simreal.calibration.fit import noise_level, shared_noise_level

    rng = np.random.default_rng(0)
    recorded = [rng.normal(0, 0.02, (121, 7)) for _ in range(10)]
    model = [np.zeros((121, 7)) for _ in range(10)]
    for m in model:
        m[:, 4:] = rng.normal(0, 0.02, (121, 3))
    assert noise_level(recorded, model) > 1.1 * 0.02
    assert shared_noise_level(recorded, model) == pytest.approx(0.02, rel=0.06)
    assert shared_noise_level([r[:, :2] for r in recorded], [m[:, :2] for m in model]) == pytest.approx(
        noise_level([r[:, :2] for r in recorded], [m[:, :2] for m in model]))  # too few joints: pooled


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


def test_scan_order_does_not_depend_on_the_params_order():
    from simreal.calibration.fit import _scan_orders
    from simreal.calibration.parameters import coordinates

    given = ["link_mass_scale", "joint_damping", "payload_mass", "joint_gain_scale"]
    orders = _scan_orders(coordinates(given, 7))
    assert orders == _scan_orders(coordinates(given[::-1], 7))
    assert orders == [["joint_gain_scale", "joint_damping", "link_mass_scale", "payload_mass"],
                      ["joint_gain_scale", "payload_mass", "link_mass_scale", "joint_damping"]]
    assert _scan_orders(coordinates(["force_limit", "actuator_gain"], 7)) == [["actuator_gain", "force_limit"]]


def test_coordinate_search_sees_through_jitter_and_flags_a_flat_coordinate():
    from simreal.calibration.coordinate_search import coordinate_search

    def cost(x):  # a bowl in x[0] under a jitter of ~10 % (contacts), flat in x[1] but for the jitter
        return 500 + 100 * (x[0] - 1.3) ** 2 + 40 * np.sin(23 * x[0]) * np.cos(17 * x[1])

    bounds = (np.full(2, -5.0), np.full(2, 5.0))
    x, tolerance = coordinate_search(cost, np.zeros(2), [0, 1], (4.0, 2.0, 1.0), bounds)
    assert abs(x[0] - 1.3) < 0.3, x
    assert tolerance[0] < 0.5 < tolerance[1], tolerance
    small_steps = np.zeros(2)  # a pattern search of 0.05 steps stops in the first jitter dip
    for _ in range(40):
        trial = small_steps + np.array([0.05, 0.0])
        if cost(trial) >= cost(small_steps):
            break
        small_steps = trial
    assert abs(small_steps[0] - 1.3) > 0.5


@pytest.mark.slow
def test_miscalibrated_offsets_are_found_or_flagged(tmp_path):
    """Honest uncertainty: each encoder offset is within the bar or flagged, and its written range holds the truth."""
    truth = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
    _record("miscalibrated", tmp_path / "data.npz", routine="offsets")
    result = run_calibration("panda", [tmp_path / "data.npz"], ["joint_offset"], "fit", tmp_path / "out")
    fit, bar = result.fit, 0.1 * np.max(np.abs(truth))
    fitted = np.array(fit.dynamics.joint_offset)
    rows = [i for i, c in enumerate(fit.coords) if c.name == "joint_offset"]
    for j, i in enumerate(rows):
        error = abs(fitted[j] - truth[j])
        assert error <= bar or not fit.uncertainty.identifiable[i], (j, error, fit.uncertainty.sigma_value[i])
        assert error <= 3 * fit.uncertainty.sigma_value[i] or error <= bar, (j, error, fit.uncertainty.sigma_value[i])
    low, high = (np.array(v) for v in load_randomization(result.paths["randomization"]).range_of("joint_offset"))
    assert np.all((low <= truth) & (truth <= high)), (low, truth, high)
    singles = {c["fields"][0]: c["sigma"] for c in fit.uncertainty.combinations if len(c["fields"]) == 1}
    for i in rows:  # a flagged offset is reported as measured only to its widened tolerance
        if not fit.uncertainty.identifiable[i]:
            assert singles[fit.coords[i].label] == pytest.approx(fit.uncertainty.sigma_probe[i])
    gravity = fit.gravity  # the still postures' torques pin every joint gravity turns
    assert gravity is not None and gravity.seen.tolist() == [False, True, True, True, True, True, False]
    assert np.all(np.abs(fitted - truth)[1:6] <= 0.002), fitted - truth
    assert fit.offset_sources == {j: "contacts" for j in range(7)}  # the pushes, with the torques
    assert np.all(np.abs(fitted - truth) <= 0.003), fitted - truth


def test_object_routine_is_opt_in_and_respects_limits(tmp_path):
    spec = assets.robot_spec("panda")
    robot = PerturbedTarget("slippery")
    try:
        objects = excite(robot, 2, 4.0, routine="object")
        default = excite(robot, 2, 4.0)
        again = excite(robot, 2, 4.0, routine="object")
    finally:
        robot.close()
    _assert_within_limits(spec, objects)
    assert not np.array_equal(default.trajectories[0].commands, objects.trajectories[0].commands)
    for a, b in zip(objects.trajectories, again.trajectories, strict=True):  # same seed, same data
        assert np.array_equal(a.commands, b.commands) and np.array_equal(a.object_positions, b.object_positions)


def test_replay_of_the_truth_keeps_a_squeezed_cube():
    """Multiple-shooting restarts leave fingers and cube as simulated while they agree with the
    readings: restarting a squeezed cube at its noisy perceived pose, with both fingers put
    symmetrically at the read width, shoved it through the fingers (grip residual ~12 mm at the truth)."""
    from simreal.calibration.fit import SEGMENT
    from simreal.calibration.replay import Replayer

    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    truth = assets.target_profile("slippery").dynamics
    robot = PerturbedTarget("slippery")
    try:
        grip = excite(robot, 2, 6.0, routine="object").trajectories[1]
    finally:
        robot.close()
    assert np.max(grip.object_positions[:, 0, 2]) > 0.04  # the cube was lifted
    replayer = Replayer(spec, scene)
    try:
        sim = replayer.replay(grip, truth, SEGMENT)
    finally:
        replayer.close()
    assert np.max(np.abs(sim.gripper_width - grip.gripper_width)) < 1e-6
    cube_rms = np.sqrt(np.mean((sim.object_positions - grip.object_positions) ** 2))
    assert cube_rms < 1.2 * truth.object_position_noise, cube_rms


def _grip_run(seed: int, mass: float, force: float):
    """The ``object`` routine's grip trajectory on a noise-free slippery cube of these scales."""
    from dataclasses import replace

    from simreal.sim import SimRobot

    truth = assets.target_profile("slippery").dynamics
    dynamics = replace(truth, object_position_noise=0.0, object_mass_scale=mass, gripper_force=force)
    robot = SimRobot(assets.robot_spec("panda"), assets.scene_spec("tabletop"), dynamics)
    try:
        return excite(robot, 2, 6.0, seed=seed, routine="object").trajectories[1]
    finally:
        robot.close()


@pytest.mark.parametrize("seed", [0, 1])
def test_grip_outcome_depends_on_force_over_mass_only(seed):
    """The symmetry ``symmetry.SYMMETRIES`` declares: stiff motors move the hand as commanded,
    so the cube sees only forces proportional to its mass or to the grip. Halving mass and force
    together (2m, f) -> (m, f/2) leaves the grip trajectory's cube and finger width nearly
    unchanged, while halving the mass alone, (2m, f) -> (m, f), changes them many times more.
    Were mass or force to act on its own, the first pair would differ as much as the second.
    (Both pairs sit away from the slip threshold: at the threshold itself, as with the true
    slippery cube, any tiny difference decides whether a shake slips, so no pair matches.)"""
    half_both, heavy, light = _grip_run(seed, 3.0, 0.25), _grip_run(seed, 6.0, 0.5), _grip_run(seed, 3.0, 0.5)

    def rms(a, b, field):
        return float(np.sqrt(np.mean((getattr(a, field) - getattr(b, field)) ** 2)))

    for field in ("object_positions", "gripper_width"):
        paired, single = rms(heavy, half_both, field), rms(heavy, light, field)
        assert paired < 0.35 * single, (field, paired, single)


def test_symmetry_flags_mass_and_force_and_reports_their_ratio():
    from simreal.calibration.parameters import coordinates
    from simreal.calibration.symmetry import SYMMETRY_TOLERANCE, apply_symmetries
    from simreal.calibration.uncertainty import analyse

    coords = coordinates(["object_friction_scale", "object_mass_scale", "gripper_force"], 7)
    rng = np.random.default_rng(0)
    seen = rng.normal(0, 10, (300, 2))
    jac = np.column_stack([seen[:, 0], -seen[:, 1], seen[:, 1]])  # friction and ln f - ln m are seen
    data = rng.normal(0, 1, 300)
    x = np.array([np.log(0.4), np.log(3.0), np.log(0.5)])
    u = analyse(coords, x, jac, data, np.arange(300) % 3, 1.0)
    assert list(u.identifiable) == [True, True, True]  # the Jacobian alone is fooled by the prior
    u = apply_symmetries(u, coords, x, jac, data)
    assert list(u.identifiable) == [True, False, False]
    assert u.sigma[1] >= SYMMETRY_TOLERANCE / np.sqrt(2) and u.sigma[0] < 0.05
    (combo,) = u.combinations
    assert combo["fields"] == ["object_mass_scale", "gripper_force"]
    assert combo["ratio"]["value"] == pytest.approx(6.0) and combo["sigma"] < 0.2
    # the narrowed randomization keeps a wide range for the flagged pair: the truth, and the
    # truth scaled along the symmetry by 2 either way, stay inside
    from simreal.calibration.fit import Fit
    from simreal.calibration.report import randomization_ranges
    from simreal.specs import DynamicsParams

    names = ["object_friction_scale", "object_mass_scale", "gripper_force"]
    fitted = DynamicsParams(object_friction_scale=0.4, object_mass_scale=3.0, gripper_force=0.5)
    ranges = randomization_ranges(Fit(fitted, names, coords, u, {}, {}))
    for k in (0.5, 1.0, 2.0):
        assert ranges["object_mass_scale"][0] <= 3.0 * k <= ranges["object_mass_scale"][1], ranges
        assert ranges["gripper_force"][0] <= 0.5 * k <= ranges["gripper_force"][1], ranges
    low, high = ranges["object_friction_scale"]
    assert low < 0.4 < high and high - low < 0.1, ranges


@pytest.mark.slow
def test_slippery_weighing_resolves_the_symmetry_honestly(tmp_path):
    """Seed 1 of slippery, recorded as ``simreal bench`` does (the ``weighed`` routine).

    Object mass and gripper force act on the cube only through their ratio (see
    ``test_grip_outcome_depends_on_force_over_mass_only``); the joint torques of the held,
    still cube weigh it, and the fit slides along the symmetry to that mass. The mass must
    come out within 2 %, and every estimate must be honest: within the issue's 10 % or
    flagged, and its reported 3 sigma must hold the truth; the narrowed ranges too. (Seed 0
    is ``test_fit_recovers_each_profile[slippery]``. Seed 1 ends at finger friction 0.349,
    object friction 0.429 (+7 %), mass 2.995, grip force 0.492 (-1.7 %, placed by the lifts'
    sinks), with the replay not explaining the joints down to their 0.3 mrad floor, so
    ``converged`` is not asserted.)"""
    truth = assets.target_profile("slippery")
    params = profile_fields("slippery")
    _record("slippery", tmp_path / "data.npz", seed=1, routine=routine_for(params))
    result = run_calibration(truth.robot, [tmp_path / "data.npz"], params, "fit", tmp_path / "out")
    estimates = json.loads(result.paths["report"].read_text())["estimates"]
    weighed = estimates["object_mass_scale"]
    assert weighed["identifiable"] and abs(weighed["value"] - 3.0) <= 0.06, weighed
    for name in params:
        value, want = estimates[name]["value"], getattr(truth.dynamics, name)
        close = abs(value - want) <= 0.1 * abs(want)
        assert close or not estimates[name]["identifiable"] or abs(value - want) <= 3 * estimates[name]["sigma"], (
            name, estimates[name])
    ranges = load_randomization(result.paths["randomization"])
    for name in params:
        low, high = ranges.range_of(name)
        assert low <= getattr(truth.dynamics, name) <= high, (name, low, high)


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


def test_sliding_cost_sees_the_cube_on_the_table_only():
    from types import SimpleNamespace

    from simreal.calibration.fit import ON_TABLE, _sliding_cost
    from simreal.calibration.replay import Simulated
    from simreal.calibration.trajectory_file import RecordedTrajectory

    steps = 20
    recorded = np.zeros((steps + 1, 1, 3))
    recorded[:, 0, 2] = 0.02
    recorded[12:, 0, 2] += 2 * ON_TABLE  # lifted from step 12 on
    traj = RecordedTrajectory(np.zeros((steps, 7)), np.zeros(steps), np.zeros((steps + 1, 7)),
                              np.zeros((steps + 1, 7)), np.zeros(steps + 1), ("cube",), recorded,
                              np.tile([0.0, 0.0, 0.0, 1.0], (steps + 1, 1, 1)))

    def cost(shift_on_table: float, shift_lifted: float) -> float:
        simulated = recorded.copy()
        simulated[:12, 0, 0] += shift_on_table
        simulated[12:, 0, 0] += shift_lifted
        sim = Simulated(traj.joint_positions, traj.joint_velocities, traj.gripper_width, simulated,
                        traj.object_orientations)
        return _sliding_cost(SimpleNamespace(trajectories=(traj,)), [sim])

    assert cost(0.0, 0.0) == 0.0
    assert cost(0.0, 0.05) == 0.0  # a cube slipping in the hand: the grip's business
    assert cost(0.01, 0.0) > 0.0


def test_orientation_error_ignores_the_cubes_quarter_turns_and_reads_small_rotations():
    """The cube looks the same turned a quarter about any axis; a small turn reads as its rotation vector."""
    from scipy.spatial.transform import Rotation

    from simreal.calibration.fit import orientation_error

    recorded = Rotation.from_euler("xyz", [0.3, -0.2, 1.1])
    small = np.array([0.01, -0.02, 0.015])
    for quarter in ([np.pi / 2, 0, 0], [0, -np.pi / 2, 0], [0, 0, np.pi], [0, 0, 0]):
        simulated = recorded * Rotation.from_rotvec(small) * Rotation.from_euler("xyz", quarter)
        error = orientation_error(simulated.as_quat()[None], recorded.as_quat()[None])[0]
        assert np.allclose(error, small, atol=2e-4), (quarter, error)
    tilted = recorded * Rotation.from_rotvec([0.0, 0.0, 0.3])
    assert np.linalg.norm(orientation_error(tilted.as_quat(), recorded.as_quat())) > 0.25


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
        other = simulator.run(replace(DynamicsParams(), actuator_gain=0.6))
        assert simulator.calls == 2
        assert not np.array_equal(first[0].joint_positions, other[0].joint_positions)
    with Simulator(spec, scene, recording.trajectories, workers=1, segment=15) as fresh:  # no history effect
        assert np.array_equal(fresh.run(DynamicsParams(actuator_gain=0.5))[0].joint_positions, first[0].joint_positions)
