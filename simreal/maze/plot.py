"""Learning curves of the maze transfer modes: mean validation success with a 95 % band over seeds."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

from ..atomic import replacing
from .metrics import mean_interval
from .transfer import RunResult


def _band(runs: Sequence[RunResult]) -> tuple[list[int], list[float], list[float], list[float]]:
    steps = [s for s, _ in runs[0].curve]
    means, lows, highs = [], [], []
    for i in range(len(steps)):
        e = mean_interval([r.curve[i][1] for r in runs])
        means.append(e.mean)
        lows.append(max(0.0, e.mean if e.low is None else e.low))
        highs.append(min(1.0, e.mean if e.high is None else e.high))
    return steps, means, lows, highs


def learning_curves(families: Mapping[str, Mapping[str, Sequence[RunResult]]], threshold: float,
                    path: str | Path, title: str) -> Path:
    """One panel per family, one line (with its band) per mode; the threshold dashed."""
    fig, axes = plt.subplots(1, len(families), figsize=(5.5 * len(families), 4), sharey=True, squeeze=False)
    for ax, (family, modes) in zip(axes[0], families.items(), strict=True):
        for mode, runs in modes.items():
            if not runs:
                continue
            steps, means, lows, highs = _band(runs)
            (line,) = ax.plot(steps, means, label=f"{mode} ({len(runs)} seeds)")
            ax.fill_between(steps, lows, highs, alpha=0.15, color=line.get_color())
        ax.axhline(threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold:.0%}")
        layouts = ", ".join(sorted({r.layout for runs in modes.values() for r in runs}))
        ax.set_title(f"{family}: {layouts}", fontsize=9)
        ax.set_xlabel("environment steps on the target maze")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    axes[0][0].set_ylabel("validation success (greedy)")
    axes[0][-1].legend(loc="lower right", fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    with replacing(path) as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path


__all__ = ["learning_curves"]
