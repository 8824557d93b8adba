"""Latency: the first lag at which the joints respond to the commands.

A command reaches the motors ``latency_steps`` control periods after it is sent, and from
then on moves the joint, however soft or saturated its drive: a soft drive responds a
little at once and more later, a stiff one at once, neither before. So regressing each
joint's increments on the last ``LAGS`` command increments (a finite impulse response,
which undoes the commands' own smoothness) gives responses that are zero up to the
latency and clearly positive at it. The combined t-statistic over the joints at each lag
says where the response starts: the first lag above ``ONSET`` is the latency, found
without a replay and without knowing the gains. It is exact or it is flagged: when no lag
stands out, or the earlier lags are not quiet beside it (``SHARP``), it is not identifiable.
"""

from __future__ import annotations

import numpy as np

from .context import Context
from .estimates import Estimate
from .parameters import Coordinate
from .readings import select
from ..specs import DynamicsParams

LAGS = 25  # command increments regressed on (1.25 s at 20 Hz): beyond any latency the fit can return
ONSET = 6.0  # combined t-statistic at which a lag counts as the response's start
SHARP = 3.0  # the onset is sharp when its statistic is this many times every earlier lag's


def responses(context: Context, lags: int = LAGS) -> np.ndarray:
    """Per joint and lag, the t-statistic of the joint increments' response to the command increments."""
    spec, recording = context.spec, context.recording
    out = []
    trajectories = [recording.trajectories[i] for i in select(recording)]
    for j in range(spec.dof):
        rows, target = [], []
        for traj in trajectories:
            commands = np.r_[spec.home[j], traj.commands[:, j]]
            increments = np.r_[np.zeros(lags), np.diff(commands)]
            moved = np.diff(traj.joint_positions[:, j])
            for k in range(len(moved)):
                rows.append(increments[k + 1:k + lags + 1][::-1])
                target.append(moved[k])
        x, y = np.array(rows), np.array(target)
        if len(y) <= lags:
            return np.zeros((spec.dof, lags))
        h, *_ = np.linalg.lstsq(x, y, rcond=None)
        r = y - x @ h
        scatter = r @ r / (len(y) - lags)
        standard = np.sqrt(np.clip(np.diag(scatter * np.linalg.pinv(x.T @ x)), 1e-30, None))
        out.append(h / standard)
    return np.array(out)


JITTER_NOTE = "the commands' response does not tell a varying delay from the drives' own lag: kept nominal"


def estimate(context: Context, coords: list[Coordinate]) -> list[Estimate]:
    """The latency from the response's onset; a jitter (``latency_jitter``) is reported unseen."""
    jitter = [Estimate(c, float(getattr(DynamicsParams(), c.name)), np.inf, "latency", note=JITTER_NOTE)
              for c in coords if c.name == "latency_jitter"]
    lags = [c for c in coords if c.name == "latency_steps"]
    if not lags:
        return jitter
    return [*_latency(context, lags[0]), *jitter]


def _latency(context: Context, coord: Coordinate) -> list[Estimate]:
    high = round(coord.high)
    t = responses(context, min(LAGS, high + 1))
    combined = t.sum(axis=0) / np.sqrt(len(t))
    context.notes["latency"] = {"t_by_lag": np.round(combined, 2).tolist()}
    above = np.flatnonzero(combined > ONSET)
    if not len(above):
        return [Estimate(coord, 0.0, np.inf, "latency", note="no lag the joints respond at")]
    lag = int(above[0])
    sharp = lag == 0 or combined[lag] > SHARP * float(np.max(np.abs(combined[:lag])))
    return [Estimate(coord, float(lag), 0.0 if sharp else 1.0, "latency")]
