"""Run a policy on any Robot at a fixed control rate, log every step, summarise.

The same function deploys to a simulated robot in-process, a PerturbedTarget, or a
RobotClient talking to hardware (or to a served target in another process). The step
log is JSON lines (``LOG_FORMAT``): a header naming the robot and control period, then
per episode a ``reset`` line (the placements asked for and the state reported at the
start) and one ``step`` line per control step (the joint command sent and the state
reported after it, object poses included), so calibration can replay the episode from
where it really started.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import torch

from .envs import time_limited_grasp_env
from .evaluation import EvaluationResult
from .policy.hierarchical import HierarchicalPolicy
from .recording import RecordingRobot, Trajectory
from .robot import Robot, RobotState

LOG_FORMAT, LOG_VERSION = "simreal-deploy-log", 2

@dataclass
class DeployResult:
    """Success over the episodes, loop periods (s) and safety flags seen."""

    result: EvaluationResult
    periods: list[float] = field(default_factory=list)
    flags: Counter = field(default_factory=Counter)

    def loop_stats(self) -> dict[str, float]:
        return loop_stats(self.periods)


def loop_stats(periods: list[float]) -> dict[str, float]:
    """Achieved rate (Hz) and loop period p50 / p99 / max (ms) of a control loop's periods (s)."""
    if not periods:
        return {}
    p = np.asarray(periods)
    return {"mean_hz": float(1.0 / p.mean()), "p50_ms": float(np.percentile(p, 50) * 1e3),
            "p99_ms": float(np.percentile(p, 99) * 1e3), "max_ms": float(p.max() * 1e3)}


def deploy(policy: HierarchicalPolicy, robot: Robot, episodes: int, seed: int = 0, rate_hz: float | None = None,
           log_path: str | Path | None = None) -> DeployResult:
    """Run ``episodes`` seeded grasp episodes of ``policy`` on ``robot``.

    ``rate_hz`` paces the loop (default: as fast as the robot answers; a real robot's
    ``step`` blocks for its control period). Episode ``i`` uses seed ``seed + i``, so the
    object placements match an in-process evaluation with the same seeds.
    """
    recorder = RecordingRobot(robot)  # keeps the joint command of every step for the log
    env = time_limited_grasp_env(robot=recorder, randomization=None, controller=policy.controller_factory())
    out = DeployResult(EvaluationResult(0, 0, 0.0, 0.0))
    log: IO[str] | None = open(log_path, "w", encoding="utf-8") if log_path else None
    if log:
        _log_header(log, robot)
    successes, lengths, returns = 0, [], []
    # a control loop's small networks gain nothing from intra-op threads, whose idle workers
    # spin on the cores the robot's driver, server and network threads need
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        for episode in range(episodes):
            obs, _ = env.reset(seed=seed + episode)
            done, length, total, last = False, 0, 0.0, time.perf_counter()
            while not done:
                action = policy.act(obs)
                obs, reward, terminated, truncated, info = env.step(action)
                last = pace(last, rate_hz, out.periods)
                out.flags.update(getattr(robot, "last_flags", ()) or ())
                if log and length == 0:
                    _log_reset(log, episode, recorder.trajectories[-1])
                if log:
                    _log_step(log, episode, length, recorder.trajectories[-1], action, info)
                done, length, total = terminated or truncated, length + 1, total + float(reward)
            successes += bool(info.get("is_success"))
            lengths.append(length)
            returns.append(total)
    finally:
        if log:
            log.close()
        env.unwrapped.kinematics.close()
        torch.set_num_threads(threads)
    out.result = EvaluationResult(episodes, successes, float(np.mean(lengths)), float(np.mean(returns)))
    return out


def pace(last: float, rate_hz: float | None, periods: list[float]) -> float:
    """Wait until one period of ``rate_hz`` after ``last`` (None: no wait), append the period
    taken to ``periods`` and return the new start (``time.perf_counter`` s)."""
    if rate_hz:
        deadline = last + 1.0 / rate_hz
        # sleep while far from the deadline, then spin: sleep() overshoots by ~0.1-1 ms
        while (now := time.perf_counter()) < deadline:
            if deadline - now > 0.0015:
                time.sleep(deadline - now - 0.001)
    now = time.perf_counter()
    periods.append(now - last)
    return now


def _log_header(log: IO[str], robot: Robot) -> None:
    log.write(json.dumps({"kind": "header", "format": LOG_FORMAT, "version": LOG_VERSION, "robot": robot.spec.name,
                          "fingerprint": robot.spec.fingerprint(), "control_period": robot.control_period}) + "\n")


def _state_fields(state: RobotState) -> dict:
    return {"time": state.time, "joint_positions": np.asarray(state.joint_positions).tolist(),
            "joint_velocities": np.asarray(state.joint_velocities).tolist(), "gripper_width": state.gripper_width,
            "objects": {name: {"position": np.asarray(pose.position).tolist(),
                               "orientation": np.asarray(pose.orientation).tolist()}
                        for name, pose in state.objects.items()}}


def _log_reset(log: IO[str], episode: int, trajectory: Trajectory) -> None:
    """The episode's start: the placements asked for and the state the robot reported."""
    placements = trajectory.request.object_placements if trajectory.request else {}
    log.write(json.dumps({"kind": "reset", "episode": episode,
                          "placements": {name: [float(v) for v in xyyaw] for name, xyyaw in placements.items()},
                          **_state_fields(trajectory.states[0])}) + "\n")


def _log_step(log: IO[str], episode: int, step: int, trajectory: Trajectory, action: np.ndarray,
              info: dict) -> None:
    """One JSON line: the command sent this step and the state the robot reported after it."""
    state, command = trajectory.states[-1], trajectory.commands[-1]
    log.write(json.dumps({
        "kind": "step", "episode": episode, "step": step,
        "command_positions": np.asarray(command.positions).tolist(), "command_gripper": command.gripper,
        **_state_fields(state), "action": np.asarray(action).tolist(), "success": bool(info.get("is_success")),
    }) + "\n")
