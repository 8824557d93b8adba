"""Sweeps: a grid of trials (adapt, evaluate, calibrate runs over any of their options) run
serially, on a local process pool, or as Ray tasks on a cluster, gathered into one table."""

from .runner import BACKENDS, Trial, TrialResult, grid, run_sweep, run_trial
from .trials import KINDS

__all__ = ["BACKENDS", "KINDS", "Trial", "TrialResult", "grid", "run_sweep", "run_trial"]
