"""Adaptation: runs on a Robot factory, counts every target step, never keeps a head worse
than the source's by its own validation, says what it kept and why, and keeps the high
level bit-identical."""

import dataclasses

import pytest

from .robots import CountingRobot
from simreal.cli import main
from simreal.evaluation import EvaluationResult
from simreal.learn.adapt import AdaptConfig, adapt, high_level_digest, load_policy
from simreal.learn.adapt.ledger import BudgetExceeded, StepLedger
from simreal.learn.adapt.report import Measurements, verdict
from simreal.learn.adapt.selection import Candidate, select
from simreal.learn.adapt.validation import FAILED, OPEN, PASSED, FixedEpisodes, Tally, make_test
from simreal.learn.transfer import better_with_confidence, transfer_ratio
from simreal.targets import open_target

SMALL = AdaptConfig(target="weak_motors", eval_episodes=30, from_scratch=False)


@pytest.fixture(scope="module")
def weak_motors_run():
    opened = []
    result = adapt(SMALL, robot=lambda: CountingRobot(open_target("weak_motors"), opened))
    return result, opened


def test_every_target_step_goes_through_the_factory_and_is_counted(weak_motors_run):
    """The first robot opened is the adaptation's session: every step it ran is in the
    ledger, split into collection and validation, within the budget; the report's
    measurement opens its own robots, outside the budget."""
    result, opened = weak_motors_run
    run = result.report["adaptation"]
    steps = run["steps"]
    assert opened[0].steps == steps["total"] == steps["collection"] + steps["validation"] <= SMALL.budget
    assert steps["collection"] > 0 and steps["validation"] > 0
    assert run["robot_time_s"]["total"] == pytest.approx(steps["total"] * opened[0].control_period)
    assert sum(r.steps for r in opened[1:]) == result.report["measurement"]["target_steps"]
    assert sum(c["validation"]["steps"] for c in run["candidates"]) == steps["validation"]


@pytest.mark.parametrize("target", ["weak_motors", pytest.param("soft_shoulder", marks=pytest.mark.slow),
                                    pytest.param("heavy_payload", marks=pytest.mark.slow)])
def test_profile_hurts_and_relabel_recovers_it(target, weak_motors_run):
    """On each profile a control head can fix: zero-shot <= 60 % while in-sim >= 90 %, and the
    run keeps a head that passed validation and measures >= 90 % of in-sim, within budget."""
    result = weak_motors_run[0] if target == "weak_motors" else adapt(dataclasses.replace(SMALL, target=target))
    report = result.report
    assert report["in_sim"]["success_rate"] >= 0.9
    assert report["zero_shot"]["success_rate"] <= 0.6
    assert result.accepted and report["verdict"] == "recovered" and result.exit_code == 0
    assert report["final"]["success_rate"] >= 0.9 * report["in_sim"]["success_rate"]
    assert report["adaptation"]["passed_at_steps"] <= SMALL.budget


def test_high_level_is_bit_identical_after_adaptation(weak_motors_run):
    result = weak_motors_run[0]
    source = load_policy("panda_grasp")
    assert high_level_digest(result.policy) == high_level_digest(source)
    assert result.report["high_level_sha256"] == high_level_digest(source)
    assert result.policy.trainable_parameters()["high_level"] == 0


def test_kept_head_is_named_with_its_reason(weak_motors_run):
    run = weak_motors_run[0].report["adaptation"]
    names = [c["name"] for c in run["candidates"]]
    assert names[0] == "source" and run["kept"]["name"] in names
    assert run["kept"]["name"] in run["kept"]["reason"] and "passed" in run["kept"]["reason"]


