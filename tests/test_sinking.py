"""How far a squeezed cube sinks in the hand as it is lifted reads the grip (``calibration.sinking``)."""

from dataclasses import replace

import numpy as np
import pytest

from simreal import assets
from simreal.calibration.sinking import SINK_SCALE, SinkReading, find_lifts

from .test_weighing import SCENE, SPEC, _weighed

TRUTH = assets.target_profile("slippery").dynamics


@pytest.fixture(scope="module")
def slippery():
    """The ``weighed`` routine's first four trajectories (grasp, lift, touch, weigh) on slippery."""
    return _weighed(TRUTH.object_mass_scale, TRUTH.gripper_force)


def test_lifts_are_found_where_a_squeezed_cube_is_raised_and_held(slippery):
    kinds = [t.kind for t in slippery.trajectories]
    assert kinds == ["grasp", "lift", "touch", "weigh"]
    lift, weigh = slippery.trajectories[1], slippery.trajectories[3]
    found = find_lifts(lift)
    assert len(found) >= 1 and len(find_lifts(weigh)) == 1
    for one in found:
        assert one.squeezed[-1] < one.held[0]  # the squeeze comes before the hold in the air
        height = lift.object_positions[:, 0, 2]
        assert np.mean(height[one.held]) > np.mean(height[one.squeezed]) + 0.02
    assert find_lifts(slippery.trajectories[2]) == []  # the flick trajectory never lifts the cube


def test_a_weaker_grip_sinks_more_and_the_sinks_place_the_grip(slippery):
    """Replayed with the force 20 % low the cube sinks deeper than with the true force, and
    with it 30 % high less; the sinks' cost is lowest at the true force of the three."""
    with SinkReading(slippery, SPEC, SCENE, workers=2) as reading:
        assert len(reading) >= 2
        sinks = {f: reading.simulated(replace(TRUTH, gripper_force=f), draws=3) for f in (0.4, 0.5, 0.65)}
        costs = {f: float(np.sum(((s - reading.recorded) / SINK_SCALE) ** 2)) for f, s in sinks.items()}
    assert np.mean(sinks[0.4]) > np.mean(sinks[0.5]) + 0.005 > np.mean(sinks[0.65]) + 0.005, sinks
    assert costs[0.5] < costs[0.4] and costs[0.5] < costs[0.65], costs
