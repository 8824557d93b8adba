"""RMA-style online adaptation: latent, adaptation module, estimator, checkpoints, refusals."""

import dataclasses
import math

import numpy as np
import pytest
import torch

from .robots import CountingRobot
from simreal import assets, pretrained
from simreal.envs import GraspEnv
from simreal.families import FamilyRandomizer
from simreal.learn.adapt import AdaptConfig, NoOnlineModule, adapt, high_level_digest, save_outputs
from simreal.learn.adapt.online import settle_time
from simreal.learn.online import OnlineTrainConfig, fit_adaptation, window_data
from simreal.policy.checkpoint import CheckpointError
from simreal.policy.head import ControlHead, HeadConfig
from simreal.policy.hierarchical import HierarchicalPolicy
from simreal.policy.high_level import HighLevelConfig, HighLevelPolicy
from simreal.policy.latent import (AdaptationModule, LatentConfig, LatentEncoder, OnlineEstimator, OnlineModule,
                                   feature_size, privileged_names, privileged_vector, step_features, windows)
from simreal.recording import RecordingRobot
from simreal.sim import SimRobot
from simreal.specs import DynamicsParams

SMALL = LatentConfig(size=3, encoder_hidden=(8,), window=4, module_hidden=(16,))


def online_module(seed: int = 0, config: LatentConfig = SMALL) -> OnlineModule:
    torch.manual_seed(seed)
    head = ControlHead(7, HeadConfig(hidden=(16, 16), anchor="reference", latent=config.size))
    return OnlineModule(head.eval(), LatentEncoder(7, config).eval(), AdaptationModule(7, config).eval())


def online_policy(seed: int = 0) -> HierarchicalPolicy:
    torch.manual_seed(seed)
    base = ControlHead(7, HeadConfig(hidden=(16, 16), anchor="reference"))
    high = HighLevelPolicy(HighLevelConfig(33, 4, (16,)))
    return HierarchicalPolicy(high.eval(), base.eval(), assets.robot_spec("panda"), online=online_module(seed))


def test_privileged_vector_reads_gains_per_joint_and_delay():
    nominal = privileged_vector(DynamicsParams(), 7)
    weak = privileged_vector(DynamicsParams(actuator_gain=0.5, joint_gain_scale=(1, 0.2, 1, 1, 1, 1, 1),
                                            latency_steps=3), 7)
    assert len(nominal) == len(privileged_names(7))
    assert weak[0] == pytest.approx(math.log(0.5)) and weak[1] == pytest.approx(math.log(0.1))
    assert weak[privileged_names(7).index("latency_steps")] == 3


def test_estimator_sees_exactly_the_windows_the_module_is_trained_on():
    module = online_module().adaptation
    sim = SimRobot(assets.robot_spec("panda"), assets.scene_spec("tabletop"), DynamicsParams(latency_steps=1))
    recorder = RecordingRobot(sim)
    estimator = OnlineEstimator(module, carry=False)
    env = GraspEnv(robot=recorder, randomization=None, controller=online_module().controller_factory(estimator))
    env.reset(seed=3)
    recorder.trajectories[-1].dynamics = DynamicsParams(latency_steps=1)
    for _ in range(7):
        env.step(np.array([0.3, -0.2, -0.5, -1.0]))
    trajectory = recorder.take()[0]
    env.close()
    inputs, _ = window_data([trajectory], online_module().encoder, SMALL.window)
    forward = module.numpy_forward()
    np.testing.assert_allclose(np.array([forward(x) for x in inputs]), np.array(estimator.history), atol=1e-6)
    assert inputs.shape == (7, SMALL.window * feature_size(7))
    assert not inputs[0][:-feature_size(7)].any()  # the first window is zero-padded before the episode's start
    np.testing.assert_array_equal(windows(np.eye(3), 2), [[0, 0, 0, 1, 0, 0], [1, 0, 0, 0, 1, 0],
                                                          [0, 1, 0, 0, 0, 1]])


