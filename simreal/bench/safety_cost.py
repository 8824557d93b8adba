"""``simreal bench safety``: what the robot-side safety settings guarantee, and what they cost.

For each setting, in one run: the worst reported position past a joint limit and the
worst measured speed (x the velocity limit) over seeded hostile command sequences on a
simulated stiff arm (the nominal robot, its servo reaches a target within a tick), and
the success of a policy driven through the same settings, in-process, on a target.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .. import assets
from ..bridge.safety import GuardedRobot, SafetyConfig
from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..kinematics import Kinematics
from ..robot import JointCommand, Robot
from ..sim import SimRobot
from ..specs import RobotSpec
from ..targets import open_target


@dataclass(frozen=True)
class SafetyRow:
    setting: str
    position_excess: float  # rad past a limit, worst reported
    speed_ratio: float  # worst measured |velocity| / velocity limit
    nominal: EvaluationResult  # the policy on the nominal simulated robot
    policy: EvaluationResult  # the policy on the target
    flags: dict[str, int]  # the target run's


def settings_for(spec: RobotSpec) -> dict[str, SafetyConfig]:
    """The settings the bench compares: the defaults and the smooth (acceleration-limited) ones."""
    return {"default": SafetyConfig(), "smooth (ramp 0.8 s, 0.6 of the speed limit)": SafetyConfig.smooth(spec)}


def hostile_targets(spec: RobotSpec, rng: np.random.Generator, episode: int, steps: int) -> list[np.ndarray] | None:
    """One of several hostile patterns by episode: random targets anywhere, bang-bang between
    the limits (slow, fast, per joint at random), every joint past its upper limit; None for the
    last pattern, a random walk around the measured pose that the caller draws step by step."""
    lo, hi, t = spec.lower - 1.0, spec.upper + 1.0, np.arange(steps)[:, None]
    patterns = {0: lambda: rng.uniform(lo, hi, (steps, spec.dof)),
                1: lambda: np.where((t // 5) % 2, hi, lo), 2: lambda: np.where((t // 2) % 2, hi, lo),
                3: lambda: np.where(rng.random((steps, spec.dof)) < 0.5, hi, lo),
                4: lambda: np.broadcast_to(hi, (steps, spec.dof))}
    pattern = episode % (len(patterns) + 1)
    return None if pattern == len(patterns) else list(patterns[pattern]())


def stiff_arm_extremes(robot: str, config: SafetyConfig, episodes: int, steps: int, seed: int) -> tuple[float, float]:
    """Worst position excess (rad) and speed ratio over hostile episodes through ``config``."""
    spec = assets.robot_spec(robot)
    guarded = GuardedRobot(SimRobot(spec, assets.scene_spec("tabletop")), config, Kinematics(spec))
    excess = ratio = 0.0
    try:
        for episode in range(episodes):
            rng = np.random.default_rng([seed, episode])
            state = guarded.reset(seed=seed + episode)
            planned = hostile_targets(spec, rng, episode, steps)
            for t in range(steps):
                target = planned[t] if planned is not None else state.joint_positions + rng.normal(0, 0.3, spec.dof)
                guarded.apply(JointCommand(np.asarray(target), 0.04))
                state = guarded.step()
                q, v = state.joint_positions, state.joint_velocities
                excess = max(excess, float(np.max(np.maximum(q - spec.upper, spec.lower - q))))
                ratio = max(ratio, float(np.max(np.abs(v) / spec.velocity_limits)))
    finally:
        guarded.layer.kinematics.close()
        guarded.close()
    return max(excess, 0.0), ratio


def policy_through(policy_name: str, target: str | None, config: SafetyConfig | None, episodes: int,
                   seed: int) -> tuple[EvaluationResult, dict[str, int]]:
    """Success of a policy on ``target`` (None: the nominal simulated robot) with every command
    passed through ``config``, and the flags it raised."""
    from ..learn.adapt import load_policy
    from ..policy.head import head_controller

    policy = load_policy(policy_name)
    base: Robot = open_target(target) if target else SimRobot(policy.spec, assets.scene_spec("tabletop"))
    robot = base if config is None else GuardedRobot(base, config, Kinematics(policy.spec))
    env = time_limited_grasp_env(robot=robot, randomization=None, controller=head_controller(policy.head))
    try:
        result = evaluate(env, policy.act, episodes, seed)
    finally:
        env.close()
    return result, dict(getattr(robot, "flag_counts", {}))


def measure(robot: str = "panda", policy: str = "panda_grasp", target: str = "weak_motors", episodes: int = 30,
            hostile_episodes: int = 24, steps: int = 60, seed: int = 0,
            progress: Callable[[str], None] | None = None) -> list[SafetyRow]:
    note = progress or (lambda message: None)
    rows = []
    for name, config in {"none (in-process)": None, **settings_for(assets.robot_spec(robot))}.items():
        note(name)
        excess, ratio = (float("nan"),) * 2 if config is None else \
            stiff_arm_extremes(robot, config, hostile_episodes, steps, seed)
        nominal, _ = policy_through(policy, None, config, episodes, seed)
        rows.append(SafetyRow(name, excess, ratio, nominal, *policy_through(policy, target, config, episodes, seed)))
    return rows
