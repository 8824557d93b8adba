"""The ``online`` method: the policy's RMA-style adaptation module in the control loop.

No gradient steps on the target. The policy's online head (``policy.latent``) runs with
its adaptation module estimating the dynamics latent from the last ``window`` control
steps. One warm-up episode on the target (at most one episode: it ends early on success)
gives the module an estimate to start the next episodes from; those steps are charged
to the budget as collection, and nothing is fitted on them. The online low level is then
kept without a validation on the target: what it does there is the report's
measurement, which gives the verdict, negative transfer included, as for every method.
The run's report entry ``online`` holds the warm-up steps, the robot time until the
estimate settled and the final estimate.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ... import pretrained
from ...envs import EPISODE_STEPS
from ...episode_journal import head_digest
from ...policy.hierarchical import HierarchicalPolicy
from ...policy.latent import OnlineEstimator, OnlineModule
from ...recording import Trajectory
from .low_level import ControllerFactory
from .rounds import source_candidate
from .run import AdaptRun, UnsupportedPolicy
from .selection import Candidate, Selection
from .validation import ValidationTest

SETTLE_TOLERANCE = 0.1
"""RMS distance (latent units; the latent lives in [-1, 1]) within which an estimate has settled."""
WARM_UP_SEED_OFFSET = 900_000  # the warm-up episode shares no seed with collection or validation


class NoOnlineModule(UnsupportedPolicy):
    """The policy has no online adaptation module to run."""


def require_module(policy: HierarchicalPolicy, name: str = "the policy") -> None:
    """Refuse a policy without an online adaptation module, saying how to get one."""
    if policy.online is None:
        shipped = pretrained.with_online_adaptation(policy.spec.name)
        use = f"use the shipped {' or '.join(shipped)}, or " if shipped else ""
        raise NoOnlineModule(f"{name} has no online adaptation module; {use}train one with `simreal train` (online "
                             "adaptation is on by default) and pass its final/ folder")


class OnlineLowLevel:
    """The online head with the adaptation module in its loop (a ``low_level.LowLevel``).

    One estimator serves every episode it drives, so each starts from the estimate the
    previous one settled on (``OnlineEstimator(carry=True)``: the robot did not change at
    the reset) until its own window is full."""

    def __init__(self, online: OnlineModule) -> None:
        self.online = online
        self.estimator = OnlineEstimator(online.adaptation, carry=True)

    def controller_factory(self) -> ControllerFactory:
        return self.online.controller_factory(self.estimator)

    def install(self, policy: HierarchicalPolicy) -> None:
        policy.low_level = "online"

    def digest(self) -> str:
        return "online-" + head_digest(self.online.head)[:8] + head_digest(self.online.adaptation)[:8]

    def replayed(self, trajectory: Trajectory) -> None:
        """Feed a journal's episode through the estimator step by step, as the controller did."""
        self.estimator.begin_episode()
        for state, command in zip(trajectory.states, trajectory.commands, strict=False):
            self.estimator.estimate(state)
            self.estimator.sent(command)


def settle_time(estimates: Sequence[np.ndarray], period: float, tolerance: float = SETTLE_TOLERANCE) -> float:
    """Robot time (s) from the first estimate until every later one stays within
    ``tolerance`` (RMS) of the last."""
    if not len(estimates):
        raise ValueError("no estimates to settle")
    final = np.asarray(estimates[-1])
    far = [i for i, z in enumerate(estimates) if np.sqrt(np.mean((np.asarray(z) - final) ** 2)) > tolerance]
    return (far[-1] + 1 if far else 0) * period


def run_online(run: AdaptRun) -> list[Candidate]:
    """One warm-up episode with the module in the loop; returns the source and the online candidate."""
    require_module(run.policy)
    low_level = OnlineLowLevel(run.policy.online)
    steps = min(EPISODE_STEPS, run.ledger.remaining)
    run.note(f"online: warm-up episode ({steps} target steps at most), the adaptation module in the loop")
    _, spent, _ = run.session.episode(low_level, run.seed + WARM_UP_SEED_OFFSET, "collection", steps)
    estimates = low_level.estimator.history
    run.details["online"] = {
        "warmup_steps": spent, "gradient_steps": 0,
        "settle_time_s": settle_time(estimates, run.ledger.control_period), "settle_tolerance": SETTLE_TOLERANCE,
        "latent_estimate": [float(v) for v in estimates[-1]]}
    return [source_candidate(run), Candidate("online", "adapted", 1, low_level)]


def keep_online(candidates: Sequence[Candidate], test: ValidationTest) -> Selection:
    """The online candidate, unvalidated: the method's point is to act after one warm-up episode."""
    online = next(c for c in candidates if isinstance(c.head, OnlineLowLevel))
    return Selection(online, "the online method keeps its adaptation module in the control loop after one "
                             "warm-up episode, with no gradient steps and no validation on the target; the "
                             "report's measurement gives the verdict")
