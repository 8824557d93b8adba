"""Deployment: a policy driving a target served in another process over loopback TCP."""

import json
import subprocess
import sys
from pathlib import Path

from .scripts import hardware_bridge
from simreal.bridge import RobotClient
from simreal.bridge.process import served_target
from simreal.deploy import deploy
from simreal.envs import time_limited_grasp_env
from simreal.evaluation import evaluate
from simreal.learn.adapt import load_policy

EPISODES = 20
SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "hardware_bridge.py"


def _script(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``scripts/hardware_bridge.py`` with ``args`` in a fresh interpreter."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout)


def test_deployed_success_matches_in_process_evaluation(tmp_path):
    policy = load_policy("panda_grasp")
    log = tmp_path / "steps.jsonl"
    with served_target("weak_motors") as endpoint:
        client = RobotClient(endpoint, policy.spec, timeout=5.0)
        try:
            deployed = deploy(policy, client, EPISODES, seed=0, log_path=log)
        finally:
            client.close()
    env = time_limited_grasp_env(robot="panda", randomization=None, target="weak_motors",
                                 controller=policy.controller_factory())
    local = evaluate(env, policy.act, EPISODES, seed=0)
    env.close()
    low, high = local.interval
    assert low <= deployed.result.success_rate <= high, (deployed.result.describe(), local.describe())
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    steps = [line for line in lines if line["kind"] == "step"]
    assert len(steps) == round(deployed.result.mean_length * EPISODES)
    assert sum(line["kind"] == "reset" for line in lines) == EPISODES and lines[0]["kind"] == "header"
    first = steps[0]
    assert len(first["joint_positions"]) == 7 and first["episode"] == 0
    assert len(first["command_positions"]) == 7 and 0.0 <= first["command_gripper"] <= 0.08
    assert deployed.loop_stats()["p50_ms"] > 0


def test_server_process_that_cannot_start_is_a_clear_error():
    import pytest

    with pytest.raises(RuntimeError, match="did not start"), served_target("no_such_profile"):
        pass


def test_bench_bridge_reports_both_loops():
    from simreal.bench.bridge_speed import measure

    rows = measure(rates=(200.0, None), episodes=1)
    assert [(r.robot, r.where, r.requested_hz) for r in rows] == [
        (robot, where, rate) for robot in ("simulated", "echo")
        for where in ("bridge", "bridge, blocking", "in-process") for rate in (200.0, None)]
    assert all(r.achieved_hz > 0 and r.p99_ms >= r.p50_ms > 0 for r in rows)
    assert all(r.achieved_hz <= 200.0 * 1.05 for r in rows if r.requested_hz)  # pacing never runs faster


def test_the_echo_driver_is_served_and_is_where_it_was_told_to_be():
    import numpy as np

    from simreal import assets
    from simreal.bridge import RobotClient
    from simreal.robot import JointCommand

    spec = assets.robot_spec("panda")
    with served_target("weak_motors", extra=("--driver", "simreal.drivers.echo:EchoRobot")) as endpoint:
        client = RobotClient(endpoint, spec, timeout=5.0)
        try:
            state = client.reset(seed=0)
            target = np.asarray(spec.home) + 0.01
            client.apply(JointCommand(target, 0.02))
            state = client.step()
        finally:
            client.close()
    assert np.allclose(state.joint_positions, target) and "cube" in state.objects


def test_hardware_bridge_script_deploys_and_summarises(tmp_path):
    """The script as a program in a fresh interpreter (the other script tests call its main())."""
    log = tmp_path / "log.jsonl"
    with served_target("weak_motors") as endpoint:
        done = _script("deploy", "--endpoint", endpoint, "--episodes", "2", "--rate", "0", "--log", str(log))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert "over 2 episodes" in summary["success"] and summary["loop"]["p50_ms"] > 0
    assert len(log.read_text().splitlines()) > 0


def test_hardware_bridge_script_deploys_through_fitted_encoder_offsets(tmp_path):
    """``deploy --encoder-offsets`` corrects a miscalibrated robot over the bridge; a profile
    without offsets is refused before any episode runs."""
    from simreal import assets

    fitted = str(assets.find("target", "miscalibrated"))  # the truth stands in for a fitted profile here
    runs = {}
    with served_target("miscalibrated") as endpoint:
        for name, extra in (("raw", []), ("corrected", ["--encoder-offsets", fitted]),
                            ("no offsets", ["--encoder-offsets", str(assets.find("target", "weak_motors"))])):
            runs[name] = hardware_bridge("deploy", "--endpoint", endpoint, "--episodes", "5", "--rate", "0",
                                         "--log", str(tmp_path / "log.jsonl"), *extra)
    assert runs["raw"].returncode == 0 and runs["corrected"].returncode == 0, runs["corrected"].stderr
    raw, corrected = (float(json.loads(runs[k].stdout)["success"].split("%")[0]) for k in ("raw", "corrected"))
    assert raw <= 20.0 and corrected >= 80.0, (raw, corrected)
    assert runs["no offsets"].returncode == 2 and "joint_offset" in runs["no offsets"].stderr


def test_hardware_bridge_script_records_the_excitation_and_the_torques_read_the_offsets(tmp_path):
    """``excite`` over the bridge: the still postures' torques cross protocol 2 and pin the
    offsets gravity turns on a miscalibrated robot; no server is an exit 2 naming it."""
    import numpy as np

    from simreal import assets
    from simreal.calibration import load_recording
    from simreal.calibration.gravity import fit_gravity, holding_poses

    out = tmp_path / "robot.npz"
    with served_target("miscalibrated") as endpoint:
        done = hardware_bridge("excite", "--endpoint", endpoint, "--trajectories", "2", "--seed", "3",
                               "--out", str(out))
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["trajectories"] == 2 and summary["joint_torques"] and summary["safety_flags"] == {}
    spec, scene = assets.robot_spec("panda"), assets.scene_spec("tabletop")
    fit = fit_gravity(holding_poses(load_recording(out, spec), spec, scene.table_height), spec, scene)
    truth = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
    assert np.all(np.abs(fit.offsets - truth)[1:6] <= 0.002), fit.offsets - truth
    missing = hardware_bridge("excite", "--endpoint", "tcp://127.0.0.1:9", "--out", str(tmp_path / "none.npz"))
    assert missing.returncode == 2 and "error" in missing.stderr and not (tmp_path / "none.npz").exists()


def test_bench_bridge_floor_times_a_bare_zmq_echo_in_another_process():
    from simreal.bench.bridge_speed import zmq_floor

    rows = zmq_floor(rates=(500.0, None), loops=50)
    assert [(r.robot, r.requested_hz) for r in rows] == [("zmq", 500.0), ("zmq", None)]
    assert all(r.achieved_hz > 0 and r.p99_ms >= r.p50_ms > 0 for r in rows)
    assert rows[0].achieved_hz <= 500.0 * 1.05  # paced like the control loop
