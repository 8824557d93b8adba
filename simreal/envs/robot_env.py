"""RobotEnv: the part every simreal task env shares — which Robot, randomization, reset."""

from __future__ import annotations

from typing import Any, ClassVar

import gymnasium as gym
import numpy as np

from .. import assets
from ..kinematics import Kinematics
from ..render import SceneView
from ..robot import ResetRequest, Robot, RobotState
from ..sim import DomainRandomizer, SimRobot
from ..specs import DynamicsParams, SceneSpec
from ..targets import open_target


def build_robot(robot: str | Robot, scene: str | SceneSpec, target: str | None) -> Robot:
    """A SimRobot by robot name, the target a profile describes, or a given Robot as is."""
    scene_spec = assets.scene_spec(scene) if isinstance(scene, str) else scene
    if target is not None:
        built = open_target(target, scene_spec)
        if isinstance(robot, str) and built.spec.name != robot:
            built.close()
            raise ValueError(f"target profile '{target}' is for robot '{built.spec.name}', not '{robot}'")
        return built
    if isinstance(robot, str):
        return SimRobot(assets.robot_spec(robot), scene_spec)
    if not isinstance(robot, Robot):
        raise TypeError(f"robot must be a robot name or implement the Robot protocol, got {type(robot).__name__}")
    return robot


class RobotEnv(gym.Env[np.ndarray, np.ndarray]):
    """Base of the task envs: owns the Robot, the randomizer and the nominal kinematics.

    Randomness (dynamics, object placement, the robot's sensor noise) all derives from
    ``self.np_random``, so ``reset(seed=s)`` fixes the whole episode.

    ``render_mode="rgb_array"``: ``render()`` returns the scene as the robot reports it
    (measured joints, perceived objects; :class:`simreal.render.SceneView`, PyBullet's CPU
    renderer, no GPU or display) as a ``render_height x render_width x 3`` uint8 array.
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["rgb_array"], "render_fps": 20}

    def __init__(self, robot: str | Robot = "panda", scene: str | SceneSpec = "tabletop",
                 randomization: str | None = None, target: str | None = None, render_mode: str | None = None,
                 render_width: int = 320, render_height: int = 240) -> None:
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']} or None, "
                             f"got {render_mode!r}")
        self.render_mode = render_mode
        self.render_size = (int(render_width), int(render_height))
        self._view: SceneView | None = None
        self._state: RobotState | None = None
        self.scene = assets.scene_spec(scene) if isinstance(scene, str) else scene
        self.robot = build_robot(robot, self.scene, target)
        if randomization is not None and not hasattr(self.robot, "set_dynamics"):
            self.robot.close()
            raise ValueError("randomization needs a simulated robot (a robot name or a SimRobot), "
                             f"not {self.robot!r}; pass randomization=None")
        self.spec_robot = self.robot.spec
        self.kinematics = Kinematics(self.spec_robot)
        self.randomizer = (
            DomainRandomizer(assets.randomization_spec(randomization), self.spec_robot.dof)
            if randomization is not None else None
        )
        self.dynamics: DynamicsParams | None = None
        # frames play at the robot's rate (gymnasium reads render_fps from the instance)
        self.metadata = {**self.metadata, "render_fps": 1.0 / self.robot.control_period}

    def _reset_robot(self, seed: int | None, options: dict[str, Any] | None) -> RobotState:
        super().reset(seed=seed)
        options = options or {}
        if hasattr(self.robot, "set_dynamics"):
            dynamics = options.get("dynamics")
            if dynamics is None and self.randomizer is not None:
                dynamics = self.randomizer.sample(self.np_random)
            self.robot.set_dynamics(dynamics or DynamicsParams())
            self.dynamics = dynamics or DynamicsParams()
        request = ResetRequest(self._sample_placements())
        return self.robot.reset(request, seed=int(self.np_random.integers(2**31)))

    def _sample_placements(self) -> dict[str, tuple[float, float, float]]:
        """Uniform (x, y, yaw) per object in the spawn region, kept apart by rejection."""
        s, rng = self.scene, self.np_random
        placed: dict[str, tuple[float, float, float]] = {}
        for obj in s.objects:
            for _ in range(100):
                x, y = rng.uniform(s.spawn_low, s.spawn_high)
                if all(np.hypot(x - px, y - py) >= s.min_separation for px, py, _ in placed.values()):
                    break
            placed[obj.name] = (float(x), float(y), float(rng.uniform(*s.spawn_yaw)))
        return placed

    def render(self) -> np.ndarray | None:
        """The current state as a picture (``render_mode="rgb_array"``), else None."""
        if self.render_mode is None:
            return None
        if self._state is None:
            raise RuntimeError("call reset() before render()")
        if self._view is None:
            width, height = self.render_size
            self._view = SceneView(self.spec_robot, self.scene, width, height)
        return self._view.frame(self._state)

    def close(self) -> None:
        view = getattr(self, "_view", None)
        if view is not None:
            view.close()
            self._view = None
        robot = getattr(self, "robot", None)
        if robot is not None:
            robot.close()
            self.robot = None
        kinematics = getattr(self, "kinematics", None)
        if kinematics is not None:
            kinematics.close()
        super().close()