def test_estimator_carries_a_settled_estimate_into_the_next_episode():
    estimator = OnlineEstimator(online_module().adaptation, carry=True)
    sim = SimRobot(assets.robot_spec("panda"), assets.scene_spec("tabletop"))
    state = sim.reset(seed=0)
    for _ in range(SMALL.window):
        estimator.estimate(state)
    settled = estimator.history[-1]
    estimator.begin_episode()
    np.testing.assert_array_equal(estimator.estimate(state), settled)  # window not full yet: the carried estimate
    sim.close()
    fresh = OnlineEstimator(online_module().adaptation, carry=True)
    fresh.begin_episode()
    assert fresh.settled is None


def test_settle_time_is_when_the_estimate_stops_leaving_its_final_value():
    estimates = [np.array([1.0, 0.0]), np.array([0.5, 0.0]), np.array([0.02, 0.0]), np.array([0.3, 0.0]),
                 np.array([0.01, 0.0]), np.array([0.0, 0.0])]
    assert settle_time(estimates, 0.05, tolerance=0.1) == pytest.approx(4 * 0.05)
    assert settle_time([np.zeros(2)] * 3, 0.05) == 0.0


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as training runs: small matrices, no thread hand-offs
    yield
    torch.set_num_threads(threads)


def test_adaptation_module_regression_recovers_a_latent_from_windows(one_thread):
    rng = np.random.default_rng(0)
    short = LatentConfig(size=3, encoder_hidden=(8,), window=2, module_hidden=(32,))
    x = rng.normal(size=(1500, short.window * feature_size(7))).astype(np.float32)
    z = np.tanh(x[:, :3] * 0.8).astype(np.float32)  # a latent the window determines
    config = OnlineTrainConfig(latent=short, module_epochs=15)
    _, metrics = fit_adaptation(x, z, 7, config, seed=0)
    assert metrics["validation_mse"] < 0.3 * metrics["latent_variance"]


def test_policy_with_online_module_round_trips_and_drives_with_it(tmp_path):
    policy = online_policy()
    policy.low_level = "online"
    path = policy.save(tmp_path / "p", metrics={}, seed=0, command=["test"])
    loaded, manifest = HierarchicalPolicy.load(path)
    assert loaded.low_level == "online" and manifest.modules["adaptation_module"]["in_control_loop"]
    x = torch.randn(5, loaded.online.adaptation.config.window * feature_size(7))
    torch.testing.assert_close(loaded.online.adaptation(x), policy.online.adaptation(x), rtol=0, atol=0)
    state = SimRobot(assets.robot_spec("panda"), assets.scene_spec("tabletop")).reset(seed=1)
    command = loaded.controller_factory()(loaded.spec, 0.05)(state, np.zeros(3), 0.08)
    assert command.positions.shape == (7,)
    np.testing.assert_array_equal(step_features(state, command)[:7], state.joint_positions)


def test_checkpoint_with_a_partial_or_mismatched_online_module_is_refused(tmp_path):
    import json

    path = online_policy().save(tmp_path / "p", metrics={}, seed=0, command=["test"])
    data = json.loads((path / "manifest.json").read_text())
    data["modules"]["adaptation_module"]["size"] = 5  # the module would estimate 5 values, the head reads 3
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="online adaptation modules do not fit together"):
        HierarchicalPolicy.load(path)
    del data["modules"]["adaptation_module"]
    (path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=r"missing \['adaptation_module'\]"):
        HierarchicalPolicy.load(path)
    with pytest.raises(ValueError, match="latent sizes differ"):
        OnlineModule(online_module().head, LatentEncoder(7, LatentConfig(size=4)), online_module().adaptation)


def test_online_method_refuses_a_policy_without_the_module(tmp_path):
    old = HierarchicalPolicy.load(pretrained.path("panda_grasp"))[0]
    old.online = None
    path = old.save(tmp_path / "plain", metrics={}, seed=0, command=["test"])
    with pytest.raises(NoOnlineModule, match="has no online adaptation module"):
        adapt(AdaptConfig(policy=str(path), method="online"))


def test_family_randomizer_draws_from_the_envs_seed():
    env = GraspEnv(robot="panda", randomization=FamilyRandomizer("broad", 7))
    env.reset(seed=5)
    first = env.dynamics
    env.reset(seed=6)
    assert env.dynamics != first
    env.reset(seed=5)
    assert env.dynamics == first
    env.close()


