"""The excitation on any robot: the hand's geometry from its URDF, the limits, the object from the scene."""

from __future__ import annotations

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import excite
from simreal.calibration.excitation.hand import hand_geometry, object_geometry
from simreal.sim import SimRobot
from simreal.specs import DynamicsParams

from .test_calibration import _assert_within_limits

SCENE = assets.scene_spec("tabletop")


@pytest.mark.parametrize("robot", ["panda", "xarm6"])
def test_the_hand_is_measured_from_the_urdf(robot):
    """Each distance is where a probe slab meets the hand's collision shapes: they differ by hand,
    and every one is a plausible size for a parallel gripper."""
    spec = assets.robot_spec(robot)
    hand = hand_geometry(spec, object_geometry(SCENE).height)
    assert 0.0 < hand.tip_below < 0.05 and 0.005 < hand.face_ahead < 0.05
    assert 0.01 < hand.closed_half < 0.06
    assert spec.gripper.max_width / 2 < hand.finger_aside < spec.gripper.max_width  # an open finger's middle
    assert hand.underside > object_geometry(SCENE).height / 2


def test_two_hands_measure_differently_and_the_object_comes_from_the_scene():
    panda, xarm = (hand_geometry(assets.robot_spec(r), 0.05) for r in ("panda", "xarm6"))
    assert abs(panda.tip_below - xarm.tip_below) > 0.005 and abs(panda.finger_aside - xarm.finger_aside) > 0.002
    obj = object_geometry(SCENE)
    assert obj.name == SCENE.objects[0].name and obj.half == pytest.approx(SCENE.objects[0].size[0] / 2)


@pytest.mark.parametrize("robot", ["panda", "xarm6"])
def test_the_default_routine_runs_on_any_robot_within_its_limits_and_handles_the_object(robot):
    spec = assets.robot_spec(robot)
    target = SimRobot(spec, SCENE, DynamicsParams(position_noise=0.001))
    try:
        recording = excite(target, 3, 6.0, seed=1, routine=("lift", "touch", "push"))
    finally:
        target.close()
    _assert_within_limits(spec, recording)
    lift, touch, push = recording.trajectories
    assert lift.object_positions[:, 0, 2].max() > lift.object_positions[0, 0, 2] + 0.02  # lifted
    for moved in (touch, push):  # flicked, pushed
        assert np.linalg.norm(moved.object_positions[-1, 0, :2] - moved.object_positions[0, 0, :2]) > 0.01
