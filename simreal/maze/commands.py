"""The maze verbs: ``simreal maze train``, ``simreal maze transfer``, ``simreal bench maze``.

Each verb is one options dataclass (its fields are the flags) and a thin function over the
library; torch, SB3 and minigrid are imported inside the functions, so the CLI starts fast.
"""

from __future__ import annotations

import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from ..options import option
from .options import MODES, DQNOptions, Schedule

console = Console() if sys.stdout.isatty() else Console(width=160)


@dataclass
class MazeTrainConfig(DQNOptions):
    """Train a DQN on one maze layout from scratch; write it as a checkpoint (the source of a transfer)."""

    layout: str = option("open_room", "maze layout name (scenes/mazes/) or YAML path")
    steps: int = option(10_000, "environment steps of training")
    seed: int = option(0, "seed of every random choice")
    eval_every: int = option(500, "env steps between validation points of the learning curve")
    validation_episodes: int = option(30, "seeded greedy episodes per validation point")
    eval_episodes: int = option(100, "seeded held-out greedy episodes at the end")
    out: str = option("", "checkpoint folder to write; empty = runs/maze/<layout name>")


@dataclass
class MazeTransferConfig(DQNOptions):
    """Reuse a maze checkpoint's feature layers on another layout, measured against scratch (same seed, budget)."""

    source: str = option("runs/maze/open_room", "maze checkpoint folder (from 'simreal maze train')")
    to: str = option("walls_a", "target maze layout name (scenes/mazes/) or YAML path")
    mode: str = option("frozen", f"transfer mode: {', '.join(MODES[1:])}")
    steps: int = option(6_000, "environment steps on the target, for the transfer and for scratch each")
    seed: int = option(0, "seed of every random choice (the scratch run uses the same)")
    feature_lr_scale: float = option(0.1, "lower-lr mode: the feature layers' rate as a fraction of the head's")
    threshold: float = option(0.9, "validation success that counts as solved (time to threshold)")
    eval_every: int = option(500, "env steps between validation points of the learning curve")
    validation_episodes: int = option(30, "seeded greedy episodes per validation point")
    eval_episodes: int = option(100, "seeded held-out greedy episodes at the end")
    out_dir: str = option("runs/maze_transfer", "where report.json and the checkpoint of the kept agent go")


@dataclass
class BenchMazeConfig(DQNOptions):
    """Every transfer mode on a helpful and a misleading maze family over seeds: the Taylor & Stone metrics."""

    source: str = option("open_room", "source maze layout (one source agent is trained per seed)")
    helpful: str = option("walls_a,walls_b,walls_c", "the family where transfer should help (comma-separated "
                                                     "layouts; seed i uses member i mod n)")
    misleading: str = option("lava_moat", "the family where the source's cue misleads (comma-separated layouts)")
    modes: str = option(",".join(MODES), "transfer modes, comma-separated (scratch is always run)")
    seeds: int = option(5, "seeds (source and target runs)")
    seed: int = option(0, "first seed")
    source_steps: int = option(10_000, "environment steps of each source run")
    steps: int = option(6_000, "environment steps of each target run")
    eval_every: int = option(500, "env steps between validation points")
    validation_episodes: int = option(30, "seeded greedy episodes per validation point")
    eval_episodes: int = option(100, "seeded held-out greedy episodes at the end of a run")
    threshold: float = option(0.9, "validation success that counts as solved")
    feature_lr_scale: float = option(0.1, "lower-lr mode: the feature layers' rate as a fraction of the head's")
    workers: int = option(2, "runs in parallel (processes); results do not depend on it")
    out_dir: str = option("runs/bench_maze", "run folder: every run's result, report.json, learning_curves.png")


def _options(cfg: Any) -> DQNOptions:
    return DQNOptions(**{k: getattr(cfg, k) for k in asdict(DQNOptions())})


def _schedule(cfg: Any, steps: int) -> Schedule:
    return Schedule(steps=steps, eval_every=cfg.eval_every, validation_episodes=cfg.validation_episodes,
                    eval_episodes=cfg.eval_episodes)


