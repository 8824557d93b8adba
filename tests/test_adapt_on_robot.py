"""Adaptation on a robot behind the bridge, interrupted and resumed from its run folder."""

from dataclasses import replace

import pytest

from .robots import CountingRobot
from simreal.bridge import BridgeError, RobotServer
from simreal.cli import main
from simreal.learn.adapt import AdaptConfig, RunFolder, adapt
from simreal.targets import open_target

# short fits: these tests check what a run counts, keeps and resumes, not how good its head is
TINY = AdaptConfig(target="weak_motors", budget=1500, round_steps=500, eval_episodes=6, from_scratch=False,
                   validation_episodes=6, epochs=10)


def _weak_motors(log: list, after: int | None = None) -> CountingRobot:
    """weak_motors that stops answering after ``after`` steps (a dropped link), counting what it ran."""
    return CountingRobot(open_target("weak_motors"), log, after)


@pytest.fixture(scope="module")
def whole_run(tmp_path_factory):
    opened: list = []
    config = replace(TINY, out_dir=str(tmp_path_factory.mktemp("whole")))
    return adapt(config, robot=lambda: _weak_motors(opened), folder=RunFolder(config)).report


def test_a_run_cut_mid_collection_resumes_to_the_same_result_without_recollecting(tmp_path, whole_run):
    config = replace(TINY, out_dir=str(tmp_path))
    first: list = []
    with pytest.raises(BridgeError):
        adapt(config, robot=lambda: _weak_motors(first, after=700), folder=RunFolder(config))
    folder = RunFolder(replace(config, resume=True))
    kept_on_disk = sum(e.steps for e in folder.journal.entries)
    assert 0 < kept_on_disk <= 700  # completed episodes reached disk; the cut one did not
    second: list = []
    report = adapt(replace(config, resume=True), robot=lambda: _weak_motors(second), folder=folder).report
    run, whole = report["adaptation"], whole_run["adaptation"]
    assert run["steps"] == whole["steps"]  # the same total budget and split
    assert run["kept"]["name"] == whole["kept"]["name"] and report["final"] == whole_run["final"]
    assert second[0].steps == run["steps"]["total"] - kept_on_disk  # only what was missing ran on the robot


def test_resume_with_other_options_is_refused(tmp_path, whole_run):
    config = replace(TINY, out_dir=str(tmp_path))
    RunFolder(config)
    with pytest.raises(ValueError, match=r"budget: 1500 -> 900"):
        RunFolder(replace(config, budget=900, resume=True))


def test_adapt_over_the_bridge_reports_robot_time_and_safety_flags(tmp_path, whole_run):
    server = RobotServer(open_target("weak_motors"), watchdog_timeout=5.0).start()
    try:
        config = replace(TINY, target=server.endpoint, bridge_timeout=10.0, out_dir=str(tmp_path))
        report = adapt(config, folder=RunFolder(config)).report
    finally:
        server.stop()
    run = report["adaptation"]
    assert report["target"]["kind"] == "bridge" and report["target"]["name"] == server.endpoint
    assert run["steps"]["total"] <= TINY.budget
    assert run["robot_time_s"]["total"] == pytest.approx(run["steps"]["total"] * run["control_period_s"])
    assert isinstance(run["safety_flags"], dict)
    assert report["measurement"]["robot_time_s"] > 0
    assert abs(report["zero_shot"]["success_rate"] - whole_run["zero_shot"]["success_rate"]) <= 0.5


def test_cli_stops_on_an_estopped_robot_and_says_how_to_resume(tmp_path, capsys):
    server = RobotServer(open_target("weak_motors"), watchdog_timeout=5.0).start()
    try:
        from simreal.bridge import RobotClient

        operator = RobotClient(server.endpoint, open_target("weak_motors").spec, timeout=5.0)
        operator.reset(seed=0)
        operator.estop("operator")
        code = main(["adapt", "--target", server.endpoint, "--budget", "500", "--eval-episodes", "2",
                     "--no-from-scratch", "--out-dir", str(tmp_path)])
        operator.close()
    finally:
        server.stop()
    out = capsys.readouterr().out
    assert code == 5
    assert "e-stopped" in out and "--resume" in out


def test_evaluate_takes_a_bridge_endpoint_like_a_profile(capsys):
    server = RobotServer(open_target("weak_motors"), watchdog_timeout=5.0).start()
    try:
        assert main(["evaluate", "--target", server.endpoint, "--episodes", "2", "--bridge-timeout", "10"]) == 0
    finally:
        server.stop()
    assert f"target {server.endpoint}" in capsys.readouterr().out
    assert main(["evaluate", "--target", "tcp://10.1.2.3:5555", "--episodes", "1"]) == 2  # remote without keys


