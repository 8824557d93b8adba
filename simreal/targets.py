"""PerturbedTarget: the stand-in for a real robot, built from a target profile.

Adaptation, evaluation and the bridge server treat it like hardware: it offers only
the Robot interface, and its true dynamics stay private (calibration must estimate
them from what it reports, as it would on a real arm). :func:`open_target` is the one
place a profile becomes a Robot; it picks the engine the profile names (the training
simulator, PyBullet, with ``DynamicsParams`` applied, or MuJoCo with its own parameters)
and adds the profile's unmodeled effects on top.
"""

from __future__ import annotations

from pathlib import Path

from . import assets
from .robot import JointCommand, ResetRequest, Robot, RobotState
from .sim import SimRobot
from .sim.friction import JointFriction
from .sim.unmodeled import CommandPath
from .specs import RobotSpec, SceneSpec, TargetProfile


def _engine_robot(profile: TargetProfile, robot: RobotSpec, scene: SceneSpec) -> Robot:
    """The engine's robot with the profile's dynamics and joint friction (if any)."""
    effects = profile.unmodeled
    friction = JointFriction(effects, robot.dof) if effects.friction_present() else None
    if profile.engine == "mujoco":
        from .mujoco import MujocoRobot  # imported on use: PyBullet-only work never loads MuJoCo

        return MujocoRobot(robot, scene, profile.mujoco, profile.dynamics, friction, profile.source)
    return SimRobot(robot, scene, profile.dynamics, friction=friction)


def _build(profile: TargetProfile, robot: RobotSpec, scene: SceneSpec) -> Robot:
    built = _engine_robot(profile, robot, scene)
    if profile.unmodeled.command_path_present():
        return CommandPath(built, profile.unmodeled)
    return built


class PerturbedTarget:
    """A Robot whose hidden dynamics come from a ``calibration/targets/*.yaml`` profile, on
    the engine the profile names, with its unmodeled effects."""

    def __init__(self, profile: TargetProfile | str | Path, scene: SceneSpec | str = "tabletop") -> None:
        if not isinstance(profile, TargetProfile):
            profile = assets.target_profile(profile)
        robot_spec = assets.robot_spec(profile.robot)
        profile.check_robot(robot_spec.name, robot_spec.dof)
        scene_spec = assets.scene_spec(scene) if isinstance(scene, str) else scene
        self.name = profile.name
        self.description = profile.description
        self.__robot = _build(profile, robot_spec, scene_spec)
        self.spec = robot_spec
        self.control_period = self.__robot.control_period

    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        return self.__robot.reset(request, seed=seed)

    def apply(self, command: JointCommand) -> None:
        self.__robot.apply(command)

    def step(self) -> RobotState:
        return self.__robot.step()

    def close(self) -> None:
        self.__robot.close()

    def __repr__(self) -> str:
        return f"PerturbedTarget({self.name!r})"


def open_target(profile: TargetProfile | str | Path, scene: SceneSpec | str = "tabletop") -> Robot:
    """The Robot a target profile describes (by profile, shipped name or YAML path).

    Every place that runs on a target profile opens it here, so a profile's kind of
    robot (which engine stands in for the real arm, which unmodeled effects it has) is
    decided in one place.
    """
    if not isinstance(profile, TargetProfile):
        profile = assets.target_profile(profile)
    return PerturbedTarget(profile, scene)
