"""``simreal bench adapt``: per target profile, how many target control steps (collection
and validation) each adaptation method needs until a head passes validation at 90 % of
the in-sim success, side by side, with RL fine-tuning of the whole policy (high level
unfrozen) as the end-to-end baseline. ``adapt_family`` is the bench over a family."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields, replace

from .. import assets
from ..learn.adapt import METHODS, RECOVERY, AdaptConfig, UnsupportedPolicy, adapt, load_policy, target_robot
from ..learn.adapt.measure import steps_of
from ..learn.adapt.report import verdict_label
from ..learn.finetune_whole import UnsupportedHead, WholePolicyPPO
from ..learn.transfer import better_with_confidence
from ..options import option

WHOLE_POLICY_RL = "whole-policy-rl"
BENCH_METHODS = (*METHODS, WHOLE_POLICY_RL)


@dataclass
class BenchAdaptConfig(AdaptConfig):
    """Adapt with every method to every target profile, or one method over a family (--family DIR).

    Per profile: target steps to 90 % of in-sim success side by side. Over a family: the
    distribution of outcomes, reach checks and the from-scratch comparison."""

    family: str = option("", "folder of target profiles (`simreal targets sample`); empty = --targets")
    targets: str = option("", "comma-separated target profiles (names or YAML paths); empty = every shipped "
                              "profile of the robot")
    methods: str = option("", "comma-separated methods; empty = " + ", ".join(BENCH_METHODS))
    reach_factor: int = option(10, "family bench: a hurt target the run did not recover is reachable if a head "
                                   "from scratch with this many times the budget recovers it")
    rows_out: str = option("", "family bench: also write the rows and summary as JSON to this file")
    backend: str = option("pool", "family bench: run the targets on a local process 'pool', 'serial'ly or on "
                                  "'ray' (pip install 'simreal[ray]'); the same numbers on each")
    workers: int = option(2, "family bench: processes (pool) or CPUs of a local Ray instance")
    ray_address: str = option("", "family bench: address of an existing Ray cluster (empty: start a local one)")

    def adapt_config(self) -> AdaptConfig:
        """The adaptation options alone (what every run of the bench shares)."""
        return AdaptConfig(**{f.name: getattr(self, f.name) for f in fields(AdaptConfig)})

    def target_list(self) -> list[str] | None:
        return [t.strip() for t in self.targets.split(",") if t.strip()] or None

    def method_list(self) -> tuple[str, ...]:
        return tuple(m.strip() for m in self.methods.split(",") if m.strip()) or BENCH_METHODS


@dataclass(frozen=True)
class AdaptBenchRow:
    """``steps_to_threshold``: total target steps when a head passed (None: never within the
    budget); ``steps``: total target steps the run spent."""

    target: str
    method: str
    in_sim: float
    zero_shot: float
    adapted: float
    adapted_interval: tuple[float, float]
    steps_to_threshold: int | None
    steps: int
    verdict: str
    validated: bool = True  # the kept head was validated on the target (online's is not: it is measured)
    note: str = ""  # why the method cannot run on this policy (the row is then n/a)


def measure(base: AdaptConfig, targets: Sequence[str] | None = None, methods: Sequence[str] = BENCH_METHODS,
            progress: Callable[[str], None] | None = None) -> list[AdaptBenchRow]:
    """Adapt with every method to every target (the robot's shipped profiles by default)."""
    note = progress or (lambda message: None)
    if targets is None:
        robot = load_policy(base.policy).spec.name
        targets = shipped_targets(robot)
        if not targets:
            raise ValueError(f"no shipped target profile is for {robot}; name some with --targets, or sample "
                             f"a family (simreal targets sample --robot {robot}) and pass it as --family")
    unknown = sorted(set(methods) - set(BENCH_METHODS))
    if unknown:
        raise ValueError(f"unknown method(s) {', '.join(unknown)}; available: {', '.join(BENCH_METHODS)}")
    rows = []
    for target in targets:
        in_sim = None
        for method in methods:
            note(f"{target}: {method}")
            try:
                if method == WHOLE_POLICY_RL:
                    rows.append(whole_policy_rl(replace(base, target=target), in_sim))
                    continue
                report = adapt(replace(base, target=target, method=method, from_scratch=False)).report
            except (UnsupportedPolicy, UnsupportedHead) as err:  # the method cannot run on this policy
                rows.append(not_applicable(target, method, in_sim, err))
                continue
            in_sim = report["in_sim"]["success_rate"]
            rows.append(row_of(target, method, report))
    return rows


def shipped_targets(robot: str) -> list[str]:
    """The shipped target profiles written for ``robot`` (a profile drives one robot's spec)."""
    return [name for name in assets.available("target") if assets.target_profile(name).robot == robot]


def row_of(target: str, method: str, report: dict) -> AdaptBenchRow:
    """The bench row of one adaptation report."""
    run = report["adaptation"]
    kept = next(c for c in run["candidates"] if c["name"] == run["kept"]["name"])
    return AdaptBenchRow(target, method, report["in_sim"]["success_rate"], report["zero_shot"]["success_rate"],
                         report["final"]["success_rate"], tuple(report["final"]["interval_95"]),
                         run["passed_at_steps"], run["steps"]["total"], verdict_label(report),
                         validated=kept["validation"]["episodes"] > 0)


def not_applicable(target: str, method: str, in_sim: float | None, err: Exception) -> AdaptBenchRow:
    """An n/a row: ``err`` (its first clause) says why the method cannot run on the policy."""
    reason = str(err).split(";")[0].split(":")[0]
    return AdaptBenchRow(target, method, in_sim or 0.0, 0.0, 0.0, (0.0, 0.0), None, 0, "n/a", note=reason)


def whole_policy_rl(config: AdaptConfig, in_sim: float | None) -> AdaptBenchRow:
    """PPO on the whole policy in rounds of ``round_steps``, validated on ``validation_episodes``
    fixed episodes after each; collection and validation steps count against the budget."""
    policy = load_policy(config.policy)
    robot, _ = target_robot(config, policy)
    in_sim = 1.0 if in_sim is None else in_sim
    ppo = WholePolicyPPO(policy, robot, config.seed, chunk=config.round_steps)
    validation_seed = config.eval_seed + 500_000
    spent, reached = 0, None
    try:
        zero_shot = ppo.evaluate(config.eval_episodes, config.eval_seed)
        best = (-1.0, zero_shot)
        while spent + ppo.model.n_steps <= config.budget:
            ppo.learn(ppo.model.n_steps)
            spent += ppo.model.n_steps
            validation = ppo.evaluate(config.validation_episodes, validation_seed)
            spent += steps_of(validation)
            if validation.success_rate >= RECOVERY * in_sim and reached is None:
                reached = spent
            if validation.success_rate >= best[0]:
                best = (validation.success_rate, ppo.evaluate(config.eval_episodes, config.eval_seed))
    finally:
        ppo.close()
    adapted = best[1]
    better, _ = better_with_confidence(adapted, zero_shot)
    return AdaptBenchRow(config.target, WHOLE_POLICY_RL, in_sim, zero_shot.success_rate, adapted.success_rate,
                         tuple(adapted.interval), reached, spent, "improved" if better else "not improved")


def ratio_to(rows: Sequence[AdaptBenchRow], reference: str = "relabel") -> list[float | None]:
    """Per row, its steps to threshold over the reference method's on the same target
    (None when either never reached it)."""
    base = {r.target: r.steps_to_threshold for r in rows if r.method == reference}
    return [None if r.steps_to_threshold is None or not base.get(r.target)
            else r.steps_to_threshold / base[r.target] for r in rows]
