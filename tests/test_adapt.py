"""Adaptation: relabel retrains the head on a target, the high level stays bit-identical,
negative transfer is caught and the source head kept."""

import dataclasses

import pytest

from simreal.cli import main
from simreal.learn.adapt import AdaptConfig, adapt, high_level_digest, load_policy
from simreal.learn.transfer import better_with_confidence, transfer_ratio
from simreal.evaluation import EvaluationResult

SMALL = AdaptConfig(target="weak_motors", budget=600, rounds=2, eval_episodes=30, validation_episodes=6,
                    from_scratch=False)


@pytest.fixture(scope="module")
def weak_motors_run():
    return adapt(SMALL)


HEAD_FIXABLE = ["weak_motors", "soft_shoulder", "heavy_payload"]


@pytest.mark.parametrize("target", HEAD_FIXABLE)
def test_profile_hurts_and_relabel_recovers_it(target, weak_motors_run):
    """The issue's bar on each profile a control head can fix: zero-shot <= 60 % while
    in-sim >= 90 %, and relabeling recovers >= 90 % of in-sim within 600 transitions."""
    result = weak_motors_run if target == "weak_motors" else adapt(dataclasses.replace(SMALL, target=target))
    report = result.report
    assert report["in_sim"]["success_rate"] >= 0.9
    assert report["zero_shot"]["success_rate"] <= 0.6
    assert result.accepted and not report["negative_transfer"]
    assert report["adapted"]["success_rate"] >= 0.9 * report["in_sim"]["success_rate"]
    assert report["target_transitions"] <= 600


def test_high_level_is_bit_identical_after_adaptation(weak_motors_run):
    source = load_policy("panda_grasp")
    assert high_level_digest(weak_motors_run.policy) == high_level_digest(source)
    assert weak_motors_run.report["high_level_sha256"] == high_level_digest(source)
    assert weak_motors_run.policy.trainable_parameters()["high_level"] == 0


def test_harmful_setting_is_negative_transfer_and_keeps_the_source_head(tmp_path, capsys):
    """A learning rate of 1.0 wrecks the head: the guard must refuse it and exit non-zero."""
    code = main(["adapt", "--target", "weak_motors", "--budget", "200", "--rounds", "1", "--eval-episodes", "20",
                 "--validation-episodes", "4", "--learning-rate", "1.0", "--no-from-scratch",
                 "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code != 0
    assert "negative transfer" in out
    assert (tmp_path / "report.json").exists() and not (tmp_path / "adapted").exists()


def test_guard_keeps_the_source_head_object():
    harmful = dataclasses.replace(SMALL, budget=200, rounds=1, eval_episodes=20, validation_episodes=4,
                                  learning_rate=1.0)
    result = adapt(harmful)
    source = load_policy("panda_grasp")
    assert not result.accepted
    for name, tensor in source.head.state_dict().items():
        assert (result.policy.head.state_dict()[name] == tensor).all(), name


def test_unknown_method_is_a_clear_error():
    with pytest.raises(ValueError, match="available: relabel, residual, progressive, finetune-rl"):
        adapt(dataclasses.replace(SMALL, method="magic"))


def test_confidence_test_and_transfer_ratio():
    better = EvaluationResult(100, 95, 20.0, 0.0)
    worse = EvaluationResult(100, 60, 30.0, 0.0)
    assert better_with_confidence(better, worse)[0]
    assert not better_with_confidence(worse, better)[0]
    assert not better_with_confidence(EvaluationResult(100, 62, 0, 0), worse)[0]  # within noise
    assert transfer_ratio([(0, 0.5), (100, 1.0)], [(0, 0.0), (100, 1.0)]) == pytest.approx(1.5)


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


def test_residual_adaptation_beats_zero_shot_and_round_trips(tmp_path):
    import numpy as np

    from simreal.learn.adapt import save_outputs
    from simreal.policy.hierarchical import HierarchicalPolicy

    result = adapt(dataclasses.replace(SMALL, method="residual"))
    report = result.report
    assert result.accepted, report["adapted"]
    assert report["adapted"]["success_rate"] > report["zero_shot"]["success_rate"]
    source = load_policy("panda_grasp").head
    for name, tensor in source.state_dict().items():  # the source column is untouched
        assert (result.policy.head.source.state_dict()[name] == tensor).all(), name
    paths = save_outputs(result, tmp_path)
    loaded, _ = HierarchicalPolicy.load(paths["checkpoint"])
    x = np.random.default_rng(0).normal(0, 1, result.policy.head.layout.size)
    np.testing.assert_allclose(loaded.head.numpy_forward()(x), result.policy.head.numpy_forward()(x), atol=1e-12)


def test_bench_adapt_rows_per_target_and_method():
    from simreal.bench.adapt_speed import measure

    tiny = dataclasses.replace(SMALL, budget=300, rounds=1, eval_episodes=10, validation_episodes=4)
    rows = measure(tiny, targets=["weak_motors"], methods=["relabel", "residual"])
    assert [(r.target, r.method) for r in rows] == [("weak_motors", "relabel"), ("weak_motors", "residual")]
    assert all(0.0 <= r.adapted <= 1.0 and r.adapted_interval[0] <= r.adapted for r in rows)


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


def test_finetune_rl_baseline_runs_within_budget_and_keeps_the_high_level():
    result = adapt(dataclasses.replace(SMALL, method="finetune-rl", budget=256, rounds=2, eval_episodes=6,
                                       validation_episodes=3))
    report = result.report
    assert report["method"] == "finetune-rl"
    assert [c["transitions"] for c in report["curve"]] == [0, 128, 256]
    assert report["high_level_sha256"] == high_level_digest(load_policy("panda_grasp"))


def test_head_rl_env_passes_the_env_checker():
    from gymnasium.utils.env_checker import check_env

    from simreal import assets
    from simreal.learn.finetune_rl import HeadRLEnv

    policy = load_policy("panda_grasp")
    env = HeadRLEnv(policy, assets.target_profile("weak_motors"))
    check_env(env, skip_render_check=True)
    env.close()


def test_whole_policy_rl_starts_exactly_at_the_source_policy():
    import numpy as np
    import torch
    from gymnasium.utils.env_checker import check_env

    from simreal import assets
    from simreal.learn.finetune_rl import ACTION_SCALE
    from simreal.learn.finetune_whole import COMMAND_SIZE, WholePolicyPPO, WholeRLEnv

    policy = load_policy("panda_grasp")
    profile = assets.target_profile("weak_motors")
    env = WholeRLEnv(policy, profile)
    check_env(env, skip_render_check=True)
    env.close()
    ppo = WholePolicyPPO(policy, profile, seed=0, chunk=64)
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


def test_bench_ratios_are_relative_to_relabel_on_the_same_target():
    from simreal.bench.adapt_speed import AdaptBenchRow, ratio_to

    def row(target, method, steps):
        return AdaptBenchRow(target, method, 1.0, 0.5, 0.95, (0.9, 1.0), steps, False)

    rows = [row("a", "relabel", 500), row("a", "finetune-rl", 2000), row("b", "relabel", None),
            row("b", "residual", 1000), row("a", "whole-policy-rl", None)]
    assert ratio_to(rows) == [1.0, 4.0, None, None, None]
