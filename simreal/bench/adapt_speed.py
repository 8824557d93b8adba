"""``simreal bench adapt``: per target profile, how many target transitions each
adaptation method needs to reach 90 % of the in-sim success, side by side, with RL
fine-tuning of the whole policy (high level unfrozen) as the end-to-end baseline."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from .. import assets
from ..learn.adapt import METHODS, AdaptConfig, adapt, load_policy
from ..options import option
from ..learn.finetune_whole import WholePolicyPPO
from ..learn.transfer import better_with_confidence, time_to_threshold

WHOLE_POLICY_RL = "whole-policy-rl"
BENCH_METHODS = (*METHODS, WHOLE_POLICY_RL)


@dataclass
class BenchAdaptConfig(AdaptConfig):
    """Adapt with every method to every target profile; transitions to 90 % of in-sim success side by side."""

    targets: str = option("", "comma-separated target profiles (names or YAML paths); empty = every shipped "
                              "profile of the robot")
    methods: str = option("", "comma-separated methods; empty = " + ", ".join(BENCH_METHODS))

    def target_list(self) -> list[str] | None:
        return [t.strip() for t in self.targets.split(",") if t.strip()] or None

    def method_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.methods.split(",") if m.strip()) or BENCH_METHODS


@dataclass(frozen=True)
class AdaptBenchRow:
    target: str
    method: str
    in_sim: float
    zero_shot: float
    adapted: float
    adapted_interval: tuple[float, float]
    transitions_to_threshold: float | None
    negative_transfer: bool


def measure(base: AdaptConfig, targets: Sequence[str] | None = None, methods: Sequence[str] = BENCH_METHODS,
            progress: Callable[[str], None] | None = None) -> list[AdaptBenchRow]:
    """Adapt with every method to every target (the robot's shipped profiles by default)."""
    note = progress or (lambda message: None)
    if targets is None:
        targets = [name for name in assets.available("target") if assets.target_profile(name).robot == "panda"]
    unknown = sorted(set(methods) - set(BENCH_METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; available: {', '.join(BENCH_METHODS)}")
    rows = []
    for target in targets:
        in_sim = None
        for method in methods:
            note(f"{target}: {method}")
            if method == WHOLE_POLICY_RL:
                rows.append(whole_policy_rl(replace(base, target=target), in_sim))
                continue
            report = adapt(replace(base, target=target, method=method, from_scratch=False)).report
            in_sim = report["in_sim"]["success_rate"]
            rows.append(AdaptBenchRow(
                target, method, in_sim, report["zero_shot"]["success_rate"], report["adapted"]["success_rate"],
                tuple(report["adapted"]["interval_95"]), report["time_to_threshold"], report["negative_transfer"]))
    return rows


def whole_policy_rl(config: AdaptConfig, in_sim: float | None) -> AdaptBenchRow:
    """PPO on the whole policy in the same rounds, validation and keep-best as ``adapt``."""
    policy = load_policy(config.policy)
    profile = assets.target_profile(config.target)
    in_sim = 1.0 if in_sim is None else in_sim
    ppo = WholePolicyPPO(policy, profile, config.seed, chunk=max(1, config.budget // config.rounds))
    validation_seed = config.eval_seed + 500_000
    try:
        zero_shot = ppo.evaluate(config.eval_episodes, config.eval_seed)
        curve = [(0, ppo.evaluate(config.validation_episodes, validation_seed).success_rate)]
        best = (curve[0][1], zero_shot)
        for r in range(config.rounds):
            ppo.learn(max(0, config.budget * (r + 1) // config.rounds - ppo.model.num_timesteps))
            curve.append((ppo.model.num_timesteps, ppo.evaluate(config.validation_episodes, validation_seed)
                          .success_rate))
            if curve[-1][1] >= best[0]:
                best = (curve[-1][1], ppo.evaluate(config.eval_episodes, config.eval_seed))
    finally:
        ppo.close()
    adapted = best[1]
    better, _ = better_with_confidence(adapted, zero_shot)
    return AdaptBenchRow(config.target, WHOLE_POLICY_RL, in_sim, zero_shot.success_rate, adapted.success_rate,
                         tuple(adapted.interval), time_to_threshold(curve, 0.9 * in_sim), not better)


def ratio_to(rows: Sequence[AdaptBenchRow], reference: str = "relabel") -> list[float | None]:
    """Per row, its transitions to threshold over the reference method's on the same target
    (None when either never reached it)."""
    base = {r.target: r.transitions_to_threshold for r in rows if r.method == reference}
    return [None if r.transitions_to_threshold is None or not base.get(r.target)
            else r.transitions_to_threshold / base[r.target] for r in rows]
