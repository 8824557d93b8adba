import simreal  # noqa: F401  (first: it pins the math kernels before numpy loads; registers envs)

import numpy as np
import pytest
from simreal import assets
from simreal.sim import SimRobot


@pytest.fixture
def panda_spec():
    return assets.robot_spec("panda")


@pytest.fixture
def scene_spec():
    return assets.scene_spec("tabletop")


@pytest.fixture
def sim_robot(panda_spec, scene_spec):
    robot = SimRobot(panda_spec, scene_spec)
    yield robot
    robot.close()


def rollout_joints(robot, steps: int = 30, seed: int = 0) -> np.ndarray:
    """Drive a Robot with a fixed joint-target sequence; return measured joint positions."""
    from simreal.robot import JointCommand, ResetRequest

    state = robot.reset(ResetRequest({"cube": (0.5, 0.0, 0.0)}), seed=seed)
    home = np.asarray(robot.spec.home)
    sweep = np.zeros(robot.spec.dof)
    sweep[:4] = (0.6, 0.5, -0.4, 0.5)
    trace = []
    for t in range(steps):
        target = home + sweep * min(t / 10, 1.0)
        robot.apply(JointCommand(target, 0.08 if t < 15 else 0.0))
        state = robot.step()
        trace.append(np.concatenate((state.joint_positions, [state.gripper_width])))
    return np.array(trace)
