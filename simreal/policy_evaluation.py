"""The env a policy is evaluated in: on what a robot reference names, or in simulation.

``simreal evaluate``, its chunks of episodes on a process pool or Ray, and the evaluate
trials of ``simreal sweep`` all build it here, so they run the same episodes.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from .policy.hierarchical import HierarchicalPolicy
from .robot import Robot
from .robot_reference import BridgeAccess, robot_factory
from .specs import RobotSpec


def evaluation_env(policy: HierarchicalPolicy, target: str = "", randomization: str = "default",
                   encoder_offsets: str = "", access: BridgeAccess | None = None, **env_kwargs: Any) -> gym.Env:
    """The time-limited grasp env with ``policy``'s head as its low level.

    ``target`` is a robot reference (profile name, YAML path, bridge endpoint); empty means
    simulation under ``randomization`` (a name, a path or ``"none"``). ``encoder_offsets``
    names a fitted profile whose joint offsets correct the target's readings and commands.
    ``env_kwargs`` go to the env (render settings, say)."""
    from .envs import time_limited_grasp_env
    from .policy.head import head_controller

    robot: Any = policy.spec.name
    kwargs: dict[str, Any] = {"randomization": None if randomization == "none" else randomization}
    if encoder_offsets:
        robot, kwargs = corrected_target(target, encoder_offsets, policy.spec), {"randomization": None}
    elif target:
        robot, kwargs = robot_factory(target, policy.spec, access=access)[0](), {"randomization": None}
    return time_limited_grasp_env(robot=robot, controller=head_controller(policy.head), **kwargs, **env_kwargs)


def corrected_target(target: str, encoder_offsets: str, spec: RobotSpec) -> Robot:
    """The ``target`` profile's robot seen through the ``encoder_offsets`` fitted profile."""
    from .calibration.correction import EncoderCorrection, encoder_offsets_from
    from .specs import SpecError
    from .targets import open_target

    if not target:
        raise SpecError("command line", "--target", "", "the target profile whose readings --encoder-offsets corrects")
    offsets = encoder_offsets_from(encoder_offsets, spec.name, spec.dof)
    robot = open_target(target)
    if robot.spec.name != spec.name:
        robot.close()
        raise SpecError(target, "robot", robot.spec.name, f"'{spec.name}' (the policy's robot)")
    return EncoderCorrection(robot, offsets)


__all__ = ["corrected_target", "evaluation_env"]
