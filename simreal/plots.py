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
    """Target success vs target transitions for the adapted and the from-scratch head."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for key, label in (("curve", f"{report['method']} (from source head)"), ("scratch_curve", "from scratch")):
        points = report.get(key) or []
        if not points:
            continue
        xs = [p["transitions"] for p in points]
        ax.plot(xs, [p["success"] for p in points], marker="o", label=label)
        ax.fill_between(xs, [p["interval"][0] for p in points], [p["interval"][1] for p in points], alpha=0.15)
    ax.axhline(report["threshold"], color="gray", linestyle="--", linewidth=1, label="90 % of in-sim success")
    ax.set_xlabel("target transitions")
    ax.set_ylabel("target success rate (validation)")
    ax.set_ylim(0, 1.02)
    ax.set_title(f"adaptation to {report['target']['name']}")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
