"""The arm's masses and encoder offsets from the holding torques: the model's load, the still windows, the fit."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import calibrate, excite
from simreal.calibration.gravity import MASS_FIELDS, MIN_POSES, fit_gravity, holding_poses
from simreal.robot import JointCommand
from simreal.sim import SimRobot
from simreal.specs import DynamicsParams
from simreal.targets import PerturbedTarget

SPEC = assets.robot_spec("panda")
SCENE = assets.scene_spec("tabletop")
TRUTH = np.array(assets.target_profile("miscalibrated").dynamics.joint_offset)
SEEN = np.array([False, True, True, True, True, True, False])  # a vertical base; the hand's mass on the flange axis


@pytest.fixture(scope="module")
def still_postures():
    """Two trajectories of the ``gravity`` routine on the miscalibrated target (12 s of robot time)."""
    robot = PerturbedTarget("miscalibrated")
    try:
        return excite(robot, 2, 6.0, seed=3, routine="gravity")
    finally:
        robot.close()


def _with_torques(recording, change):
    trajectories = tuple(dataclasses.replace(t, joint_torques=change(t.joint_torques)) for t in recording.trajectories)
    return dataclasses.replace(recording, trajectories=trajectories)


def test_holding_torques_are_what_a_still_arm_reads_and_they_see_the_offsets():
    robot = PerturbedTarget("miscalibrated")
    try:
        state = robot.reset(seed=0)
        target = state.joint_positions + np.array([0.3, 0.2, -0.3, 0.3, 0.4, -0.3, 0.5])
        for _ in range(40):
            robot.apply(JointCommand(target, 0.08))
            states = [robot.step()]
        for _ in range(10):
            robot.apply(JointCommand(target, 0.08))
            states.append(robot.step())
    finally:
        robot.close()
    read = np.mean([s.joint_positions for s in states], axis=0)
    torques = np.mean([s.joint_torques for s in states], axis=0)
    width = float(np.mean([s.gripper_width for s in states]))
    right = SimRobot(SPEC, SCENE, DynamicsParams(joint_offset=tuple(TRUTH)))
    nominal = SimRobot(SPEC, SCENE, DynamicsParams())
    try:
        assert np.max(np.abs(right.holding_torques(read, width) - torques)) < 0.05
        assert np.max(np.abs(nominal.holding_torques(read, width) - torques)) > 0.3  # 50 mrad on the shoulder
    finally:
        right.close()
        nominal.close()


def test_the_torques_pin_every_offset_gravity_turns(still_postures):
    poses = holding_poses(still_postures, SPEC, SCENE.table_height)
    assert len(poses) >= MIN_POSES
    fit = fit_gravity(poses, SPEC, SCENE)
    assert np.array_equal(fit.seen, SEEN)
    error = np.abs(fit.offsets - TRUTH)[SEEN]
    assert np.all(error <= 0.002), error
    assert np.all(error <= 3 * fit.sigma[SEEN] + 5e-4), (error, fit.sigma)
    assert np.all(np.isinf(fit.sigma[~SEEN]))
    again = fit_gravity(holding_poses(still_postures, SPEC, SCENE.table_height), SPEC, SCENE)
    assert np.array_equal(again.offsets, fit.offsets)


def test_torque_noise_widens_the_sigma_and_it_still_holds_the_truth(still_postures):
    clean = fit_gravity(holding_poses(still_postures, SPEC, SCENE.table_height), SPEC, SCENE)
    rng = np.random.default_rng(0)
    noisy = _with_torques(still_postures, lambda tau: tau + rng.normal(0.0, 0.05, tau.shape))
    fit = fit_gravity(holding_poses(noisy, SPEC, SCENE.table_height), SPEC, SCENE)
    assert np.all(fit.sigma[SEEN] > clean.sigma[SEEN])
    assert np.all(np.abs(fit.offsets - TRUTH)[SEEN] <= 3 * fit.sigma[SEEN]), (fit.offsets - TRUTH, fit.sigma)


def test_only_a_free_arm_at_rest_counts(still_postures):
    poses = holding_poses(still_postures, SPEC, SCENE.table_height)
    first = still_postures.trajectories[0]
    ringing = first.joint_positions.copy()
    ringing[:, 4] += 0.05 * np.arange(len(ringing)) * 0.05  # a wrist that never stops creeping (0.05 rad/s)
    moved = first.object_positions.copy()
    moved[10:, 0, 0] += 0.01  # the cube pushed aside: something touched it
    for changed in (dict(joint_positions=ringing), dict(object_positions=moved)):
        recording = dataclasses.replace(still_postures, trajectories=(dataclasses.replace(first, **changed),
                                                                      *still_postures.trajectories[1:]))
        kept = holding_poses(recording, SPEC, SCENE.table_height)
        assert {p.trajectory for p in kept} == {1} and len(kept) == sum(p.trajectory == 1 for p in poses)
    assert holding_poses(still_postures, SPEC, SCENE.table_height + 1.0) == []  # the hand is never that high
    no_torques = _with_torques(still_postures, lambda tau: np.zeros((0, 0)))
    assert holding_poses(no_torques, SPEC) == []
    assert fit_gravity(poses[: MIN_POSES - 1], SPEC, SCENE) is None


def test_the_torques_read_the_masses_with_the_offsets():
    """Inverse dynamics at rest is linear in the link masses and a flange payload, so one fit
    reads both and the offsets; soft, noisy drives only widen the sigmas, which hold the truth."""
    truth = DynamicsParams(link_mass_scale=1.25, payload_mass=0.8, joint_offset=tuple(TRUTH / 2), actuator_gain=0.3,
                           position_noise=0.002, velocity_noise=0.03)
    robot = SimRobot(SPEC, SCENE, truth)
    try:
        recording = excite(robot, 2, 6.0, seed=1, routine="gravity")
    finally:
        robot.close()
    fit = fit_gravity(holding_poses(recording, SPEC, SCENE.table_height), SPEC, SCENE, masses=MASS_FIELDS)
    for name in MASS_FIELDS:
        error = abs(fit.masses[name] - getattr(truth, name))
        assert error <= 0.03 * getattr(truth, name) and error <= 3 * fit.mass_sigma(name), (name, fit.masses)
    error = np.abs(fit.offsets - TRUTH / 2)[SEEN]
    assert np.all(error <= 3 * fit.sigma[SEEN] + 1e-4) and np.all(error <= 0.005), (error, fit.sigma)
    nominal = fit_gravity(holding_poses(recording, SPEC, SCENE.table_height), SPEC, SCENE)  # masses held nominal
    assert np.max(np.abs(nominal.offsets - TRUTH / 2)[SEEN]) > 2 * np.max(error)


def test_calibrate_on_still_postures_alone_reads_what_gravity_turns_and_leaves_the_rest(still_postures):
    """No contact at all (the routine to run first on an arm): joints 1-5 from the torques;
    joints 0 and 6, which gravity cannot turn, unseen: left at nominal and flagged, not made up."""
    fit = calibrate(still_postures, ["joint_offset"], SPEC, SCENE, workers=1)
    offsets = np.array(fit.dynamics.joint_offset)
    rows = fit.of("joint_offset")
    assert np.all(np.abs(offsets - TRUTH)[SEEN] <= 0.002), offsets - TRUTH
    assert all(rows[j].identifiable for j in (1, 2, 3)) and all(rows[j].stage == "gravity" for j in range(1, 6))
    assert not rows[0].identifiable and not rows[6].identifiable and offsets[0] == 0.0 and offsets[6] == 0.0
    assert [step.stage.name for step in fit.plan.steps] == ["gravity"]  # nothing else reads offsets here
