"""Weighing a held object with the joint torques: the one reading of its mass that does not also
scale with the grip (which the joints, fingers and perceived cube see only through force over mass)."""

from dataclasses import replace

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import calibrate, excite, load_recording, save_recording
from simreal.calibration.fit import replayable
from simreal.calibration.trajectory_file import CalibrationDataError
from simreal.calibration.weighing import weigh
from simreal.sim import SimRobot

SPEC, SCENE = assets.robot_spec("panda"), assets.scene_spec("tabletop")
CUBE = SCENE.objects[0].mass
KINDS = ("lift", "touch", "weigh")


def _weighed(mass_scale: float, force: float, seed: int = 0):
    """A lift, a flick and a weighing on slippery's dynamics with these mass and force scales."""
    dynamics = replace(assets.target_profile("slippery").dynamics, object_mass_scale=mass_scale, gripper_force=force)
    robot = SimRobot(SPEC, SCENE, dynamics)
    try:
        return excite(robot, 3, 6.0, seed=seed, routine=KINDS)
    finally:
        robot.close()


@pytest.fixture(scope="module")
def slippery():
    return _weighed(3.0, 0.5)


def test_weighing_finds_the_mass_the_grip_cannot_tell_from_the_force(slippery):
    """Along the grip's symmetry (mass and force halved together) the weighing follows the mass."""
    heavy, light = weigh(slippery, SPEC), weigh(_weighed(1.5, 0.25), SPEC)
    assert heavy is not None and light is not None and heavy.pairs >= 1
    assert abs(heavy.mass - 3.0 * CUBE) < 0.02 * 3.0 * CUBE, heavy
    assert abs(light.mass - 1.5 * CUBE) < 0.02 * 1.5 * CUBE, light
    assert abs(heavy.mass - 3.0 * CUBE) < 3 * heavy.sigma + 1e-3  # the reported sigma holds the truth
    fit = calibrate(slippery, ["object_mass_scale"], SPEC, SCENE, workers=1)
    (estimate,) = fit.of("object_mass_scale")
    assert estimate.stage == "weighing" and estimate.identifiable and abs(estimate.value - 3.0) < 0.06


def test_weighing_needs_torques_and_a_held_empty_pair(slippery, tmp_path):
    path = save_recording(slippery, tmp_path / "w.npz")
    loaded = load_recording(path)
    assert all(t.has_torques for t in loaded.trajectories)
    assert np.allclose(loaded.trajectories[2].joint_torques, slippery.trajectories[2].joint_torques)
    assert [t.kind for t in loaded.trajectories] == list(KINDS)
    assert replayable(loaded) == [1]  # the lifts and the weighing are measurements, not replayed whole
    no_torques = replace(slippery, trajectories=tuple(replace(t, joint_torques=np.zeros((0, 0)))
                                                      for t in slippery.trajectories))
    assert weigh(no_torques, SPEC) is None
    assert weigh(replace(slippery, trajectories=slippery.trajectories[:2]), SPEC) is None  # no weigh trajectory
    unread = calibrate(no_torques, ["object_mass_scale"], SPEC, SCENE, workers=1)
    assert unread.plan.unread == ("object_mass_scale",) and unread.dynamics.object_mass_scale == 1.0


def test_bad_torques_in_a_file_name_the_array(slippery, tmp_path):
    broken = slippery.trajectories[0].joint_torques.copy()
    broken[5, 2] = np.nan
    bad = replace(slippery, trajectories=(replace(slippery.trajectories[0], joint_torques=broken),))
    with pytest.raises(CalibrationDataError, match=r"t0_joint_torques\[5, 2\]"):
        load_recording(save_recording(bad, tmp_path / "nan.npz"))
    good = save_recording(replace(slippery, trajectories=slippery.trajectories[:1]), tmp_path / "good.npz")
    with np.load(good) as data:
        arrays = {key: data[key] for key in data.files}
    arrays["t0_joint_torques"] = arrays["t0_joint_torques"][:4]  # a truncated column
    np.savez(tmp_path / "short.npz", **arrays)
    with pytest.raises(CalibrationDataError, match="t0_joint_torques"):
        load_recording(tmp_path / "short.npz")
