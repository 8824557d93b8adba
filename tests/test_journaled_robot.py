"""A learner's episodes reach the journal as they end and are served back on resume."""

import numpy as np
import pytest

from .robots import CountingRobot
from simreal.assets import robot_spec
from simreal.drivers.echo import EchoRobot
from simreal.episode_journal import EpisodeJournal, JournalMismatch
from simreal.learn.adapt.journaled_robot import JournaledRobot
from simreal.robot import JointCommand, ResetRequest

SPEC = robot_spec("panda")
PLACED = ResetRequest({"cube": (0.5, 0.0, 0.1)})


def _drive(robot, episodes, steps, offset=0.0):
    """``episodes`` episodes of ``steps`` commands each, the commands a function of the state."""
    states = []
    for _ in range(episodes):
        state = robot.reset(PLACED)
        for t in range(steps):
            robot.apply(JointCommand(state.joint_positions + 0.01 * (t + 1) + offset, 0.02))
            state = robot.step()
            states.append(state.joint_positions.copy())
    return states


def _live(tmp_path, episodes=3, steps=4, resume=False, after=None):
    log = []
    robot = CountingRobot(EchoRobot(SPEC), log, after)
    journaled = JournaledRobot(robot, EpisodeJournal(tmp_path, resume=resume), "adapt/learner",
                               judge=lambda state: True)
    journaled.begin_round("head0")
    return journaled, log


def test_live_episodes_reach_the_journal_when_the_next_starts_and_when_the_round_ends(tmp_path):
    robot, _ = _live(tmp_path)
    _drive(robot, 2, 4)
    journal = EpisodeJournal(tmp_path, resume=True)
    assert [e.seed for e in journal.entries] == [0]  # the second episode is still running
    robot.end_round()
    entries = EpisodeJournal(tmp_path, resume=True).entries
    assert [(e.seed, e.steps, e.head, e.success) for e in entries] == [(0, 4, "head0", True), (1, 4, "head0", True)]


def test_resume_serves_the_journal_without_stepping_the_robot_then_goes_live(tmp_path):
    first, _ = _live(tmp_path)
    recorded = _drive(first, 2, 4)
    first.end_round()
    second, log = _live(tmp_path, resume=True)
    again = _drive(second, 3, 4)
    np.testing.assert_array_equal(np.array(again[:8]), np.array(recorded))
    assert log[0].steps == 4  # only the third episode ran on the robot
    second.end_round()
    assert len(EpisodeJournal(tmp_path, resume=True).entries) == 3


def test_a_learner_that_sends_other_commands_on_resume_is_stopped(tmp_path):
    first, _ = _live(tmp_path)
    _drive(first, 1, 4)
    first.end_round()
    second, _ = _live(tmp_path, resume=True)
    with pytest.raises(JournalMismatch, match="sent another command at step 1"):
        _drive(second, 1, 4, offset=0.5)


def test_a_learner_that_asks_for_another_scene_on_resume_is_stopped(tmp_path):
    first, _ = _live(tmp_path)
    _drive(first, 1, 2)
    first.end_round()
    second, _ = _live(tmp_path, resume=True)
    with pytest.raises(JournalMismatch, match="another scene"):
        second.reset(ResetRequest({"cube": (0.4, 0.0, 0.1)}))


def test_an_episode_cut_by_a_dropped_link_is_not_journaled(tmp_path):
    robot, _ = _live(tmp_path, after=6)
    with pytest.raises(Exception, match="no reply"):
        _drive(robot, 2, 4)
    assert [e.steps for e in EpisodeJournal(tmp_path, resume=True).entries] == [4]
