"""Source training end to end at toy scale, checkpoints and resume."""

import dataclasses

import numpy as np
import pytest
import torch

from simreal import assets
from simreal.envs import grasp_layout
from simreal.learn.train import TrainConfig, train
from simreal.policy.checkpoint import CheckpointMismatch, load_checkpoint
from simreal.policy.hierarchical import HierarchicalPolicy


def tiny(run_dir, **overrides) -> TrainConfig:
    base = TrainConfig(run_dir=str(run_dir), head_episodes=8, head_chunk=4, head_epochs=2, dagger_scale=0.02,
                       rl_steps=256, rl_chunk=256, validation_episodes=2, eval_episodes=3,
                       report_episodes=2, online_episodes=4, online_rollouts=2, online_eval_episodes=2)
    return dataclasses.replace(base, **overrides)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("run")
    return train(tiny(run_dir)), run_dir


def test_tiny_training_writes_the_run_folder(tiny_run):
    result, run_dir = tiny_run
    for name in ("metrics.json", "learning_curve.png", "progress.json", "final/manifest.json"):
        assert (run_dir / name).exists(), name
    assert list((run_dir / "tb").rglob("events.out.tfevents*")), "tensorboard logs"
    assert 0.0 <= result.metrics["success_rate"] <= 1.0
    assert result.metrics["env_steps"] > 256


def test_checkpoint_round_trip_gives_identical_actions(tiny_run):
    result, run_dir = tiny_run
    loaded, manifest = HierarchicalPolicy.load(run_dir / "final", assets.robot_spec("panda"))
    obs = np.random.default_rng(0).normal(0, 0.2, (32, grasp_layout().size)).astype(np.float32)
    np.testing.assert_array_equal(result.policy.act(obs), loaded.act(obs))
    x = torch.randn(16, loaded.head.layout.size)
    torch.testing.assert_close(result.policy.head(x), loaded.head(x), rtol=0, atol=0)
    assert manifest.seed == 0 and manifest.metrics["eval_episodes"] == 3


def test_checkpoint_for_another_robot_is_refused(tiny_run):
    _, run_dir = tiny_run
    with pytest.raises(CheckpointMismatch, match="xarm6"):
        HierarchicalPolicy.load(run_dir / "final", assets.robot_spec("xarm6"))


def test_frozen_high_level_stays_frozen(tiny_run):
    policy = tiny_run[0].policy
    policy.freeze_high_level()
    policy.train()
    assert policy.trainable_parameters()["high_level"] == 0
    assert policy.trainable_parameters()["head"] > 0
    assert not policy.high_level.training and policy.head.training


def test_existing_run_needs_resume(tiny_run):
    _, run_dir = tiny_run
    with pytest.raises(FileExistsError, match="--resume"):
        train(tiny(run_dir))


def test_resume_after_a_crash_continues_where_it_stopped(tmp_path):
    seen = []

    def crash_in_dagger(stage, fraction):
        seen.append(stage)
        if stage == "DAgger" and fraction > 0:
            raise KeyboardInterrupt

    quick = {"rl_steps": 0, "online": False}  # no PPO or online stage: the crash and the resume are in DAgger
    with pytest.raises(KeyboardInterrupt):
        train(tiny(tmp_path, **quick), progress=crash_in_dagger)
    resumed = []
    result = train(tiny(tmp_path, resume=True, **quick), progress=lambda stage, fraction: resumed.append(stage))
    assert "head data" in seen and "head data" not in resumed and "head fit" not in resumed
    assert resumed.count("DAgger") == 4  # the first iteration was saved before the crash
    manifest, _ = load_checkpoint(tmp_path / "final")
    assert manifest.metrics["success_rate"] == result.metrics["success_rate"]


def test_resume_with_other_options_is_refused(tiny_run):
    _, run_dir = tiny_run
    before = (run_dir / "progress.json").read_text()
    with pytest.raises(ValueError, match="other options"):
        train(tiny(run_dir, seed=3, resume=True))
    assert (run_dir / "progress.json").read_text() == before  # refused before touching the run


@pytest.mark.parametrize("name", ["panda_grasp", "panda_grasp_latency", "xarm6_grasp"])
def test_shipped_policy_grasps_under_randomization(name):
    """Each shipped source policy: >= 85 % on 50 seeded randomized episodes of its own robot."""
    import gymnasium as gym

    from simreal import pretrained
    from simreal.evaluation import evaluate

    policy = pretrained.load(name)
    env = gym.wrappers.TimeLimit(policy.make_env(randomization="default"), 50)
    result = evaluate(env, policy.act, episodes=50, seed=2_000_000)
    env.close()
    assert result.success_rate >= 0.85, result.describe()


@pytest.mark.parametrize("name, robot", [("panda_grasp", "panda"), ("panda_grasp_latency", "panda"),
                                               ("xarm6_grasp", "xarm6")])
def test_shipped_policy_is_small_and_records_its_origin(name, robot):
    from simreal import assets, pretrained

    folder = pretrained.path(name)
    assert sum(f.stat().st_size for f in folder.iterdir()) < 5 * 2**20
    manifest, _ = load_checkpoint(folder)
    assert manifest.seed is not None and "train" in manifest.command
    assert manifest.metrics["success_rate"] >= 0.9
    assert manifest.robot == robot and manifest.robot_fingerprint == assets.robot_spec(robot).fingerprint()


@pytest.mark.parametrize("scores, kept, draws", [
    ({"validation": (0.9, 0.8)}, "fitted", ["validation"]),
    ({"validation": (0.8, 0.9)}, "reference", ["validation"]),
    ({"validation": (1.0, 1.0), "broad": (0.7, 0.6)}, "fitted", ["validation", "broad"]),
    ({"validation": (1.0, 1.0), "broad": (0.6, 0.7)}, "reference", ["validation", "broad"]),
    ({"validation": (1.0, 1.0), "broad": (0.7, 0.7)}, "reference", ["validation", "broad"]),
])
def test_a_fitted_correction_is_kept_only_when_it_validates_better(monkeypatch, scores, kept, draws):
    """A tie on the training randomization goes to the broader draw, a tie there to the
    reference controller alone; the broader draw is run only when needed."""
    from simreal.learn import train as train_module
    from simreal.policy.head import ControlHead, HeadConfig

    asked = []

    def success(head, config, randomization, expert, seed):
        draw = "validation" if randomization == config.randomization else "broad"
        if draw not in asked:
            asked.append(draw)
        fitted, reference = scores[draw]
        return fitted if head is fitted_head else reference

    monkeypatch.setattr(train_module, "_validation_success", success)
    head = fitted_head = ControlHead(7, HeadConfig(anchor="reference"))
    chosen, record = train_module._fitted_or_reference(head, TrainConfig(randomization="latency"))
    assert record["head"] == kept and asked == draws
    assert (chosen is head) == (kept == "fitted")
