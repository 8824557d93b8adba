"""Robot references: profiles and bridge endpoints name robots the same way; remote ones need keys."""

import numpy as np
import pytest

from simreal import assets
from simreal.bridge import RobotServer
from simreal.envs import GraspEnv, MissingPerception
from simreal.episode_journal import EpisodeJournal, JournalMismatch, load_trajectory, save_trajectory
from simreal.recording import RecordingRobot
from simreal.robot import JointCommand, RobotState
from simreal.robot_reference import BridgeAccess, is_endpoint, robot_factory
from simreal.targets import open_target

SPEC = assets.robot_spec("panda")


def test_endpoints_and_profiles_are_told_apart():
    assert is_endpoint("tcp://127.0.0.1:5555") and is_endpoint("ipc:///tmp/arm")
    assert not is_endpoint("weak_motors") and not is_endpoint("profiles/my_arm.yaml")


def test_a_remote_endpoint_without_keys_is_refused_before_connecting():
    with pytest.raises(ValueError, match=r"10\.0\.0\.7.*--curve-server-key"):
        robot_factory("tcp://10.0.0.7:5555", SPEC)
    with pytest.raises(ValueError, match="--curve-secret needs --curve-server-key"):
        robot_factory("tcp://127.0.0.1:5555", SPEC, access=BridgeAccess(secret="me.key_secret"))


def test_a_profile_of_another_robot_is_refused():
    xarm = assets.robot_spec("xarm6")
    with pytest.raises(ValueError, match="weak_motors"):
        robot_factory("weak_motors", xarm)


def test_a_served_robot_and_its_profile_report_the_same_episode():
    local = open_target("weak_motors")
    server = RobotServer(open_target("weak_motors"), watchdog_timeout=1.0).start()
    try:
        factory, info = robot_factory(server.endpoint, SPEC, access=BridgeAccess(timeout=5.0))
        assert info["kind"] == "bridge" and not info["encrypted"]
        remote = factory()
        try:
            states = []
            for robot in (local, remote):
                robot.reset(seed=3)
                robot.apply(JointCommand(np.array(SPEC.home) + 0.05, 0.04))
                states.append(robot.step())
            assert np.allclose(states[0].joint_positions, states[1].joint_positions)
        finally:
            remote.close()
    finally:
        server.stop()
        local.close()


class _Blind:
    """A robot whose side has no perception: states carry no object poses."""

    def __init__(self, robot):
        self._robot, self.spec, self.control_period = robot, robot.spec, robot.control_period

    def reset(self, request=None, *, seed=None):
        return self._strip(self._robot.reset(request, seed=seed))

    def apply(self, command):
        self._robot.apply(command)

    def step(self):
        return self._strip(self._robot.step())

    def close(self):
        self._robot.close()

    @staticmethod
    def _strip(state: RobotState) -> RobotState:
        return RobotState(state.time, state.joint_positions, state.joint_velocities, state.gripper_width, {})


def test_a_robot_without_object_poses_gets_an_error_naming_what_it_must_report():
    env = GraspEnv(robot=_Blind(open_target("weak_motors")), randomization=None)
    try:
        with pytest.raises(MissingPerception, match=r"'cube'.*no objects.*must report"):
            env.reset(seed=0)
    finally:
        env.close()


def _one_episode(steps=5):
    robot = RecordingRobot(open_target("weak_motors"))
    robot.reset(seed=1)
    for t in range(steps):
        robot.apply(JointCommand(np.array(SPEC.home) + 0.01 * t, 0.04))
        robot.step()
    robot.reset(seed=2)  # ends the first episode
    robot.close()
    return robot.take()[0]


def test_a_journal_trajectory_round_trips_and_resume_checks_each_request(tmp_path):
    trajectory = _one_episode()
    save_trajectory(trajectory, tmp_path / "one.npz")
    back = load_trajectory(tmp_path / "one.npz")
    assert len(back) == len(trajectory)
    assert np.array_equal(back.joint_positions(), trajectory.joint_positions())
    assert np.array_equal(back.command_positions(), trajectory.command_positions())
    last, original = back.states[-1].objects["cube"], trajectory.states[-1].objects["cube"]
    assert np.array_equal(last.half_extents, original.half_extents)

    journal = EpisodeJournal(tmp_path / "run")
    journal.append("adapt", "collection", 7, "abc", False, trajectory)
    with pytest.raises(FileExistsError, match="--resume"):
        EpisodeJournal(tmp_path / "run")
    resumed = EpisodeJournal(tmp_path / "run", resume=True)
    entry, replayed = resumed.replay("adapt", "collection", 7, "abc")
    assert entry.steps == len(trajectory) and len(replayed) == len(trajectory)
    assert resumed.replay("adapt", "collection", 8, "abc") is None  # used up: the robot runs the rest
    again = EpisodeJournal(tmp_path / "run", resume=True)
    with pytest.raises(JournalMismatch, match="diverged"):
        again.replay("adapt", "collection", 8, "abc")
