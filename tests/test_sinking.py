"""The grip's two readings: how wide the fingers stop on the squeezed cube (the force), and how far
the cube sinks in the hand as it is lifted (the grip's friction, where it slips)."""

from dataclasses import replace

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import excite, squeeze
from simreal.calibration.context import Context
from simreal.calibration.estimates import Estimates
from simreal.calibration.parameters import coordinates
from simreal.calibration.sinking import SINK_SCALE, SinkReading, find_lifts
from simreal.sim import SimRobot
from simreal.specs import DynamicsParams

from .test_weighing import SCENE, SPEC, _weighed

TRUTH = assets.target_profile("slippery").dynamics


@pytest.fixture(scope="module")
def slippery():
    """A lift, a flick and a weighing on slippery."""
    return _weighed(TRUTH.object_mass_scale, TRUTH.gripper_force)


def test_lifts_are_found_where_a_squeezed_cube_is_raised_and_held(slippery):
    lift, touch, weigh = slippery.trajectories
    found = find_lifts(lift)
    assert len(found) >= 1 and len(find_lifts(weigh)) == 1
    for one in found:
        assert one.squeezed[-1] < one.held[0]  # the squeeze comes before the hold in the air
        height = lift.object_positions[:, 0, 2]
        assert np.mean(height[one.held]) > np.mean(height[one.squeezed]) + 0.01  # off the table, if sunk in the hand
    assert find_lifts(touch) == []  # the flick trajectory never lifts the cube


def test_a_weaker_grip_sinks_more_and_the_sinks_place_the_grip(slippery):
    """Replayed with the force 20 % low the cube sinks deeper than with the true force, and
    with it 30 % high less; the sinks' cost is lowest at the true force of the three."""
    context = Context(slippery, SPEC, SCENE, Estimates(TRUTH, SPEC.dof), workers=2)
    reading = SinkReading(context, [0, 2])
    try:
        assert len(reading) >= 2
        sinks = {f: reading.simulated(replace(TRUTH, gripper_force=f), draws=3) for f in (0.4, 0.5, 0.65)}
        costs = {f: float(np.sum(((s - reading.recorded) / SINK_SCALE) ** 2)) for f, s in sinks.items()}
    finally:
        reading.close()
        context.close()
    assert np.mean(sinks[0.4]) > np.mean(sinks[0.5]) + 0.005 > np.mean(sinks[0.65]) + 0.005, sinks
    assert costs[0.5] < costs[0.4] and costs[0.5] < costs[0.65], costs


def test_the_squeezed_width_reads_the_grip_force_whatever_the_mass(slippery):
    """The fingers stop the narrower the harder they squeeze: the force comes out of the widths
    alone, with the cube's mass wrong by a factor of two; on the slippery cube, whose squeeze
    is chaotic, the sigma still holds the truth."""
    truth = DynamicsParams(gripper_force=0.6, object_mass_scale=2.0)
    robot = SimRobot(SPEC, SCENE, truth)
    try:
        lifts = excite(robot, 1, 6.0, seed=2, routine=("lift",))
    finally:
        robot.close()
    for recording, dynamics, wrong in ((lifts, truth, {"object_mass_scale": 1.0}),
                                       (slippery, TRUTH, {"object_mass_scale": 1.0, "finger_friction": 1.0})):
        context = Context(recording, SPEC, SCENE, Estimates(replace(dynamics, gripper_force=1.0, **wrong),
                                                            SPEC.dof), workers=2)
        try:
            (found,) = squeeze.estimate(context, coordinates(["gripper_force"], SPEC.dof))
        finally:
            context.close()
        error = abs(found.value - dynamics.gripper_force)
        assert error <= 3 * found.sigma, found
        if dynamics is truth:
            assert error <= 0.1 * truth.gripper_force and found.sigma < 0.05, found
