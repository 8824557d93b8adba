import json
import math
from dataclasses import replace

import pytest
import torch

from simreal.evaluation import EvaluationResult
from simreal.maze.agent import build_dqn
from simreal.maze.checkpoint import MazeWeights, check_fits, load_agent, save_agent
from simreal.maze.metrics import guard, ratio_interval, summarize
from simreal.maze.network import frozen_modules
from simreal.maze.options import DQNOptions, Schedule
from simreal.maze.transfer import RunResult, build_agent, train_run
from simreal.policy.checkpoint import CheckpointMismatch
from simreal.specs.maze import maze_from_mapping

CORRIDOR = ["#######", "#S...G#", "#######"]
TINY = DQNOptions(channels="4", features_dim=16, head="16", learning_starts=50, buffer_size=2_000,
                  target_update_interval=100, exploration_fraction=0.5)
SHORT = Schedule(steps=400, eval_every=200, validation_episodes=4, eval_episodes=8)


def _maze(rows=CORRIDOR, **fields):
    return maze_from_mapping({"name": "corridor", "max_steps": 16, "map": rows, "view_size": 5, **fields},
                             "corridor.yaml")


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """An (untrained) source agent written and read back in our checkpoint format."""
    spec = _maze()
    path = save_agent(tmp_path_factory.mktemp("ck") / "source", build_dqn(spec, TINY, seed=7), spec, TINY,
                      metrics={}, seed=7)
    return load_agent(path)


def test_checkpoint_is_only_json_and_safetensors(source, tmp_path):
    spec = _maze()
    path = save_agent(tmp_path / "agent", build_dqn(spec, TINY, seed=0), spec, TINY, metrics={}, seed=0)
    assert sorted(p.name for p in path.iterdir()) == ["features.safetensors", "manifest.json",
                                                      "q_head.safetensors"]
    assert json.loads((path / "manifest.json").read_text())["extra"]["observation_shape"] == [6, 5, 5]


@pytest.mark.parametrize("mode", ["frozen", "progressive"])
def test_frozen_layers_are_bit_identical_and_stay_in_eval_mode(source, mode):
    _, model = train_run(_maze(), mode, TINY, 1, SHORT, source)
    frozen = frozen_modules(model.q_net)
    assert frozen and all(not m.training for m in frozen)  # SB3's set_training_mode(True) did not flip them
    assert all(not p.requires_grad for m in frozen for p in m.parameters())
    features = model.q_net.features_extractor.state_dict()
    prefix = "column." if mode == "frozen" else "source."
    for name, tensor in source.features.items():
        assert torch.equal(features[prefix + name.removeprefix("column.")], tensor), name
    trainable = [p for p in model.q_net.parameters() if p.requires_grad]
    assert trainable and all(id(p) in {id(q) for g in model.policy.optimizer.param_groups for q in g["params"]}
                             for p in trainable)


def test_lower_lr_keeps_its_per_layer_rate_through_training(source):
    _, model = train_run(_maze(), "lower-lr", TINY, 1, SHORT, source, feature_lr_scale=0.1)
    rates = sorted(g["lr"] for g in model.policy.optimizer.param_groups)
    assert rates == pytest.approx([0.1 * TINY.learning_rate, TINY.learning_rate])


def test_same_seed_same_numbers(source):
    a, _ = train_run(_maze(), "finetune", TINY, 3, SHORT, source)
    b, _ = train_run(_maze(), "finetune", TINY, 3, SHORT, source)
    assert (a.curve, a.final) == (b.curve, b.final)


def test_a_different_observation_shape_is_refused_with_the_reason(source):
    with pytest.raises(CheckpointMismatch, match=r"observation shape.*\(6, 5, 5\).*\(6, 3, 3\)"):
        build_agent(_maze(view_size=3), "frozen", TINY, 0, source)
    with pytest.raises(CheckpointMismatch, match=r"observation shape.*full view"):
        check_fits(source, _maze(view="full"))


def test_only_finetune_needs_the_same_actions(source):
    spec = _maze(actions=["left", "right", "forward", "toggle"])
    build_agent(spec, "frozen", TINY, 0, source)  # a fresh Q-head: any actions
    with pytest.raises(CheckpointMismatch, match="action layout"):
        build_agent(spec, "finetune", TINY, 0, source)


def _run(mode, seed, curve, successes, episodes=100, steps=1000):
    return RunResult("m", mode, seed, steps, tuple(curve), EvaluationResult(episodes, successes, 10.0, 0.5), 1.0)


def test_guard_reads_curves_and_held_out_success():
    scratch = [_run("scratch", s, [(0, 0.0), (500, 0.2 + 0.02 * s), (1000, 0.9)], 90) for s in range(5)]
    faster = [_run("frozen", s, [(0, 0.0), (500, 0.8 + 0.02 * s), (1000, 0.9)], 90) for s in range(5)]
    worse = [_run("frozen", s, [(0, 0.0), (500, 0.1), (1000, 0.3)], 30) for s in range(5)]
    same = [_run("frozen", s, c.curve, 90) for s, c in enumerate(scratch)]
    assert (guard(faster, scratch).label, guard(faster, scratch).kept) == ("gain", "transfer")
    assert (guard(worse, scratch).label, guard(worse, scratch).kept) == ("negative transfer", "scratch")
    assert (guard(same, scratch).label, guard(same, scratch).kept) == ("no gain", "scratch")


def test_ratios_without_a_denominator_are_none_and_censored_times_are_bounds():
    assert ratio_interval([1.0, 2.0], [0.0, 0.0]) is None
    never = [_run("scratch", s, [(0, 0.0), (1000, 0.0)], 0) for s in range(3)]
    reached = [_run("frozen", s, [(0, 0.0), (500, 1.0), (1000, 1.0)], 100) for s in range(3)]
    summary = summarize("frozen", reached, never, threshold=0.9)
    assert summary.auc_ratio is None and summary.threshold_ratio_bound == "<="
    assert summary.threshold_ratio.mean == pytest.approx(0.5)
    assert not any(isinstance(v, float) and math.isinf(v) for v in vars(summary).values())


@pytest.mark.slow
def test_guard_fires_on_deliberately_harmful_features(source):
    """All-zero frozen feature layers make the Q-head blind (one action everywhere, which never turns the agent
    round to the goal); scratch learns the corridor, and the guard must call the transfer negative."""
    spec = _maze(["######", "#S..G#", "######"], start_direction="left")
    blind = MazeWeights(source.manifest, {k: torch.zeros_like(v) for k, v in source.features.items()}, source.q_head)
    options = replace(TINY, learning_rate=3e-3, train_freq=1, target_update_interval=50, exploration_fraction=0.3)
    schedule = Schedule(steps=600, eval_every=300, validation_episodes=2, eval_episodes=10)
    harmful = [train_run(spec, "frozen", options, seed, schedule, blind)[0] for seed in range(3)]
    scratch = [train_run(spec, "scratch", options, seed, schedule)[0] for seed in range(3)]
    assert all(r.final.successes == 0 for r in harmful)
    verdict = guard(harmful, scratch)
    assert (verdict.label, verdict.kept) == ("negative transfer", "scratch")
