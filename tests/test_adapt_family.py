"""The family bench: the distribution over sampled targets, reach checked only where needed."""

import dataclasses

import pytest

from simreal.bench.adapt_family import FamilyRow, Rate, measure_family, summarize
from simreal.cli import main
from simreal.families import write_family
from simreal.learn.adapt import AdaptConfig


def _row(name, zero_shot, final, scratch, steps=1000, reach=None):
    return FamilyRow(name, {}, Rate(100, 100), Rate(zero_shot, 100), Rate(final, 100), Rate(scratch, 100),
                     "adapted r1", "-", {"collection": 500, "validation": steps - 500, "total": steps},
                     None if reach is None else Rate(reach, 100))


def test_summary_counts_hurt_reachable_recovered_and_the_from_scratch_comparison():
    rows = [
        _row("fine", 99, 99, 99, steps=600),  # not hurt: out of the recovery fraction
        _row("fixed", 20, 98, 97, steps=1200),  # hurt, recovered: reachable by that head
        _row("fixed_slowly", 50, 95, 99, steps=3000),  # recovered; the baseline measured higher
        _row("lost", 10, 40, 96, steps=5000, reach=97),  # hurt, reachable by the reach check, missed, far below
        _row("out_of_reach", 0, 0, 0, steps=5000, reach=2),  # unreachable: reported apart
    ]
    s = summarize(rows, wall_time_s=60.0)
    assert (s.targets, s.hurt, s.reachable_hurt, s.recovered) == (5, 4, 3, 2)
    assert s.median_steps_to_recovery == 2100
    assert s.unreachable == ["out_of_reach"]
    assert s.scratch_better == ["fixed_slowly", "lost"]
    assert s.below_scratch == ["lost"]  # 4 points is within the margin, 56 is not
    assert rows[0].reachable is None and rows[1].reachable and not rows[4].reachable


def test_bench_adapt_on_a_missing_family_is_a_clear_error(tmp_path, capsys):
    assert main(["bench", "adapt", "--family", str(tmp_path / "nowhere")]) == 2
    assert "family folder not found" in capsys.readouterr().out


@pytest.mark.slow
def test_family_bench_runs_every_member_and_checks_reach_only_where_needed(tmp_path):
    write_family("wide", "panda", 3, 7, tmp_path)
    base = AdaptConfig(budget=1500, eval_episodes=10)
    rows, summary = measure_family(base, tmp_path, reach_factor=2)
    assert [r.target for r in rows] == [f"wide_7_{i:03d}" for i in range(3)]
    for r in rows:
        assert r.steps["total"] <= base.budget and r.from_scratch is not None
        assert (r.reach is not None) == (r.hurt and not r.recovered)
    assert summary.targets == 3 and summary.hurt == sum(r.hurt for r in rows)
    assert dataclasses.asdict(summary)["wall_time_s"] > 0


@pytest.mark.slow
def test_family_bench_on_a_process_pool_gives_the_serial_rows(tmp_path):
    write_family("wide", "panda", 2, 11, tmp_path)
    base = AdaptConfig(budget=1000, eval_episodes=6)
    serial, _ = measure_family(base, tmp_path, reach_factor=1)
    pooled, _ = measure_family(base, tmp_path, reach_factor=1, backend="pool", workers=2)
    assert pooled == serial
