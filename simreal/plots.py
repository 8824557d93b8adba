"""Figures written by training runs (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def learning_curve(points: Sequence[dict], path: Path, title: str) -> Path:
    """Success (with its 95 % interval) against env steps and against wall time."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for ax, key, label in ((axes[0], "env_steps", "environment steps"), (axes[1], "wall_time", "wall time (s)")):
        xs = [p[key] for p in points]
        ax.plot(xs, [p["success"] for p in points], marker="o")
        ax.fill_between(xs, [p["low"] for p in points], [p["high"] for p in points], alpha=0.2)
        for p in points:
            ax.annotate(p["stage"], (p[key], p["success"]), fontsize=7, alpha=0.7)
        ax.set_xlabel(label)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("validation success rate")
    axes[0].set_ylim(0, 1.02)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def adaptation_curve(report: dict, path: Path) -> Path:
    """Validation success of every candidate head against the target steps spent when it was
    decided (95 % intervals), for the adaptation and the from-scratch baseline."""
    fig, ax = plt.subplots(figsize=(7, 4))
    markers = {"source": "s", "adapted": "o", "scratch": "^"}
    for key, label in (("adaptation", report["method"]), ("baseline", "from-scratch baseline")):
        run = report.get(key)
        if not run:
            continue
        line = ax.plot([p["steps"] for p in run["curve"]], [p["success"] for p in run["curve"]], linewidth=1,
                       label=f"{label}: best so far")[0]
        for c in run["candidates"]:
            v = c["validation"]
            if c["decided_at_steps"] is None or not v["episodes"]:
                continue
            low, high = v["interval_95"]
            ax.errorbar(c["decided_at_steps"], v["success_rate"], yerr=[[v["success_rate"] - low],
                        [high - v["success_rate"]]], marker=markers[c["origin"]], color=line.get_color(),
                        alpha=0.6, capsize=2)
    ax.axhline(report["threshold"], color="gray", linestyle="--", linewidth=1, label="90 % of in-sim success")
    ax.set_xlabel("target control steps (collection + validation)")
    ax.set_ylabel("validation success (square source, circle adapted, triangle scratch)", fontsize=8)
    ax.set_ylim(0, 1.02)
    ax.set_title(f"adaptation to {report['target']['name']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
