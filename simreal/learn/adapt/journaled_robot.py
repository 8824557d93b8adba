"""JournaledRobot: the episodes an RL learner runs on the target reach the journal, and come back on resume.

The relabeling methods run whole episodes through ``TargetSession.episode``/``collect``,
which journal them. An RL learner (PPO on the head) drives the robot itself, from inside
its rollout loop, so the journal has to sit where the learner meets the robot: this
Robot forwards to the session's robot, records each episode, and writes it to the
journal when the next one starts or the learner's round ends (``end_round``).

On resume the learner is started again with the same seed and asks for the same
episodes: while the journal holds them, this Robot answers from the journal (no robot
step is taken), checking that every reset asks for the recorded scene and every command
is the recorded one. A learner that asks for something else has diverged from its
journal (``JournalMismatch``). Once the journal is used up, the robot answers again.
An episode cut short by an interruption is not in the journal, so it runs again.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...episode_journal import EpisodeJournal, JournalMismatch
from ...recording import RecordingRobot, Trajectory
from ...robot import JointCommand, ResetRequest, Robot, RobotState

PURPOSE = "collection"
EXACT = 1e-9  # the same learner on the same seed sends the same commands: only rounding may differ


class JournaledRobot:
    """A Robot over ``robot`` whose episodes go to ``journal`` as session ``session``
    (module docstring). ``judge`` says from an episode's last state whether it succeeded
    (the journal line's outcome). ``close`` leaves ``robot`` open: its owner closes it."""

    def __init__(self, robot: Robot, journal: EpisodeJournal | None, session: str,
                 judge: Callable[[RobotState], bool] | None = None) -> None:
        self.judge = judge
        self.spec = robot.spec
        self.control_period = robot.control_period
        self._recorder = RecordingRobot(robot)
        self._journal = journal
        self._session = session
        self._episodes = 0
        self._head = ""
        self._served: Trajectory | None = None  # the journal's episode being served back
        self._served_steps = 0
        self._pending: JointCommand | None = None

    def begin_round(self, head: str) -> None:
        """The learner's episodes from now on are run by the head with digest ``head``."""
        self._head = head

    def end_round(self) -> None:
        """The learner's round is over: its last episode, however far it got, is complete."""
        self._finish()

    # ----- Robot protocol -----
    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        self._finish()
        replay = self._journal.replay(self._session, PURPOSE, self._episodes, self._head) if self._journal else None
        if replay is None:
            return self._recorder.reset(request, seed=seed)
        self._served, self._served_steps = replay[1], 0
        self._check_request(request)
        return self._served.states[0]

    def apply(self, command: JointCommand) -> None:
        if self._served is None:
            self._recorder.apply(command)
        else:
            self._pending = command

    def step(self) -> RobotState:
        if self._served is None:
            return self._recorder.step()
        t = self._served_steps
        if t >= len(self._served):
            self._diverged(f"asked for step {t + 1} of {len(self._served)} recorded")
        if self._pending is not None:
            recorded = self._served.commands[t]
            same = (np.allclose(self._pending.positions, recorded.positions, rtol=0.0, atol=EXACT)
                    and abs(self._pending.gripper - recorded.gripper) <= EXACT)
            if not same:
                self._diverged(f"sent another command at step {t + 1}")
        self._pending = None
        self._served_steps += 1
        return self._served.states[t + 1]

    def close(self) -> None:
        pass

    # ----- internals -----
    def _finish(self) -> None:
        """Journal the live episode that just ended (a served one is already there)."""
        if self._served is not None:
            if self._served_steps != len(self._served):
                self._diverged(f"ended after {self._served_steps} of its {len(self._served)} recorded steps")
            self._served = None
            self._episodes += 1
            return
        for trajectory in self._recorder.take():
            if self._journal is not None:
                success = bool(self.judge(trajectory.states[-1])) if self.judge is not None else False
                self._journal.append(self._session, PURPOSE, self._episodes, self._head, success, trajectory)
            self._episodes += 1

    def _check_request(self, request: ResetRequest | None) -> None:
        recorded = self._served.request if self._served is not None else None
        asked = dict(request.object_placements) if request is not None else {}
        held = dict(recorded.object_placements) if recorded is not None else {}
        if asked.keys() != held.keys() or any(not np.allclose(asked[k], held[k], rtol=0.0, atol=EXACT)
                                              for k in asked):
            self._diverged("asked for another scene at its reset")

    def _diverged(self, what: str) -> None:
        raise JournalMismatch(f"resuming {self._session!r}: the learner's episode {self._episodes} {what}, not "
                              "what its journal holds. The run diverged from its journal (other options or "
                              "another machine); start a new --out-dir")
