"""The end-to-end demo on built-in defaults.

1. The shipped source policy (learned high level + learned control head, trained in
   simulation by ``simreal train``) and, for reference, the scripted expert through the
   analytic controller, each on nominal dynamics, under the default domain
   randomization, and zero-shot on every shipped target profile of the robot (on
   whichever engine the profile names).
2. Adaptation of the head to one target (``weak_motors`` by default) with the high level
   frozen: zero-shot -> adapted success on the same seeded episodes, then the adapted
   policy deployed over the bridge to the same target served in another process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import assets, pretrained
from .deploy import DeployResult, deploy
from .envs import time_limited_grasp_env
from .evaluation import EvaluationResult, evaluate
from .policy import ScriptedGraspExpert


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
                   ) -> tuple[dict, DeployResult]:
    """Adapt the shipped policy's head to ``target``, then deploy the result over the
    bridge to ``target`` served in another process. Both use the seeded episodes of
    :func:`run_demo`. Returns the transfer report and the deployment result."""
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
    return adapted.report, deployed
