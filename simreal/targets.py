"""PerturbedTarget: the stand-in for a real robot, built from a target profile.

Adaptation, evaluation and the bridge server treat it like hardware: it offers only
the Robot interface, and its true dynamics stay private (calibration must estimate
them from what it reports, as it would on a real arm).
"""

from __future__ import annotations

from pathlib import Path

from . import assets
from .robot import JointCommand, ResetRequest, Robot, RobotState
from .sim import SimRobot
from .specs import SceneSpec, TargetProfile


class PerturbedTarget:
    """A Robot whose hidden dynamics come from a ``calibration/targets/*.yaml`` profile."""

    def __init__(self, profile: TargetProfile | str | Path, scene: SceneSpec | str = "tabletop") -> None:
        if not isinstance(profile, TargetProfile):
            profile = assets.target_profile(profile)
        robot_spec = assets.robot_spec(profile.robot)
        profile.check_robot(robot_spec.name, robot_spec.dof)
        scene_spec = assets.scene_spec(scene) if isinstance(scene, str) else scene
        self.name = profile.name
        self.description = profile.description
        self.__sim = SimRobot(robot_spec, scene_spec, profile.dynamics)
        self.spec = robot_spec
        self.control_period = self.__sim.control_period

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        return self.__sim.reset(request, seed=seed)

    def apply(self, command: JointCommand) -> None:
        self.__sim.apply(command)

    def step(self) -> RobotState:
        return self.__sim.step()

    def close(self) -> None:
        self.__sim.close()

    def __repr__(self) -> str:
        return f"PerturbedTarget({self.name!r})"


def open_target(profile: TargetProfile | str | Path, scene: SceneSpec | str = "tabletop") -> Robot:
    """The Robot a target profile describes (by profile, shipped name or YAML path).

    Every place that runs on a target profile opens it here, so a profile's kind of
    robot (which engine stands in for the real arm) is decided in one place.
    """
    if not isinstance(profile, TargetProfile):
        profile = assets.target_profile(profile)
    return PerturbedTarget(profile, scene)