def _table(title: str, columns: list[str], rows: list[tuple[str, ...]]) -> Table:
    table = Table(title=title)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i < 2 else "right")
    for row in rows:
        table.add_row(*row)
    return table


def run_maze_train(cfg: MazeTrainConfig) -> int:
    from .. import assets
    from .checkpoint import save_agent
    from .transfer import train_run

    spec, options = assets.maze_spec(cfg.layout), _options(cfg)
    with console.status(f"training on {spec.name}") as status:
        result, model = train_run(spec, "scratch", options, cfg.seed, _schedule(cfg, cfg.steps),
                                  note=lambda s, v: status.update(f"{spec.name}: {s:,} steps, validation {v:.0%}"))
    final = result.final
    out = cfg.out or Path("runs/maze") / spec.name
    path = save_agent(out, model, spec, options, seed=cfg.seed, command=tuple(sys.argv),
                      metrics={"success_rate": final.success_rate, "eval_episodes": final.episodes,
                               "steps": cfg.steps, "curve": [list(p) for p in result.curve]})
    curve = "  ".join(f"{s // 1000}k {v:.0%}" for s, v in result.curve)
    console.print(f"{spec.name}: validation curve {curve}")
    console.print(f"held-out success {final.describe()}; {result.wall_s:.0f} s; checkpoint {path}")
    return 0


def _describe(summary: Any, budget: int) -> list[tuple[str, str]]:
    ratio = summary.threshold_ratio
    return [("jumpstart (validation success at step 0, vs scratch)", summary.jumpstart.show("{:+.2f}")),
            ("steps to threshold", f"{summary.time_to_threshold.mean:,.0f}" if summary.reached else
             f"not reached in {budget:,}"),
            ("steps to threshold / scratch's", "n/a" if ratio is None else
             f"{summary.threshold_ratio_bound} {ratio.show()}".strip()),
            ("held-out success at the end", summary.asymptotic.show("{:.0%}")),
            ("area-under-curve ratio vs scratch", "n/a" if summary.auc_ratio is None else summary.auc_ratio.show())]


def _error(err: Exception) -> int:
    """Bad input: one line (escaped: it may hold brackets), exit code 2."""
    from rich.markup import escape

    console.print(f"[bold red]error[/]: {escape(str(err))}", highlight=False, soft_wrap=True)
    return 2


def run_maze_transfer(cfg: MazeTransferConfig) -> int:
    from .. import assets
    from ..policy.checkpoint import CheckpointError
    from .checkpoint import check_fits, load_agent

    if cfg.mode not in MODES or cfg.mode == "scratch":
        return _error(ValueError(f"--mode {cfg.mode!r}: expected one of {', '.join(MODES[1:])} (scratch has no "
                                 "source; 'simreal maze train' trains from scratch)"))
    try:
        spec, source = assets.maze_spec(cfg.to), load_agent(cfg.source)
        check_fits(source, spec, actions=cfg.mode == "finetune")
    except CheckpointError as err:
        return _error(err)
    with console.status("training") as status:
        comparison = _compare(cfg, spec, source, status.update)
    return _report_transfer(cfg, spec, source, comparison)


def _compare(cfg: MazeTransferConfig, spec: Any, source: Any, note: Any) -> Any:
    from .experiment import compare_with_scratch

    return compare_with_scratch(spec, cfg.mode, source, _options(cfg), cfg.seed, _schedule(cfg, cfg.steps),
                                cfg.threshold, cfg.feature_lr_scale, note)


