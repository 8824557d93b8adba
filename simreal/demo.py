"""The end-to-end demo on built-in defaults.

1. The shipped source policy (learned high level + learned control head, trained in
   simulation by ``simreal train``) and, for reference, the scripted expert through the
   analytic controller, each on nominal dynamics, under the default domain
   randomization, and zero-shot on every shipped target profile of the robot (on
   whichever engine the profile names).
2. Adaptation of the head to one target (``weak_motors`` by default) with the high level
   frozen: zero-shot -> adapted success on the same seeded episodes, then the adapted
   policy deployed over the bridge to the same target served in another process.
3. A clip, zero-shot and adapted side by side on the same seeded target episode.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import gymnasium as gym

from . import assets, pretrained
from .deploy import DeployResult, deploy
from .envs import time_limited_grasp_env
from .evaluation import EvaluationResult, evaluate
from .policy import ScriptedGraspExpert
from .policy.hierarchical import HierarchicalPolicy
from .video import VIDEO_SIZE, FrameRecorder, side_by_side, write_video

CLIP_EVERY = 2  # control steps per clip frame: 10 fps at the shipped robots' 20 Hz


@dataclass(frozen=True)
class DemoRow:
    condition: str
    expert: EvaluationResult
    policy: EvaluationResult


def conditions(robot: str) -> list[tuple[str, dict[str, object]]]:
    """(label, GraspEnv kwargs) for nominal, randomized and each target of ``robot``."""
    rows: list[tuple[str, dict[str, object]]] = [
        ("sim, nominal", {"randomization": None}),
        ("sim, randomized (default)", {"randomization": "default"}),
    ]
    for name in assets.available("target"):
        profile = assets.target_profile(name)
        if profile.robot == robot:
            engine = "" if profile.engine == "pybullet" else f"{profile.engine}, "
            rows.append((f"target: {name} ({engine}zero-shot)", {"randomization": None, "target": name}))
    return rows


def _score(policy: Callable, episodes: int, seed: int, **kwargs: object) -> EvaluationResult:
    env = time_limited_grasp_env(**kwargs)
    try:
        return evaluate(env, policy, episodes, seed)
    finally:
        env.close()


def run_demo(policy_name: str = "panda_grasp", episodes: int = 30, seed: int = 0,
             progress: Callable[[str], None] | None = None) -> list[DemoRow]:
    """Evaluate the shipped policy and the scripted expert under each condition."""
    source = pretrained.load(policy_name)
    robot = source.spec.name
    expert = ScriptedGraspExpert()
    rows = []
    for label, kwargs in conditions(robot):
        if progress:
            progress(label)
        rows.append(DemoRow(
            label,
            _score(expert, episodes, seed, robot=robot, **kwargs),
            _score(source.act, episodes, seed, robot=robot, controller=source.controller_factory(), **kwargs),
        ))
    return rows


def run_adaptation(policy_name: str = "panda_grasp", target: str = "weak_motors", episodes: int = 30,
                   budget: int = 5000, seed: int = 0, progress: Callable[[str], None] | None = None
                   ) -> tuple[dict, DeployResult, HierarchicalPolicy]:
    """Adapt the shipped policy's head to ``target``, then deploy the result over the
    bridge to ``target`` served in another process. Both use the seeded episodes of
    :func:`run_demo`. Returns the transfer report, the deployment result and the policy
    adaptation returned (the source head if it was not better)."""
    from .bridge import RobotClient
    from .bridge.process import served_target
    from .learn.adapt import AdaptConfig, adapt

    config = AdaptConfig(policy=policy_name, target=target, budget=budget, eval_episodes=episodes,
                         eval_seed=seed, from_scratch=False, seed=seed)
    adapted = adapt(config, progress=progress)
    if progress:
        progress("deploying over the bridge")
    with served_target(target) as endpoint:
        client = RobotClient(endpoint, adapted.policy.spec, timeout=5.0)
        try:
            deployed = deploy(adapted.policy, client, episodes, seed)
        finally:
            client.close()
    return adapted.report, deployed, adapted.policy


def _target_env(policy: HierarchicalPolicy, target: str, render: bool = False) -> gym.Env:
    """``policy``'s grasp env on ``target``, driven through its head (rendering small frames if asked)."""
    frames = {"render_mode": "rgb_array", "render_width": VIDEO_SIZE[0], "render_height": VIDEO_SIZE[1]}
    return time_limited_grasp_env(robot=policy.spec.name, controller=policy.controller_factory(), randomization=None,
                                  target=target, **(frames if render else {}))


def clip_seed(before: HierarchicalPolicy, after: HierarchicalPolicy, target: str, seeds: Sequence[int]) -> int:
    """The first of ``seeds`` whose episode ``before`` fails and ``after`` succeeds (the
    episode that shows what changed), else the first of ``seeds``."""
    env_before, env_after = _target_env(before, target), _target_env(after, target)
    try:
        for seed in seeds:
            if not evaluate(env_before, before.act, 1, seed).successes and evaluate(env_after, after.act, 1,
                                                                                     seed).successes:
                return seed
    finally:
        env_before.close()
        env_after.close()
    return seeds[0]


def write_comparison_clip(before: HierarchicalPolicy, after: HierarchicalPolicy, target: str, seed: int,
                          path: str | Path, labels: tuple[str, str] = ("zero-shot", "adapted")) -> Path:
    """``before`` (left) and ``after`` (right) on the same seeded episode of ``target``, as one clip."""
    clips = []
    for policy in (before, after):
        env = _target_env(policy, target, render=True)
        try:
            recorder = FrameRecorder(env, 1, CLIP_EVERY)
            evaluate(env, policy.act, 1, seed, observe=recorder)
            fps = recorder.fps(env.unwrapped.robot.control_period)
        finally:
            env.close()
        clips.append(recorder.frames)
    return write_video(side_by_side(clips[0], clips[1], labels), path, fps=fps)