def test_phase_one_data_are_fixed_by_the_seed():
    from simreal.learn.online import collect_latent_data

    config = OnlineTrainConfig(episodes=2)
    head = HeadConfig(anchor="reference")
    (a, pa), (b, pb) = (collect_latent_data("panda", head, config, seed=11) for _ in range(2))
    np.testing.assert_array_equal(a.inputs, b.inputs)
    np.testing.assert_array_equal(pa, pb)
    assert len(pa) == len(a) and a.inputs.shape[1] == head_size(head)


def head_size(config: HeadConfig) -> int:
    from simreal.policy.head import head_layout

    return head_layout(7, config).size




def online_config(tmp_path, **changes):
    path = tmp_path / "online"
    if not path.exists():
        online_policy().save(path, metrics={}, seed=0, command=["test"])
    return AdaptConfig(policy=str(path), method="online", target="laggy", eval_episodes=3, from_scratch=False,
                       out_dir=str(tmp_path / "out"), **changes)


def online_run(tmp_path, opened, folder=None, config=None, cut=None):
    from simreal.targets import open_target

    def robot():  # the first robot is the session's (the warm-up); ``cut`` drops the second one's link
        return CountingRobot(open_target("laggy"), opened, cut if len(opened) == 1 else None)

    return adapt(config or online_config(tmp_path), robot=robot, folder=folder)


def test_online_method_spends_one_warm_up_episode_and_no_gradient_steps(tmp_path):
    """The warm-up is the only target data before the measurement, charged to the budget as
    collection; the report has every method's keys; the policy keeps the online low level
    and its high level bit-identical; the same seed gives the same report."""
    opened = []
    result = online_run(tmp_path, opened)
    report, run = result.report, result.report["adaptation"]
    online = run["online"]
    assert online["gradient_steps"] == 0 and 0 < online["warmup_steps"] <= 50
    assert run["steps"] == {"collection": online["warmup_steps"], "validation": 0, "total": online["warmup_steps"]}
    assert opened[0].steps == online["warmup_steps"]  # the session's robot ran the warm-up and nothing else
    assert 0.0 <= online["settle_time_s"] <= online["warmup_steps"] * 0.05
    assert run["kept"]["name"] == "online" and run["passed_at_steps"] is None
    assert report["exit_code"] == {"negative transfer": 3, "not recovered": 4}.get(report["verdict"], 0)
    assert result.accepted and result.policy.low_level == "online"
    assert report["high_level_sha256"] == high_level_digest(result.policy)
    paths = save_outputs(result, tmp_path / "out")
    assert HierarchicalPolicy.load(paths["checkpoint"])[0].low_level == "online"
    again = online_run(tmp_path, [])
    assert again.report["adaptation"]["online"] == online and again.report["final"] == report["final"]


def test_a_resumed_online_run_replays_its_warm_up_through_the_estimator(tmp_path):
    """Cut during the measurement, the run resumes without running the warm-up again, and
    the estimator ends where it did: the same estimate, settle time and final measurement."""
    from simreal.bridge import BridgeError
    from simreal.learn.adapt import RunFolder

    whole = online_run(tmp_path / "whole", []).report
    config = online_config(tmp_path)
    with pytest.raises(BridgeError):
        online_run(tmp_path, [], RunFolder(config), config, cut=5)
    resumed_config = dataclasses.replace(config, resume=True)
    opened = []
    report = online_run(tmp_path, opened, RunFolder(resumed_config), resumed_config).report
    assert opened[0].steps == 0  # the warm-up came from the journal
    assert report["adaptation"]["online"] == whole["adaptation"]["online"]
    assert report["final"] == whole["final"] and report["adaptation"]["steps"] == whole["adaptation"]["steps"]


