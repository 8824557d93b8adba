"""``simreal adapt --method online``: the adaptation module on the target, no gradient steps.

The online head runs with its adaptation module inside the control loop, estimating the
dynamics latent from the last ``window`` steps (``policy.latent``). One warm-up episode on
the target gives the module a settled estimate to start the next episodes from; those are
the only target steps used before success is measured, and nothing is trained on them.
The report has the keys of every other method's (``learn.adapt``), on the same seeded
episodes, with the same negative-transfer guard, plus ``online``: the warm-up steps, the
robot time until the estimate settles and the final estimate.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict

import numpy as np

from .. import assets
from ..envs import time_limited_grasp_env
from ..evaluation import EvaluationResult, evaluate
from ..policy.head import head_controller
from ..policy.hierarchical import HierarchicalPolicy
from ..policy.latent import OnlineEstimator
from ..specs import TargetProfile
from .transfer import better_with_confidence, time_to_threshold

SETTLE_TOLERANCE = 0.1
"""RMS distance (latent units; the latent lives in [-1, 1]) within which an estimate has settled."""


def settle_time(estimates: Sequence[np.ndarray], period: float, tolerance: float = SETTLE_TOLERANCE) -> float:
    """Robot time (s) from the first estimate until every later one stays within
    ``tolerance`` (RMS) of the last."""
    if not len(estimates):
        raise ValueError("no estimates to settle")
    final = np.asarray(estimates[-1])
    far = [i for i, z in enumerate(estimates) if np.sqrt(np.mean((np.asarray(z) - final) ** 2)) > tolerance]
    return (far[-1] + 1 if far else 0) * period


def _run(policy: HierarchicalPolicy, controller: Callable, profile: TargetProfile | None, episodes: int,
         seed: int) -> EvaluationResult:
    kwargs = {"randomization": None, "target": profile.source} if profile else {"randomization": "default"}
    env = time_limited_grasp_env(robot=policy.spec.name, controller=controller, **kwargs)
    try:
        return evaluate(env, policy.act, episodes, seed)
    finally:
        env.close()


def _summary(result: EvaluationResult | None) -> dict | None:
    if result is None:
        return None
    return {"success_rate": result.success_rate, "interval_95": list(result.interval),
            "episodes": result.episodes, "successes": result.successes}


class NoOnlineModule(ValueError):
    """The policy has no online adaptation module to run."""


def adapt_online(config: object, progress: Callable[[str], None] | None = None) -> object:
    """Run the online method for an ``AdaptConfig``; returns an ``AdaptResult``."""
    from .adapt import AdaptResult, high_level_digest, load_policy  # late: adapt dispatches here

    note = progress or (lambda message: None)
    policy = load_policy(config.policy)
    if policy.online is None:
        raise NoOnlineModule(f"policy '{config.policy}' has no online adaptation module; train one with "
                             "`simreal train` (online adaptation is on by default) and pass its final/ folder")
    policy.freeze_high_level()
    digest = high_level_digest(policy)
    profile = assets.target_profile(config.target)
    profile.check_robot(policy.spec.name, policy.spec.dof)
    source = head_controller(policy.head)
    note("in-sim and zero-shot evaluation")
    results = {"in_sim": _run(policy, source, None, config.eval_episodes, config.eval_seed),
               "zero_shot": _run(policy, source, profile, config.eval_episodes, config.eval_seed)}
    validation_seed = config.eval_seed + 500_000
    zero_val = _run(policy, source, profile, config.validation_episodes, validation_seed)
    note("online: warm-up episode")
    estimator = OnlineEstimator(policy.online.adaptation, carry=True)
    controller = policy.online.controller_factory(estimator)
    _run(policy, controller, profile, 1, config.eval_seed + 900_000)
    warmup = list(estimator.history)
    note("online: evaluating with the module in the loop")
    online_val = _run(policy, controller, profile, config.validation_episodes, validation_seed)
    results["adapted"] = _run(policy, controller, profile, config.eval_episodes, config.eval_seed)
    better, p_value = better_with_confidence(results["adapted"], results["zero_shot"])
    if better:
        policy.low_level = "online"
    if high_level_digest(policy) != digest:
        raise RuntimeError("the high level changed during adaptation; this is a bug")
    curve = [{"transitions": n, "success": r.success_rate, "interval": list(r.interval)}
             for n, r in ((0, zero_val), (len(warmup), online_val))]
    report = _report(config, profile, results, curve, warmup, not better, p_value, digest)
    return AdaptResult(report, policy, better)


def _report(config: object, profile: TargetProfile, results: dict[str, EvaluationResult], curve: list[dict],
            warmup: list[np.ndarray], negative: bool, p_value: float, digest: str) -> dict:
    """The keys of ``learn.adapt``'s report (no from-scratch run), plus ``online``."""
    threshold = 0.9 * results["in_sim"].success_rate
    period = assets.scene_spec("tabletop").physics.control_period
    return {
        "config": asdict(config), "method": "online",
        "target": {"name": profile.name, "source": profile.source, "description": profile.description},
        **{key: _summary(result) for key, result in results.items()}, "from_scratch": None,
        "target_transitions": len(warmup), "jumpstart": results["zero_shot"].success_rate,
        "threshold": threshold,
        "time_to_threshold": time_to_threshold([(c["transitions"], c["success"]) for c in curve], threshold),
        "scratch_time_to_threshold": None, "transfer_ratio": None, "negative_transfer": negative,
        "p_value_adapted_better": p_value, "high_level_sha256": digest, "curve": curve, "scratch_curve": [],
        "online": {"warmup_transitions": len(warmup), "gradient_steps": 0,
                   "settle_time_s": settle_time(warmup, period), "settle_tolerance": SETTLE_TOLERANCE,
                   "latent_estimate": [float(v) for v in warmup[-1]]},
    }
