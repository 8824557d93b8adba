"""Collection on several environments in worker processes (``n_envs``): the same episodes as on
one, for adaptation and source training's head data; a bad ``n_envs`` is refused by name."""

import pickle
from concurrent.futures import Future

import numpy as np
import pytest

from simreal.cli import main
from simreal.learn.adapt import AdaptConfig, load_policy
from simreal.learn.adapt.collection_workers import _runner
from simreal.learn.adapt.methods import method_named
from simreal.learn.adapt.run import AdaptRun
from simreal.learn.high_level import HighLevelTrainConfig, HighLevelTrainer
from simreal.learn.train import TrainConfig, _head_chunks
from simreal.policy.head import HeadConfig
from simreal.robot_reference import robot_factory
from simreal.specs import SpecError


class InProcessWorkers:
    """The workers' runner in this process: the same tasks and answers, without processes."""

    def __init__(self, n, runner):
        self.n, self.runner, self.sent = n, runner, 0

    def submit(self, payload):
        self.sent += 1
        future = Future()
        future.set_result(self.runner(payload))
        return future

    def close(self):
        pass


def _collected(n_envs, workers=None, journal=None, rounds=((230, 7), (120, 99))):
    """Collections on weak_motors (the last episode of each cut to fit), as arrays, and the ledger."""
    policy = load_policy("panda_grasp")
    config = AdaptConfig(target="weak_motors", n_envs=n_envs)
    run = AdaptRun(config, policy, robot_factory(config.target, policy.spec)[0], method_named("relabel"), 1.0,
                   lambda message: None, seed=0, validation_seed=0, journal=journal)
    if workers is not None:
        run.session._start_workers = workers
    try:
        trajectories = [t for steps, seed in rounds for t in run.collect(policy.head, steps, seed)]
        steps = run.ledger.summary()["steps"]
    finally:
        run.close()
    return [(t.joint_positions(), t.command_positions()) for t in trajectories], steps


def _in_process_workers():
    policy = load_policy("panda_grasp")
    run = AdaptRun(AdaptConfig(target="weak_motors"), policy, robot_factory("weak_motors", policy.spec)[0],
                   method_named("relabel"), 1.0, lambda message: None, seed=0, validation_seed=0)
    run.close()
    return InProcessWorkers(2, _runner("weak_motors", pickle.dumps(policy), run.exploration))


def _same(a, b):
    return len(a) == len(b) and all(np.array_equal(x, y) for p, q in zip(a, b, strict=True)
                                    for x, y in zip(p, q, strict=True))


def test_collecting_through_workers_gives_the_serial_episodes_cut_alike():
    workers = _in_process_workers()
    serial, serial_steps = _collected(1)
    through, steps = _collected(2, lambda: workers)
    assert _same(serial, through) and steps == serial_steps == {"collection": 350, "validation": 0, "total": 350}
    assert sum(len(q) for _, q in through) == 350
    assert workers.sent == len(through)  # no episode was run that the serial order does not run


def test_a_resumed_collection_through_workers_serves_the_journal_first(tmp_path):
    from simreal.episode_journal import EpisodeJournal

    serial, _ = _collected(1)
    _collected(1, journal=EpisodeJournal(tmp_path), rounds=((230, 7),))  # a run stopped after its first round
    workers = _in_process_workers()
    resumed, steps = _collected(2, lambda: workers, journal=EpisodeJournal(tmp_path, resume=True))
    assert _same(serial, resumed) and steps["collection"] == 350
    assert workers.sent == len(resumed) - 6  # the first round's six episodes came from the journal


def test_a_bad_n_envs_is_refused_naming_the_field(capsys):
    with pytest.raises(SpecError, match="'n_envs' = 0"):
        AdaptConfig(n_envs=0)
    with pytest.raises(SpecError, match=r"n_envs.*bridge"):
        AdaptConfig(target="tcp://127.0.0.1:5555", n_envs=2)
    with pytest.raises(SpecError, match="'n_envs' = -1"):
        TrainConfig(n_envs=-1)
    assert main(["adapt", "--n-envs", "0"]) == 2
    assert "n_envs" in capsys.readouterr().out


@pytest.mark.slow
def test_adaptation_collection_on_two_processes_is_the_serial_one():
    serial, serial_steps = _collected(1)
    parallel, steps = _collected(2)
    assert _same(serial, parallel) and steps == serial_steps


@pytest.mark.slow
def test_head_data_on_two_processes_is_the_serial_data():
    config = TrainConfig(head_episodes=6, head_chunk=2)
    serial = list(_head_chunks(config, HeadConfig(), range(3)))
    parallel = list(_head_chunks(TrainConfig(head_episodes=6, head_chunk=2, n_envs=2), HeadConfig(), range(3)))
    assert [k for k, _ in parallel] == [0, 1, 2]
    for (_, a), (_, b) in zip(serial, parallel, strict=True):
        assert np.array_equal(a.inputs, b.inputs) and np.array_equal(a.targets, b.targets)


@pytest.mark.slow
def test_ppo_on_two_envs_takes_the_same_number_of_steps():
    from simreal.policy.head import ControlHead

    head = ControlHead(7, HeadConfig()).zero_output_().eval()
    counts = []
    for n in (1, 2):
        trainer = HighLevelTrainer(head, "panda", "default", 0, HighLevelTrainConfig(rl_steps=256, rl_chunk=256,
                                                                                     n_envs=n))
        try:
            trainer.rl_chunk(1)
            counts.append((trainer.model.num_timesteps, trainer.model.n_envs))
        finally:
            trainer.close()
    assert counts == [(1024, 1), (1024, 2)]


def test_bench_collect_refuses_a_bad_process_count(capsys):
    assert main(["bench", "collect", "--envs", "1,0"]) == 2
    assert "--envs" in capsys.readouterr().out


@pytest.mark.slow
def test_bench_collect_times_one_and_two_processes_on_the_same_data(capsys):
    assert main(["bench", "collect", "--steps", "150", "--head-episodes", "4", "--head-chunk", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("yes") == 4 and "NO" not in out
