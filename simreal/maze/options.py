"""Settings of maze runs, importable without torch (the CLI reads them to build its flags)."""

from __future__ import annotations

from dataclasses import dataclass

from ..options import option

MODES = ("scratch", "frozen", "lower-lr", "finetune", "progressive")
ARCHITECTURE_FIELDS = ("channels", "features_dim", "head")


@dataclass
class DQNOptions:
    """DQN hyperparameters shared by the maze verbs (field docs are the ``--help``)."""

    learning_rate: float = option(1e-3, "Adam learning rate of the Q-head (and of every layer from scratch)")
    buffer_size: int = option(20_000, "replay buffer size (transitions)")
    learning_starts: int = option(500, "env steps of random actions before the first update")
    batch_size: int = option(32, "transitions per gradient step")
    train_freq: int = option(4, "env steps per gradient step")
    target_update_interval: int = option(500, "env steps between target-network copies")
    exploration_fraction: float = option(0.4, "fraction of the run over which epsilon falls from 1 to its floor")
    exploration_final_eps: float = option(0.05, "epsilon floor")
    gamma: float = option(0.95, "discount")
    n_steps: int = option(3, "n-step returns")
    channels: str = option("16,32", "output channels of the 3x3 convolutions (the feature layers), comma-separated; "
                                    "a transfer takes the source's")
    features_dim: int = option(64, "width of the linear feature layer after the convolutions; a transfer takes "
                                   "the source's")
    head: str = option("64", "hidden widths of the Q-head MLP, comma-separated (empty: linear head); a transfer "
                             "takes the source's")


def widths(text: str) -> tuple[int, ...]:
    """'16,32' -> (16, 32)."""
    return tuple(int(w) for w in text.split(",") if w.strip())


@dataclass(frozen=True)
class Schedule:
    """How long a run trains and how it is measured (validation and held-out episode seeds differ)."""

    steps: int = 6_000
    eval_every: int = 500
    validation_episodes: int = 30
    validation_seed: int = 1_000_000
    eval_episodes: int = 100
    eval_seed: int = 2_000_000


__all__ = ["ARCHITECTURE_FIELDS", "MODES", "DQNOptions", "Schedule", "widths"]
