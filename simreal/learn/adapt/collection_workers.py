"""Collection on a simulated target in worker processes (``AdaptConfig.n_envs``).

Each worker opens its own robot from the target's reference (a profile: every worker
gets the same simulated robot) and its own session, and runs exploring episodes with the
head it is sent. An episode depends on its seed alone (a reset restores the robot, the
scene and the exploration draws), so ``TargetSession.collect`` gathers the same
trajectories from the workers as from its own robot. A robot behind the bridge is one
robot and is never opened twice (``episode_workers.check_n_envs``).
"""

from __future__ import annotations

import pickle
import sys
from collections.abc import Callable

from ...policy.hierarchical import HierarchicalPolicy
from ...recording import Trajectory
from ...robot_reference import robot_factory
from ..episode_workers import EpisodeWorkers
from ..exploration import ExplorationConfig


def _runner(reference: str, policy_blob: bytes, exploration: ExplorationConfig
            ) -> Callable[[tuple[bytes, int]], tuple[bool, Trajectory]]:
    """In a worker: a session on its own robot; each task is (pickled head, episode seed).
    The pickles come from the parent process over the pool's pipe, never from a file."""
    from .session import TargetSession

    policy = pickle.loads(policy_blob)
    session = TargetSession(robot_factory(reference, policy.spec)[0], policy.act, sys.maxsize, exploration)
    heads: dict[bytes, object] = {}

    def episode(task: tuple[bytes, int]) -> tuple[bool, Trajectory]:
        blob, seed = task
        if blob not in heads:  # a round sends one head for many episodes
            heads.clear()
            heads[blob] = pickle.loads(blob)
        session.switch.use(heads[blob])
        return session.explore(seed, exploration.episode_steps)

    return episode


def collection_workers(n: int, reference: str, policy: HierarchicalPolicy,
                       exploration: ExplorationConfig) -> Callable[[], EpisodeWorkers]:
    """A starter of ``n`` workers collecting on ``reference`` (started when first needed)."""
    blob = pickle.dumps(policy)
    return lambda: EpisodeWorkers(n, _runner, reference, blob, exploration)


__all__ = ["collection_workers"]
