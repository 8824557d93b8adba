"""Episodes on the target robot: the only place adaptation touches it.

A ``TargetSession`` opens one Robot from the factory it is given (a target profile's
stand-in, a bridge client: anything that implements the protocol) and runs grasp
episodes on it with whichever head is asked for: exploring episodes that collect data
and plain episodes that validate a head. Every control step it runs is charged to a
``StepLedger`` under the purpose it served, and every episode is recorded, so the
steps a validation episode spends also become training data. A session may collect on
copies of a simulated target in worker processes (``collection_workers``); it gathers the
same episodes in the same order.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, wait

import numpy as np

from ...envs import EPISODE_STEPS, GraspEnv
from ...episode_journal import EpisodeJournal
from ...policy.head import HeadController
from ...recording import RecordingRobot, Trajectory
from ...robot import JointCommand, Robot, RobotState
from ..episode_workers import EpisodeWorkers
from ..exploration import ExplorationConfig, NoisyController, run_episode
from .journaled_robot import JournaledRobot
from .ledger import StepLedger
from .low_level import LowLevel, controller_factory, digest, replayed

RobotFactory = Callable[[], Robot]
Act = Callable[[np.ndarray], np.ndarray]


class HeadSwitch:
    """A Controller that drives the robot through whichever head was last ``use``d, so one
    env (one robot connection) serves every head a run compares. Its ``reference`` is the
    active head's joint reference (None for a head anchored on the measured joints), which
    the grasp observation reads, so each head is observed as it is when measured alone."""

    def __init__(self, spec: object, control_period: float) -> None:
        self.spec = spec
        self.control_period = control_period
        self._controller: HeadController | None = None

    def use(self, head: object) -> None:
        """Drive with ``head``: a control head or a ``low_level.LowLevel``."""
        self._controller = controller_factory(head)(self.spec, self.control_period)

    @property
    def reference(self) -> np.ndarray | None:
        return None if self._controller is None else self._controller.reference

    def reset(self, state: RobotState) -> None:
        self._active().reset(state)

    def __call__(self, state: RobotState, displacement: np.ndarray, gripper_width: float) -> JointCommand:
        return self._active()(state, displacement, gripper_width)

    def _active(self) -> HeadController:
        if self._controller is None:
            raise RuntimeError("HeadSwitch.use(head) before running an episode")
        return self._controller


def _running(out: dict[int, Future | tuple[bool, Trajectory]]) -> list[Future]:
    return [v for v in out.values() if isinstance(v, Future) and not v.done()]


def _most_steps(out: dict[int, Future | tuple[bool, Trajectory]], full: int) -> int:
    """The most steps the episodes sent out can take: their length once known, else ``full``."""
    def most(v: Future | tuple[bool, Trajectory]) -> int:
        if isinstance(v, Future):
            return len(v.result()[1]) if v.done() and v.exception() is None else full
        return len(v[1])

    return sum(most(v) for v in out.values())


class TargetSession:
    """One open connection to the target robot, its ledger and its recorded episodes."""

    def __init__(self, robot: RobotFactory, act: Act, budget: int, exploration: ExplorationConfig,
                 journal: EpisodeJournal | None = None, name: str = "adapt",
                 workers: Callable[[], EpisodeWorkers] | None = None) -> None:
        self._start_workers = workers
        self._workers: EpisodeWorkers | None = None
        self.robot = robot()
        self.ledger = StepLedger(budget, self.robot.control_period)
        self.journal = journal
        self.name = name
        self.act = act
        self.exploration = exploration
        self.recorder = RecordingRobot(self.robot)
        spec = self.robot.spec
        self.switch = HeadSwitch(spec, self.robot.control_period)
        self.noisy = NoisyController(self.switch, spec, np.random.default_rng(0),
                                     max_offset=exploration.max_offset)
        self.env = GraspEnv(robot=self.recorder, randomization=None, controller=lambda s, p: self.noisy)

    @property
    def spec(self) -> object:
        return self.robot.spec

    def validation_episode(self, head: object, seed: int) -> tuple[bool, int, Trajectory]:
        """Run ``head`` as it is for one episode; charged as validation."""
        return self.episode(head, seed, "validation")

    def episode(self, head: object, seed: int, purpose: str, max_steps: int = EPISODE_STEPS
                ) -> tuple[bool, int, Trajectory]:
        """Run ``head`` as it is (no exploration) for one episode of at most ``max_steps``;
        charged under ``purpose``. On resume the journal's copy is served back instead."""
        name = digest(head)
        served = self._replayed(purpose, seed, name)
        if served is None:
            self.switch.use(head)
            success, _ = run_episode(self.env, self.noisy, self.act, None, None, seed, max_steps)
            trajectory = self._completed(purpose, seed, name, success)
        else:
            success, trajectory = served
            replayed(head, trajectory)
        self.ledger.charge(purpose, len(trajectory))
        return success, len(trajectory), trajectory

    def collect(self, head: object, steps: int, seed: int) -> list[Trajectory]:
        """Exploring episodes with ``head`` until ``steps`` control steps; charged as collection.

        Episode ``k`` is seeded ``seed + k`` (its exploration draws too), and the last one
        is cut to what is left, so the collection spends exactly ``steps``. A session with
        ``workers`` runs the episodes on the workers' robots and collects the same ones.
        """
        if self._start_workers is not None and not isinstance(head, LowLevel):  # a low level may keep state
            return self._collect_in_workers(head, steps, seed)
        self.switch.use(head)
        name = digest(head)
        trajectories: list[Trajectory] = []
        used, episode = 0, 0
        while used < steps:
            served = self._replayed("collection", seed + episode, name)
            if served is None:
                success, trajectory = self.explore(seed + episode, min(self.exploration.episode_steps, steps - used))
                served = success, self._journaled("collection", seed + episode, name, success, trajectory)
            else:
                replayed(head, served[1])
            trajectory = served[1]
            self.ledger.charge("collection", len(trajectory))
            used += len(trajectory)
            episode += 1
            trajectories.append(trajectory)
        return trajectories

    def explore(self, seed: int, max_steps: int) -> tuple[bool, Trajectory]:
        """One exploring episode with the head in use, its exploration drawn from ``seed``."""
        rng = np.random.default_rng(seed)
        self.noisy.rng = rng
        success, _ = run_episode(self.env, self.noisy, self.act, rng, self.exploration, seed, max_steps)
        return success, self._last_trajectory()

    def _collect_in_workers(self, head: object, steps: int, seed: int) -> list[Trajectory]:
        """``collect`` on the workers: episode ``k`` is sent out only once the episodes before it
        leave room for it in ``steps`` even if each still running runs in full (so only episodes
        the serial order runs are run), and it runs in full and is cut here to what was left: a
        prefix of a seeded episode is the episode cut short, so the trajectories are the serial
        ones, taken (charged, journaled) in episode order."""
        if self._workers is None:
            self._workers = self._start_workers()
        name, blob, full = digest(head), pickle.dumps(head), self.exploration.episode_steps
        out: dict[int, Future | tuple[bool, Trajectory]] = {}
        trajectories: list[Trajectory] = []
        used = 0
        while used < steps:
            while len(_running(out)) < self._workers.n and used + _most_steps(out, full) < steps:
                k = len(trajectories) + len(out)
                out[k] = self._replayed("collection", seed + k, name) or self._workers.submit((blob, seed + k))
            k = len(trajectories)
            if out[k] in _running(out):
                wait(_running(out), return_when=FIRST_COMPLETED)  # then send the next one out
                continue
            item = out.pop(k)
            if isinstance(item, Future):
                success, trajectory = item.result()
                cut = min(full, steps - used)
                if len(trajectory) > cut:
                    success, trajectory = False, trajectory.first(cut)
                self._journaled("collection", seed + k, name, success, trajectory)
            else:
                trajectory = item[1]
                replayed(head, trajectory)
            self.ledger.charge("collection", len(trajectory))
            used += len(trajectory)
            trajectories.append(trajectory)
        return trajectories

    @property
    def worker_cpu_s(self) -> float:
        """CPU seconds the collection workers (if any) spent on episodes so far."""
        return 0.0 if self._workers is None else self._workers.cpu_s

    def learner_robot(self) -> JournaledRobot:
        """The session's robot for a learner that drives it itself (RL fine-tuning): its
        episodes reach the journal and come back on resume; closing it leaves the robot open.
        The caller charges the steps it takes to the ledger."""
        return JournaledRobot(self.robot, self.journal, f"{self.name}/learner")

    def _replayed(self, purpose: str, seed: int, digest: str) -> tuple[bool, Trajectory] | None:
        """The journal's copy of this episode when resuming (no robot step is taken)."""
        if self.journal is None:
            return None
        found = self.journal.replay(self.name, purpose, seed, digest)
        return None if found is None else (found[0].success, found[1])

    def _completed(self, purpose: str, seed: int, digest: str, success: bool) -> Trajectory:
        """The episode just run, written to the journal before anything else uses it."""
        return self._journaled(purpose, seed, digest, success, self._last_trajectory())

    def _journaled(self, purpose: str, seed: int, digest: str, success: bool, trajectory: Trajectory) -> Trajectory:
        if self.journal is not None:
            self.journal.append(self.name, purpose, seed, digest, success, trajectory)
        return trajectory

    def safety_flags(self) -> dict[str, int]:
        """How many states carried each safety flag of a robot that reports them (a bridge client)."""
        return dict(getattr(self.robot, "flag_counts", {}) or {})

    def _last_trajectory(self) -> Trajectory:
        recorded = self.recorder.take()
        if len(recorded) != 1:
            raise RuntimeError(f"expected one recorded episode, got {len(recorded)}")
        return recorded[0]

    def close(self) -> None:
        if self._workers is not None:
            self._workers.close()
        self.env.close()