def _report_transfer(cfg: MazeTransferConfig, spec: Any, source: Any, comparison: Any) -> int:
    from ..atomic import write_json
    from .checkpoint import save_agent
    from .experiment import summary_json

    summary, verdict = comparison.summary, comparison.summary.verdict
    rows = [*_describe(summary, cfg.steps),
            ("held-out success, scratch", f"{comparison.scratch.final.describe()}"),
            ("guard", f"{verdict.label}: keeps {verdict.kept} ({verdict.reason})")]
    console.print(_table(f"{cfg.mode} from {source.manifest.robot} to {spec.name} (seed {cfg.seed}, "
                         f"{cfg.steps:,} steps each)", ["metric", "value"], rows))
    out = Path(cfg.out_dir)
    kept = comparison.kept_model
    kept_run = comparison.run if verdict.kept == "transfer" else comparison.scratch
    checkpoint = save_agent(out / "agent", kept, spec, comparison.options, seed=cfg.seed, command=tuple(sys.argv),
                            metrics={"kept": verdict.kept, "mode": kept_run.mode,
                                     "success_rate": kept_run.final.success_rate})
    write_json(out / "report.json", {"config": asdict(cfg), "summary": summary_json(summary),
                                     "run": comparison.run.to_json(), "scratch": comparison.scratch.to_json()})
    console.print(f"report {out / 'report.json'}; kept agent ({verdict.kept}) {checkpoint}")
    return 3 if verdict.label == "negative transfer" else 0


def _bench_plan(cfg: BenchMazeConfig) -> Any:
    from .bench import BenchPlan

    families = {"helpful": tuple(n for n in cfg.helpful.split(",") if n),
                "misleading": tuple(n for n in cfg.misleading.split(",") if n)}
    return BenchPlan(cfg.source, families, tuple(m for m in cfg.modes.split(",") if m),
                     tuple(range(cfg.seed, cfg.seed + cfg.seeds)), _options(cfg), _schedule(cfg, cfg.source_steps),
                     _schedule(cfg, cfg.steps), cfg.feature_lr_scale, cfg.workers, Path(cfg.out_dir))


def bench_rows(summaries: dict, steps: int) -> list[tuple[str, ...]]:
    """One table row per (family, mode)."""
    rows = []
    for family, modes in summaries.items():
        for s in modes:
            t = s.time_to_threshold
            bound = "" if s.reached == t.n else ">= "
            verdict = "-" if s.verdict is None else f"{s.verdict.label} -> {s.verdict.kept}"
            ratio = s.threshold_ratio
            rows.append((family, s.mode, s.jumpstart.show("{:+.2f}"),
                         f"{bound}{t.mean:,.0f} ({s.reached}/{t.n})",
                         "n/a" if ratio is None else f"{s.threshold_ratio_bound} {ratio.show()}".strip(),
                         s.asymptotic.show("{:.0%}"), "n/a" if s.auc_ratio is None else s.auc_ratio.show(),
                         verdict, f"{s.wall_s.mean:.0f} s"))
    return rows


def run_bench_maze(cfg: BenchMazeConfig) -> int:
    from .. import assets
    from .bench import run_bench
    from .experiment import bench_summaries, write_bench_report

    try:
        plan = _bench_plan(cfg)
    except ValueError as err:
        return _error(err)
    for layout in (plan.source, *(n for f in plan.families.values() for n in f)):
        assets.maze_spec(layout)  # a bad layout fails here, before any training
    with console.status("benchmark") as status:
        result = run_bench(plan, status.update)
    paths = write_bench_report(plan, result, cfg.threshold)
    columns = ["family", "mode", "jumpstart", f"steps to {cfg.threshold:.0%} (reached)", "vs scratch",
               "held-out success", "AUC ratio", "guard", "wall/run"]
    source = ", ".join(f"{r.final.success_rate:.0%}" for r in result.sources)
    console.print(_table(f"Maze transfer from {plan.source} ({len(plan.seeds)} seeds, {cfg.steps:,} target steps, "
                         f"mean [95 % interval])", columns, bench_rows(bench_summaries(result, cfg.threshold),
                                                                      cfg.steps)))
    console.print(f"sources on {plan.source}: held-out success {source}; total wall time {result.wall_s / 60:.1f} min "
                  f"({cfg.workers} workers)")
    console.print(f"report {paths['report']}, plot {paths['plot']}")
    return 0
