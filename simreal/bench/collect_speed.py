"""``simreal bench collect``: env steps per second of collection on 1 vs N worker processes.

Two collections, each timed for every number of processes in the same run (so the ratio
holds even on a loaded machine):

* ``adapt``: adaptation's exploring episodes on a simulated target (``AdaptConfig.n_envs``),
  the shipped head collecting, as one round of ``simreal adapt`` does;
* ``head data``: source training's expert episodes with exploration, relabeled
  (``TrainConfig.n_envs``), in chunks.

Workers are started and warmed up before the clock starts (a run pays that once, a few
seconds, see ``startup_s``), and each timing checks that its data equal the first one's.
Besides the wall-clock rate each timing counts the CPU seconds of every process involved:
on a machine shared with other work the wall-clock ratio says what this run got, the CPU
per step what the extra processes cost (pickling heads and trajectories, one policy per
worker). Head data count relabeled samples (one per env step, less the relabel horizon).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np

from ..options import option


@dataclass
class BenchCollectConfig:
    """Env steps/s of vectorized collection, 1 vs 2 worker processes in one run (adaptation and head data)."""

    policy: str = option("panda_grasp", "shipped policy whose head collects on the target")
    target: str = option("weak_motors", "simulated target profile the adaptation collection runs on")
    steps: int = option(3000, "adaptation collection: target control steps per timing")
    head_episodes: int = option(96, "head data: expert episodes per timing (in chunks of head-chunk)")
    head_chunk: int = option(12, "head data: episodes per chunk (one task of a worker)")
    envs: str = option("1,2", "numbers of processes to time, comma-separated")
    seed: int = option(0, "seed of the collected episodes")

    def env_counts(self) -> list[int]:
        counts = [int(n) for n in self.envs.split(",") if n.strip()]
        if not counts or min(counts) < 1:
            raise ValueError(f"--envs: numbers of processes, each at least 1, got {self.envs!r}")
        return counts


@dataclass(frozen=True)
class CollectRate:
    """One timing: ``steps`` env steps in ``wall_s`` on ``n_envs`` processes, ``cpu_s`` of CPU in
    this process and the workers together; ``same``: the data equal those of the first timing
    of this collection."""

    what: str
    n_envs: int
    steps: int
    wall_s: float
    cpu_s: float
    startup_s: float
    same: bool

    @property
    def rate(self) -> float:
        return self.steps / self.wall_s


def _adapt_collection(cfg: BenchCollectConfig, n: int) -> tuple[list, float, float, float]:
    from ..learn.adapt import AdaptConfig, load_policy
    from ..learn.adapt.methods import method_named
    from ..learn.adapt.run import AdaptRun
    from ..robot_reference import robot_factory

    policy = load_policy(cfg.policy)
    config = AdaptConfig(policy=cfg.policy, target=cfg.target, n_envs=n, budget=cfg.steps + 10 * n * 50)
    run = AdaptRun(config, policy, robot_factory(cfg.target, policy.spec)[0], method_named("relabel"), 1.0,
                   lambda message: None, seed=cfg.seed, validation_seed=cfg.seed)
    try:
        start = time.perf_counter()
        run.collect(policy.head, 10 * n * 50, cfg.seed + 1_000_000)  # starts and warms up the workers
        startup = time.perf_counter() - start
        wall, cpu = time.perf_counter(), time.process_time() + run.session.worker_cpu_s
        trajectories = run.collect(policy.head, cfg.steps, cfg.seed)
        wall, cpu = time.perf_counter() - wall, time.process_time() + run.session.worker_cpu_s - cpu
    finally:
        run.close()
    data = [np.concatenate((t.joint_positions()[1:], t.command_positions()), axis=1) for t in trajectories]
    return data, wall, cpu, startup


def _head_data(cfg: BenchCollectConfig, n: int) -> tuple[list, float, float, float]:
    from ..learn.episode_workers import EpisodeWorkers, identity
    from ..learn.train import TrainConfig, _head_chunk
    from ..policy.head import HeadConfig

    config = TrainConfig(head_episodes=cfg.head_episodes, head_chunk=cfg.head_chunk, seed=cfg.seed, n_envs=n)
    tasks = [(config, HeadConfig(), k) for k in range(-(-cfg.head_episodes // cfg.head_chunk))]
    workers = EpisodeWorkers(n, identity, _head_chunk) if n > 1 else None
    try:
        start = time.perf_counter()
        if workers is not None:  # start and warm up every worker with a one-episode chunk
            warm = replace(config, head_episodes=1, head_chunk=1, seed=cfg.seed + 1)
            [f.result() for f in [workers.submit((warm, HeadConfig(), 0)) for _ in range(n)]]
        startup = time.perf_counter() - start
        workers_cpu = (lambda: workers.cpu_s) if workers is not None else (lambda: 0.0)
        wall, cpu = time.perf_counter(), time.process_time() + workers_cpu()
        chunks = list(workers.map(tasks)) if workers is not None else [_head_chunk(t) for t in tasks]
        wall, cpu = time.perf_counter() - wall, time.process_time() + workers_cpu() - cpu
    finally:
        if workers is not None:
            workers.close()
    return [np.concatenate((c.inputs, c.targets), axis=1) for c in chunks], wall, cpu, startup


COLLECTIONS = {"adapt": _adapt_collection, "head data": _head_data}
ARITHMETIC_LOOP = 3_000_000  # iterations of one reference task (a fraction of a second)


def _arithmetic(iterations: int) -> int:
    total = 0
    for i in range(iterations):
        total += i * i
    return total


def parallel_ceiling(n: int, tasks_per_process: int = 4) -> float:
    """How much more pure arithmetic ``n`` processes do per second than one, now: the most any
    collection can gain on this machine at this moment (other work takes cores too)."""
    from ..learn.episode_workers import EpisodeWorkers, identity

    workers = EpisodeWorkers(n, identity, _arithmetic)
    try:
        list(workers.map([10] * n))  # started
        start = time.perf_counter()
        for _ in range(tasks_per_process):  # one at a time
            workers.submit(ARITHMETIC_LOOP).result()
        one = time.perf_counter() - start
        start = time.perf_counter()
        list(workers.map([ARITHMETIC_LOOP] * (n * tasks_per_process)))
        many = time.perf_counter() - start
    finally:
        workers.close()
    return n * one / many


def _same(a: list, b: list) -> bool:
    return len(a) == len(b) and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))


def measure(cfg: BenchCollectConfig, counts: Sequence[int] | None = None) -> list[CollectRate]:
    """Every collection timed on every number of processes (see the module docstring)."""
    rows = []
    for what, collect in COLLECTIONS.items():
        first = None
        for n in counts or cfg.env_counts():
            data, wall, cpu, startup = collect(cfg, n)
            first = data if first is None else first
            rows.append(CollectRate(what, n, sum(len(d) for d in data), wall, cpu, startup, _same(first, data)))
    return rows


__all__ = ["BenchCollectConfig", "CollectRate", "measure", "parallel_ceiling"]