def test_harmful_setting_keeps_the_source_head_and_writes_no_checkpoint(tmp_path, capsys):
    """A learning rate of 1.0 wrecks every fitted head; validation catches it and the run keeps
    the source head bit for bit (not recovered: exit 4, no checkpoint)."""
    code = main(["adapt", "--target", "weak_motors", "--budget", "1500", "--eval-episodes", "10",
                 "--learning-rate", "1.0", "--no-from-scratch", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 4 and "not recovered" in out and "kept source" in out
    assert (tmp_path / "report.json").exists() and not (tmp_path / "adapted").exists()


def test_nothing_to_recover_exits_zero_after_validating_the_source_only(tmp_path):
    profile = tmp_path / "mild.yaml"
    profile.write_text("name: mild\nrobot: panda\ndescription: a light tool\ndynamics:\n  payload_mass: 0.2\n")
    result = adapt(dataclasses.replace(SMALL, target=str(profile), eval_episodes=20))
    report = result.report
    assert report["verdict"] == "nothing to recover" and result.exit_code == 0 and not result.accepted
    assert report["adaptation"]["steps"]["collection"] == 0
    assert [c["name"] for c in report["adaptation"]["candidates"]] == ["source"]
    for name, tensor in load_policy("panda_grasp").head.state_dict().items():
        assert (result.policy.head.state_dict()[name] == tensor).all(), name


def test_ledger_counts_by_purpose_and_refuses_to_overspend():
    ledger = StepLedger(100, 0.05)
    ledger.charge("collection", 60)
    ledger.charge("validation", 30)
    assert ledger.remaining == 10 and ledger.affords(10) and not ledger.affords(11)
    summary = ledger.summary()
    assert summary["steps"] == {"collection": 60, "validation": 30, "total": 90}
    assert summary["robot_time_s"]["total"] == pytest.approx(4.5)
    with pytest.raises(BudgetExceeded):
        ledger.charge("validation", 11)
    with pytest.raises(ValueError, match="unknown purpose"):
        ledger.charge("evaluation", 1)


def _tally(outcomes):
    tally = Tally()
    for success in outcomes:
        tally.add(success, 25 if success else 50)
    return tally


def test_sequential_test_stops_early_and_is_cheaper_than_fixed_episodes():
    test = make_test("sequential", 1.0, 30)
    fixed = make_test("fixed", 1.0, 30)
    n_pass = next(n for n in range(1, 31) if test.decide(_tally([True] * n)) == PASSED)
    assert n_pass < 30 and fixed.decide(_tally([True] * n_pass)) == OPEN
    assert test.decide(_tally([False])) == FAILED  # one early failure: 30 episodes could not show > 90 %
    assert test.decide(_tally([True] * 10)) == OPEN
    assert fixed.decide(_tally([True] * 27 + [False] * 3)) == PASSED and isinstance(fixed, FixedEpisodes)


def _pass_probability(test, p):
    """Exact probability that ``test`` passes a head of success ``p``, and its expected episodes."""
    states, passed, episodes = {(0, 0): 1.0}, 0.0, 0.0
    while states:
        following = {}
        for (s, n), mass in states.items():
            verdict = test.decide(Tally(s, n, 0))
            if verdict != OPEN:
                passed += mass * (verdict == PASSED)
                episodes += mass * n
                continue
            for success, q in ((True, p), (False, 1 - p)):
                key = (s + success, n + 1)
                following[key] = following.get(key, 0.0) + mass * q
        states = following
    return passed, episodes


def test_sequential_test_error_rate_holds_and_failing_heads_are_cheap():
    test = make_test("sequential", 1.0, 30, error=0.1)
    assert _pass_probability(test, 0.9)[0] <= 0.1  # a head at the threshold rarely passes
    always, episodes = _pass_probability(test, 1.0)
    assert always == 1.0 and episodes < 30  # cheaper than the 30 fixed episodes
    assert _pass_probability(test, 0.99)[0] >= 0.75
    assert _pass_probability(test, 0.5)[1] <= 3  # a head that fails half the time costs few episodes


def _candidate(name, origin, successes, episodes, verdict=OPEN):
    c = Candidate(name, origin, 0 if origin == "source" else 1, head=None)
    c.tally = Tally(successes, episodes, episodes * 30)
    c.verdict = verdict
    return c


def test_selection_keeps_the_passed_head_else_the_best_lower_bound_and_ties_go_to_the_source():
    test = make_test("sequential", 1.0, 30)
    source, adapted = _candidate("source", "source", 3, 6), _candidate("adapted r1", "adapted", 20, 24)
    scratch = _candidate("scratch r1", "scratch", 23, 23, PASSED)
    assert select([source, adapted, scratch], test).winner is scratch
    chosen = select([source, adapted], test)
    assert chosen.winner is adapted and "lower bound" in chosen.reason and "adapted r1" in chosen.reason
    tie = select([_candidate("scratch r1", "scratch", 0, 2), _candidate("source", "source", 0, 2)], test)
    assert tie.winner.origin == "source"


def _result(successes, episodes=100):
    return EvaluationResult(episodes, successes, 30.0, 0.0)


@pytest.mark.parametrize(("zero_shot", "final", "scratch", "origin", "expected"), [
    (98, 98, None, "source", "nothing to recover"),
    (95, 95, None, "source", "nothing to recover"),  # significantly below in-sim, but above the threshold
    (94, 100, 99, "scratch", "nothing to recover"),  # above the threshold: not hurt, whichever head was kept
    (92, 92, 100, "source", "negative transfer"),  # above the threshold, but the baseline is far better
    (50, 20, None, "adapted", "negative transfer"),  # made things worse
    (10, 99, 99, "scratch", "negative transfer"),  # from scratch won over the source's heads
    (10, 60, 90, "adapted", "negative transfer"),  # the baseline does far better
    (10, 97, 99, "adapted", "recovered"),
    (10, 60, 62, "adapted", "improved"),
    (10, 12, 10, "source", "not recovered"),
])
def test_verdicts(zero_shot, final, scratch, origin, expected):
    m = Measurements(_result(100), _result(zero_shot), _result(final), None if scratch is None else _result(scratch))
    kept = _candidate("kept", origin, 22, 22)
    assert verdict(m, kept, _candidate("adapted r1", "adapted", 0, 3))[0] == expected


def test_a_head_from_scratch_is_negative_transfer_only_with_evidence_against_the_adapted_heads():
    m = Measurements(_result(100), _result(10), _result(99), None)
    kept = _candidate("scratch r1", "scratch", 22, 22)
    assert verdict(m, kept, None)[0] == "recovered"  # no adapted head was validated
    assert verdict(m, kept, _candidate("adapted r1", "adapted", 21, 22))[0] == "recovered"  # no clear difference
    assert verdict(m, kept, _candidate("adapted r1", "adapted", 1, 4))[0] == "negative transfer"


def test_confidence_test_and_transfer_ratio_without_infinity():
    better, worse = EvaluationResult(100, 95, 20.0, 0.0), EvaluationResult(100, 60, 30.0, 0.0)
    assert better_with_confidence(better, worse)[0]
    assert not better_with_confidence(worse, better)[0]
    assert not better_with_confidence(EvaluationResult(100, 62, 0, 0), worse)[0]  # within noise
    assert transfer_ratio([(0, 0.5), (100, 1.0)], [(0, 0.0), (100, 1.0)]) == pytest.approx(1.5)
    assert transfer_ratio([(0, 0.5), (100, 1.0)], [(0, 0.0), (100, 0.0)]) is None  # not inf: printed "n/a"


def test_methods_dispatch_through_the_table(monkeypatch):
    """A method is one table entry: adapt() runs whatever the entry's ``run`` returns."""
    from simreal.learn.adapt import methods
    from simreal.learn.adapt.rounds import source_candidate

    calls = []

    def keep_source(run):
        calls.append(run.ledger.budget)
        return [source_candidate(run)]

    monkeypatch.setitem(methods.METHODS, "keep", methods.Method("keep", "keeps the source head", keep_source))
    result = adapt(dataclasses.replace(SMALL, method="keep", eval_episodes=4))
    assert calls == [SMALL.budget] and result.report["adaptation"]["kept"]["name"] == "source"
    with pytest.raises(ValueError, match="available: relabel, residual, progressive, finetune-rl"):
        adapt(dataclasses.replace(SMALL, method="magic"))


def test_residual_head_starts_as_the_source_and_trains_only_the_residual():
    import torch

    from simreal.policy.residual import ResidualHead

    source = load_policy("panda_grasp").head
    residual = ResidualHead(source)
    x = torch.randn(8, source.layout.size)
    torch.testing.assert_close(residual(x), source(x), rtol=0, atol=0)
    trainable = {n for n, p in residual.named_parameters() if p.requires_grad}
    assert trainable and all(n.startswith("net.") for n in trainable)
    residual.train()
    assert not residual.source.training


@pytest.mark.slow
def test_residual_adaptation_recovers_and_round_trips(tmp_path):
    import numpy as np

    from simreal.learn.adapt import save_outputs
    from simreal.policy.hierarchical import HierarchicalPolicy

    result = adapt(dataclasses.replace(SMALL, method="residual", scratch_candidate=False))
    report = result.report
    assert result.accepted, report["final"]
    assert report["final"]["success_rate"] > report["zero_shot"]["success_rate"]
    source = load_policy("panda_grasp").head
    for name, tensor in source.state_dict().items():  # the source column is untouched
        assert (result.policy.head.source.state_dict()[name] == tensor).all(), name
    paths = save_outputs(result, tmp_path)
    loaded, _ = HierarchicalPolicy.load(paths["checkpoint"])
    x = np.random.default_rng(0).normal(0, 1, result.policy.head.layout.size)
    np.testing.assert_allclose(loaded.head.numpy_forward()(x), result.policy.head.numpy_forward()(x), atol=1e-12)


def test_progressive_head_starts_as_the_source_and_round_trips(tmp_path):
    import numpy as np
    import torch

    from simreal.policy.hierarchical import HierarchicalPolicy
    from simreal.policy.progressive import ProgressiveHead

    policy = load_policy("panda_grasp")
    head = ProgressiveHead(policy.head)
    x = torch.randn(8, head.layout.size)
    torch.testing.assert_close(head(x), policy.head(x), rtol=0, atol=0)
    assert all(not p.requires_grad for p in head.source.parameters())
    with torch.no_grad():  # move off the identity so the round trip compares real weights
        for p in [*head.net.parameters(), *head.lateral.parameters()]:
            p.add_(0.05 * torch.randn_like(p))
    policy.head = head
    path = policy.save(tmp_path / "progressive", metrics={}, seed=0, command=["test"])
    loaded, manifest = HierarchicalPolicy.load(path)
    assert "head_progressive" in manifest.modules
    v = np.random.default_rng(1).normal(0, 1, head.layout.size)
    np.testing.assert_allclose(loaded.head.numpy_forward()(v), head.numpy_forward()(v), atol=1e-12)
    np.testing.assert_allclose(head.numpy_forward()(v), head(torch.tensor(v, dtype=torch.float32)).detach().numpy(),
                               atol=1e-5)


def test_finetune_rl_baseline_spends_whole_rollouts_within_budget():
    config = dataclasses.replace(SMALL, method="finetune-rl", budget=600, round_steps=128, eval_episodes=4,
                                 validation_episodes=2, validation="fixed")
    report = adapt(config).report
    run = report["adaptation"]
    assert report["method"] == "finetune-rl" and run["steps"]["total"] <= 600
    assert [c["samples"] for c in run["candidates"][1:]] == [128 * (i + 1) for i in range(len(run["candidates"]) - 1)]
    assert run["steps"]["collection"] == run["candidates"][-1]["samples"]
    assert report["high_level_sha256"] == high_level_digest(load_policy("panda_grasp"))


def test_head_rl_env_passes_the_env_checker():
    from gymnasium.utils.env_checker import check_env

    from simreal.learn.finetune_rl import HeadRLEnv

    env = HeadRLEnv(load_policy("panda_grasp"), open_target("weak_motors"))
    check_env(env, skip_render_check=True)
    env.close()


def test_whole_policy_rl_starts_exactly_at_the_source_policy():
    import numpy as np
    import torch
    from gymnasium.utils.env_checker import check_env

    from simreal.learn.finetune_rl import ACTION_SCALE
    from simreal.learn.finetune_whole import COMMAND_SIZE, WholePolicyPPO, WholeRLEnv

    policy = load_policy("panda_grasp")
    env = WholeRLEnv(policy, open_target("weak_motors"))
    check_env(env, skip_render_check=True)
    env.close()
    ppo = WholePolicyPPO(policy, lambda: open_target("weak_motors"), seed=0, chunk=64)
    obs, _ = ppo.env.reset(seed=3)
    for _ in range(5):  # a few steps so the action history is not all zeros
        obs, *_ = ppo.env.step(ppo.act(obs))
    action = ppo.act(obs)
    grasp_size = ppo.env.unwrapped.grasp_size
    command = policy.act(obs[:grasp_size])
    head_input = np.concatenate((obs[grasp_size:], command))
    assert len(head_input) == policy.head.layout.size and COMMAND_SIZE == 4
    expected = policy.head(torch.tensor(head_input[None], dtype=torch.float32)).detach().numpy()[0]
    np.testing.assert_allclose(np.tanh(ACTION_SCALE * action[:-1]), expected, atol=1e-5)
    assert action[-1] == pytest.approx(command[3], abs=1e-6)
    ppo.learn(64)
    assert ppo.model.num_timesteps == 64
    ppo.close()


@pytest.mark.slow
def test_bench_adapt_rows_per_target_and_method():
    from simreal.bench.adapt_speed import measure

    tiny = dataclasses.replace(SMALL, budget=1500, eval_episodes=10)
    rows = measure(tiny, targets=["weak_motors"], methods=["relabel", "residual"])
    assert [(r.target, r.method) for r in rows] == [("weak_motors", "relabel"), ("weak_motors", "residual")]
    assert all(0.0 <= r.adapted <= 1.0 and r.adapted_interval[0] <= r.adapted and r.steps <= 1500 for r in rows)


def test_bench_ratios_are_relative_to_relabel_on_the_same_target():
    from simreal.bench.adapt_speed import AdaptBenchRow, ratio_to

    def row(target, method, steps):
        return AdaptBenchRow(target, method, 1.0, 0.5, 0.95, (0.9, 1.0), steps, 5000, "recovered")

    rows = [row("a", "relabel", 500), row("a", "finetune-rl", 2000), row("b", "relabel", None),
            row("b", "residual", 1000), row("a", "whole-policy-rl", None)]
    assert ratio_to(rows) == [1.0, 4.0, None, None, None]


def test_bench_adapt_defaults_to_the_shipped_profiles_of_the_policys_robot():
    """The per-profile bench runs the profiles written for the policy's robot; a robot with
    none is refused before anything runs, naming how to get some."""
    from simreal import assets
    from simreal.bench.adapt_speed import measure, shipped_targets

    panda = shipped_targets("panda")
    assert "weak_motors" in panda and all(assets.target_profile(n).robot == "panda" for n in panda)
    assert shipped_targets("xarm6") == []
    with pytest.raises(ValueError, match="targets sample --robot xarm6"):
        measure(dataclasses.replace(SMALL, policy="xarm6_grasp"), methods=["relabel"])
