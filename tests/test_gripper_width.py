"""The simulated gripper width against the distance between the finger pads.

A real driver reports the gripper's opening; in simulation ``gripper_width`` is read back
from the gripper joints through the spec's linear map. These tests hold the simulated
reading to the distance between the pads' collision shapes, open and holding the cube."""

import pybullet
import pytest

from simreal.envs import time_limited_grasp_env
from simreal.policy import ScriptedGraspExpert

TOLERANCE = 0.005  # m: the pads' collision shapes sit a little off the joints' nominal width


def pad_distance(robot) -> float:
    """Closest distance between the two gripper links' collision shapes (m)."""
    body, cid = robot._body, robot.world.id
    left, right = body.gripper_links
    points = pybullet.getClosestPoints(body.uid, body.uid, 1.0, left, right, physicsClientId=cid)
    return min(p[8] for p in points)


def held_state(robot_name: str, seed: int):
    """Run the scripted expert until the cube is lifted; the env and its last observation."""
    env = time_limited_grasp_env(robot=robot_name, randomization=None)
    expert = ScriptedGraspExpert()
    lift = env.unwrapped.layout.slice("object_lift")
    obs, _ = env.reset(seed=seed)
    for _ in range(50):
        obs, _, terminated, truncated, _ = env.step(expert(obs))
        if obs[lift][0] > 0.03 or terminated or truncated:
            break
    assert obs[lift][0] > 0.03, "the expert did not lift the cube"
    return env, obs


@pytest.mark.parametrize("robot_name", ["panda", "xarm6"])
def test_open_width_matches_the_pads(robot_name):
    env = time_limited_grasp_env(robot=robot_name, randomization=None)
    obs, _ = env.reset(seed=0)
    width = obs[env.unwrapped.layout.slice("gripper_width")][0]
    assert abs(width - pad_distance(env.unwrapped.robot)) < TOLERANCE
    env.close()


@pytest.mark.parametrize("robot_name", [
    "panda",
    pytest.param("xarm6", marks=pytest.mark.xfail(strict=True, reason=(
        "the xArm gripper's six joints are driven separately (no closed linkage) and part from "
        "the mimic relation under load, so the joint read-back runs far below the pads"))),
])
def test_width_while_holding_matches_the_pads(robot_name):
    env, obs = held_state(robot_name, seed=1000)
    width = obs[env.unwrapped.layout.slice("gripper_width")][0]
    half = obs[env.unwrapped.layout.slice("object_half_extents")]
    gap = pad_distance(env.unwrapped.robot)
    env.close()
    assert gap == pytest.approx(2 * half[0], abs=TOLERANCE)  # the pads are on the cube
    assert abs(width - gap) < TOLERANCE, f"width {width:.4f} m, pads {gap:.4f} m apart"