def test_bench_adapt_marks_methods_a_policy_cannot_run_as_not_applicable(tmp_path, capsys):
    from simreal.bench.adapt_speed import measure

    path = online_policy().save(tmp_path / "online", metrics={}, seed=0, command=["test"])
    rows = measure(AdaptConfig(policy="panda_grasp"), targets=["laggy"], methods=["online"])
    rows += measure(AdaptConfig(policy=str(path)), targets=["laggy"], methods=["whole-policy-rl"])
    assert [(r.method, r.verdict) for r in rows] == [("online", "n/a"), ("whole-policy-rl", "n/a")]
    assert "no online adaptation module" in rows[0].note and "measured joints" in rows[1].note
    assert main_cli(["bench", "adapt", "--policy", "panda_grasp", "--targets", "laggy", "--methods", "online"]) == 0
    assert "no online adaptation module" in capsys.readouterr().out


def main_cli(argv):
    from simreal.cli import main

    return main(argv)


def test_bench_latency_prints_every_column_and_refuses_bad_input(tmp_path, capsys):
    from simreal.cli import main

    path = online_policy().save(tmp_path / "p", metrics={}, seed=0, command=["test"])
    assert main(["bench", "latency", "--policy", str(path), "--baseline", "", "--episodes", "1",
                 "--delays", "0,3"]) == 0
    out = capsys.readouterr().out
    assert "150 ms (3 steps)" in out and "p: online" in out and "p: head" in out
    assert main(["bench", "latency", "--policy", str(path), "--delays", "two"]) == 2
    assert main(["bench", "latency", "--policy", str(tmp_path / "missing")]) == 2
    assert main(["adapt", "--method", "online", "--policy", "panda_grasp", "--out-dir", str(tmp_path / "a")]) == 2
    assert "no online adaptation module" in capsys.readouterr().out


def test_bench_online_feeds_the_true_latent_and_pairs_episodes_with_the_head(tmp_path, capsys):
    from simreal.bench.online_headroom import TrueLatent, measure
    from simreal.cli import main
    from simreal.envs import time_limited_grasp_env
    from simreal.policy.head import head_controller

    policy = online_policy()
    env = TrueLatent(time_limited_grasp_env(robot="panda", randomization=FamilyRandomizer("broad", 7),
                                            controller=head_controller(policy.online.head)), policy.online.encoder)
    for seed in (1, 2):
        env.reset(seed=seed)
        grasp = env.unwrapped
        assert np.array_equal(grasp.controller.latent, policy.online.encoder.encode(grasp.dynamics))
    env.close()
    path = policy.save(tmp_path / "p", metrics={}, seed=0, command=["test"])
    columns = measure(str(path), "broad", 2, 7)
    assert [c.name for c in columns] == ["head", "online, true latent", "online"]
    assert columns[0].wins == columns[0].losses == 0 and all(c.result.episodes == 2 for c in columns)
    for c in columns[1:]:
        assert c.wins <= c.result.successes and c.losses <= columns[0].result.successes
    assert main(["bench", "online", "--policy", str(path), "--episodes", "1"]) == 0
    assert "true latent" in capsys.readouterr().out
    assert main(["bench", "online", "--policy", "panda_grasp", "--episodes", "1"]) == 2
    assert "no online adaptation module" in capsys.readouterr().out


@pytest.mark.parametrize("online_measures", [0, 20])
def test_an_online_head_measured_worse_than_zero_shot_is_refused(tmp_path, monkeypatch, online_measures):
    """The online method keeps its head unvalidated, so the report's measurement is its guard:
    worse than the source head zero-shot with confidence, and the run keeps the source head
    and writes no adapted checkpoint; otherwise the online low level is kept."""
    from simreal.evaluation import EvaluationResult
    from simreal.learn.adapt import measure
    from simreal.learn.adapt.online import OnlineLowLevel

    def fake(policy, head, robot, episodes, seed):  # the source head grasps every time
        return EvaluationResult(20, online_measures if isinstance(head, OnlineLowLevel) else 20, 10.0, 0.0)

    monkeypatch.setattr(measure, "on_target", fake)
    result = online_run(tmp_path, [])
    refused = online_measures == 0
    assert result.report["kept_head_refused"] is refused and result.accepted is not refused
    assert result.policy.low_level == ("head" if refused else "online")
    assert (result.report["verdict"] == "negative transfer") is refused
    assert ("checkpoint" in save_outputs(result, tmp_path / "out")) is not refused
