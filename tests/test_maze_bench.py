import json

import pytest

from simreal.cli import main
from simreal.maze.bench import BenchPlan, run_bench
from simreal.maze.options import DQNOptions, Schedule

TINY = DQNOptions(channels="4", features_dim=16, head="16", learning_starts=50, buffer_size=2_000)
SHORT = Schedule(steps=300, eval_every=150, validation_episodes=3, eval_episodes=5)


def _plan(out, workers, modes=("frozen", "finetune")):
    return BenchPlan("open_room", {"helpful": ("walls_a", "walls_b"), "misleading": ("lava_moat",)}, modes,
                     (0, 1), TINY, SHORT, SHORT, workers=workers, out_dir=out)


@pytest.mark.slow
def test_same_numbers_with_any_number_of_workers_and_on_resume(tmp_path):
    one = run_bench(_plan(tmp_path / "one", 1))
    two = run_bench(_plan(tmp_path / "two", 2))
    for family, modes in one.runs.items():
        assert list(modes) == ["scratch", "frozen", "finetune"]
        for mode, runs in modes.items():
            other = two.runs[family][mode]
            assert [(r.layout, r.seed, r.curve, r.final) for r in runs] == \
                   [(r.layout, r.seed, r.curve, r.final) for r in other]
    assert [r.layout for r in one.runs["helpful"]["frozen"]] == ["walls_a", "walls_b"]
    again = run_bench(_plan(tmp_path / "one", 1))  # every run is read back, none retrained
    assert again.runs == one.runs


@pytest.mark.slow
def test_bench_maze_prints_every_mode_on_both_families(tmp_path, capsys):
    code = main(["bench", "maze", "--seeds", "2", "--source-steps", "300", "--steps", "300", "--eval-every", "150",
                 "--validation-episodes", "3", "--eval-episodes", "5", "--channels", "4", "--features-dim", "16",
                 "--workers", "1", "--out-dir", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0
    for mode in ("scratch", "frozen", "lower-lr", "finetune", "progressive"):
        assert out.count(f" {mode} ") >= 2
    report = json.loads((tmp_path / "report.json").read_text())
    assert set(report["summaries"]) == {"helpful", "misleading"}
    assert "inf" not in (tmp_path / "report.json").read_text().lower()
    assert (tmp_path / "learning_curves.png").stat().st_size > 0