def test_record_over_the_bridge_writes_a_recording_calibrate_reads(tmp_path, capsys):
    from simreal.calibration.trajectory_file import load_recording

    server = RobotServer(open_target("weak_motors"), watchdog_timeout=5.0).start()
    out = tmp_path / "bridge.npz"
    try:
        code = main(["record", "--target", server.endpoint, "--robot", "panda", "--trajectories", "1",
                     "--seconds", "1", "--out", str(out), "--bridge-timeout", "10"])
    finally:
        server.stop()
    assert code == 0, capsys.readouterr().out
    recording = load_recording(out, open_target("weak_motors").spec)
    assert len(recording.trajectories) == 1 and recording.steps > 0


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_the_server_killed_mid_collection_then_restarted_resume_completes_the_run(tmp_path, capsys):
    """A real server process is killed after a number of steps (not a time), the CLI stops with
    the data on disk, a new server on the same endpoint takes over and --resume finishes."""
    import os
    import signal

    from simreal.bridge import RobotClient
    from simreal.bridge.process import served_target

    endpoint = f"tcp://127.0.0.1:{_free_port()}"
    args = ["adapt", "--target", endpoint, "--budget", "1500", "--round-steps", "500", "--eval-episodes", "4",
            "--validation-episodes", "6", "--no-from-scratch", "--bridge-timeout", "2", "--out-dir", str(tmp_path)]
    killed = {"steps": 0}
    original_step = RobotClient.step

    def step_then_kill(self):
        killed["steps"] += 1
        if killed["steps"] == 600:
            os.kill(server_pid[0], signal.SIGKILL)
        return original_step(self)

    server_pid = []
    with served_target("weak_motors", watchdog=5.0, extra=("--endpoint", endpoint)) as first:
        assert first == endpoint
        server_pid.append(_server_pid(endpoint))
        RobotClient.step = step_then_kill
        try:
            code = main(args)
        finally:
            RobotClient.step = original_step
    out = capsys.readouterr().out
    assert code == 5 and "--resume" in out and "completed episodes" in out
    on_disk = (tmp_path / "journal.jsonl").read_text().splitlines()
    assert on_disk
    with served_target("weak_motors", watchdog=5.0, extra=("--endpoint", endpoint)):
        assert main([*args, "--resume"]) in (0, 3, 4)
    import json

    report = json.loads((tmp_path / "report.json").read_text())
    assert report["adaptation"]["steps"]["total"] <= 1500
    assert len((tmp_path / "journal.jsonl").read_text().splitlines()) >= len(on_disk)


def _server_pid(endpoint: str) -> int:
    """The pid of the serve process bound to ``endpoint`` (pgrep on its command line)."""
    import subprocess

    port = endpoint.rsplit(":", 1)[1]
    found = subprocess.run(["pgrep", "-f", f"simreal.bridge serve .*--endpoint {endpoint}"], capture_output=True,
                           text=True).stdout.split()
    assert found, f"no server process on port {port}"
    return int(found[0])


@pytest.mark.slow
def test_rl_fine_tuning_cut_mid_round_resumes_to_the_same_result_without_rerunning_its_episodes(tmp_path):
    """PPO drives the robot from inside its rollouts: its episodes are journaled as they end,
    and the resumed learner is served them back until it reaches the cut."""
    config = replace(TINY, method="finetune-rl", out_dir=str(tmp_path / "whole"))
    whole = adapt(config, robot=lambda: _weak_motors([]), folder=RunFolder(config)).report
    cut = replace(config, out_dir=str(tmp_path / "cut"))
    with pytest.raises(BridgeError):
        adapt(cut, robot=lambda: _weak_motors([], after=800), folder=RunFolder(cut))
    folder = RunFolder(replace(cut, resume=True))
    kept_on_disk = sum(e.steps for e in folder.journal.entries)
    assert any(e.session.endswith("/learner") for e in folder.journal.entries)
    second: list = []
    report = adapt(replace(cut, resume=True), robot=lambda: _weak_motors(second), folder=folder).report
    assert report["adaptation"]["steps"] == whole["adaptation"]["steps"]
    assert report["final"] == whole["final"]
    assert second[0].steps == report["adaptation"]["steps"]["total"] - kept_on_disk
