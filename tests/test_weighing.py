"""Weighing a held object with the joint torques: the one reading that separates its mass
from the grip force (which the joints, fingers and perceived cube see only as a ratio)."""

from dataclasses import replace

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import excite, load_recording, save_recording
from simreal.calibration.excitation import routine_for
from simreal.calibration.fit import replayed
from simreal.calibration.trajectory_file import CalibrationDataError
from simreal.calibration.weighing import weigh
from simreal.sim import SimRobot

SPEC, SCENE = assets.robot_spec("panda"), assets.scene_spec("tabletop")
CUBE = SCENE.objects[0].mass


def _weighed(mass_scale: float, force: float, seed: int = 0):
    """Four trajectories of the ``weighed`` routine (the fourth weighs) on slippery's dynamics."""
    dynamics = replace(assets.target_profile("slippery").dynamics, object_mass_scale=mass_scale, gripper_force=force)
    robot = SimRobot(SPEC, SCENE, dynamics)
    try:
        return excite(robot, 4, 6.0, seed=seed, routine="weighed")
    finally:
        robot.close()


@pytest.fixture(scope="module")
def slippery():
    return _weighed(3.0, 0.5)


def test_weighing_finds_the_mass_the_grip_cannot_tell_from_the_force(slippery):
    """Along the symmetry (mass and force halved together) the weighing follows the mass."""
    heavy, light = weigh(slippery, SPEC), weigh(_weighed(1.5, 0.25), SPEC)
    assert heavy is not None and light is not None and heavy.pairs >= 1
    assert abs(heavy.mass - 3.0 * CUBE) < 0.02 * 3.0 * CUBE, heavy
    assert abs(light.mass - 1.5 * CUBE) < 0.02 * 1.5 * CUBE, light
    assert abs(heavy.mass - 3.0 * CUBE) < 3 * heavy.sigma + 1e-3  # the reported sigma holds the truth


def test_weighing_needs_torques_and_a_held_empty_pair(slippery, tmp_path):
    path = save_recording(slippery, tmp_path / "w.npz")
    loaded = load_recording(path)
    assert all(t.has_torques for t in loaded.trajectories)
    assert np.allclose(loaded.trajectories[3].joint_torques, slippery.trajectories[3].joint_torques)
    assert [t.kind for t in loaded.trajectories] == ["grasp", "lift", "touch", "weigh"]
    assert len(replayed(loaded).trajectories) == 2  # the lifts and the weighing are measurements, not replayed
    no_torques = replace(slippery, trajectories=tuple(replace(t, joint_torques=np.zeros((0, 0)))
                                                      for t in slippery.trajectories))
    assert weigh(no_torques, SPEC) is None
    no_weigh = replace(slippery, trajectories=slippery.trajectories[:1] + slippery.trajectories[2:3])  # grasp, touch
    assert weigh(no_weigh, SPEC) is None


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


def test_the_routine_weighs_only_when_mass_and_force_are_both_fitted():
    assert routine_for(["object_mass_scale", "gripper_force", "finger_friction"]) == "weighed"
    assert routine_for(["object_mass_scale"]) == "dynamics"
    assert routine_for(["gripper_force", "joint_offset"]) == "offsets"
