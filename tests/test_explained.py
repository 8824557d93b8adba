"""The fit's verdict (``calibration.explained``) on synthetic residuals: what noise alone leaves is
explained, model error on top of it is not, and correlated noise does not fool the test."""

from __future__ import annotations

import numpy as np

from simreal.calibration.explained import DRAWS, Consistency, ratio_of, read_noisily, residual_and_noise
from simreal.calibration.replay import Simulated
from simreal.calibration.trajectory_file import RecordedTrajectory

STEPS, DOF, TRAJECTORIES, SIGMA = 120, 7, 6, 1e-3


def _motion(seed: int) -> list[np.ndarray]:
    """Smooth joint trajectories (rad), one per recorded episode."""
    rng = np.random.default_rng(seed)
    t = np.linspace(0.0, 6.0, STEPS + 1)[:, None]
    return [0.3 * np.sin(rng.uniform(0.5, 2.0, DOF) * t + rng.uniform(0, 6, DOF)) for _ in range(TRAJECTORIES)]


def _white(rng: np.random.Generator) -> np.ndarray:
    return rng.normal(0.0, SIGMA, (STEPS + 1, DOF))


def _correlated(rng: np.random.Generator, phi: float = 0.9) -> np.ndarray:
    """AR(1) noise of std SIGMA: its step differences are far smaller than its level."""
    out = np.zeros((STEPS + 1, DOF))
    out[0] = rng.normal(0.0, SIGMA, DOF)
    for k in range(1, STEPS + 1):
        out[k] = phi * out[k - 1] + rng.normal(0.0, SIGMA * np.sqrt(1 - phi**2), DOF)
    return out


def _pairs(motion, noise, rng, error=None):
    """(recorded, simulated) pairs as the fit compares them: readings = motion + noise (+ what the model misses)."""
    pairs = []
    for q in motion:
        recorded = q + noise(rng) + (0.0 if error is None else error)
        pairs.append((_trajectory(recorded), _trajectory(q)))
    return pairs


def _trajectory(q: np.ndarray) -> RecordedTrajectory:
    return RecordedTrajectory(np.zeros((STEPS, DOF)), np.zeros(STEPS), q, np.zeros_like(q), np.zeros(STEPS + 1))


def _verdict(real_pairs, simulated_pairs) -> Consistency:
    """As ``explained.consistency`` judges: each side's ``ratio_of``."""
    residual, noise = residual_and_noise(real_pairs)
    return Consistency(residual, noise, tuple(ratio_of(pairs) for pairs in simulated_pairs), ratio_of(real_pairs))


def _off_course(pairs, trajectories):
    """The replays of ``trajectories`` leave the recording halfway (a contact gone the other way)."""
    out = list(pairs)
    for i in trajectories:
        recorded, simulated = out[i]
        q = simulated.joint_positions.copy()
        q[STEPS // 2:] += 20 * SIGMA * np.linspace(0, 1, STEPS + 1 - STEPS // 2)[:, None]
        out[i] = (recorded, _trajectory(q))
    return out


def test_one_replay_knocked_off_course_is_not_held_against_the_model():
    motion = _motion(0)
    real = _off_course(_pairs(motion, _white, np.random.default_rng(100)), [2])
    c = _verdict(real, _own(motion, _white, 1))
    assert c.residual_rad > 3 * SIGMA  # the whole residual is far above the noise
    assert c.explains


def test_two_replays_off_course_are_a_model_that_misses_something():
    motion = _motion(0)
    real = _off_course(_pairs(motion, _white, np.random.default_rng(100)), [2, 4])
    assert not _verdict(real, _own(motion, _white, 1)).explains


def _own(motion, noise, seed: int):
    """What the model leaves on its own recordings: the same motion read with fresh noise."""
    return [_pairs(motion, noise, np.random.default_rng(seed + k)) for k in range(DRAWS)]


def test_a_residual_of_noise_alone_is_explained():
    motion = _motion(0)
    c = _verdict(_pairs(motion, _white, np.random.default_rng(100)), _own(motion, _white, 1))
    assert abs(c.noise_rad - SIGMA) < 0.1 * SIGMA
    assert 0.9 < c.ratio < 1.1
    assert c.explains


def test_model_error_on_top_of_the_noise_is_not_explained():
    """A slow misfit (a lagging joint) of twice the noise: the step differences still read the noise,
    the residual does not, and the fit must say no."""
    motion = _motion(0)
    lag = 2 * SIGMA * np.sin(np.linspace(0, 3, STEPS + 1))[:, None] * np.ones(DOF)
    c = _verdict(_pairs(motion, _white, np.random.default_rng(100), lag), _own(motion, _white, 1))
    assert abs(c.noise_rad - SIGMA) < 0.2 * SIGMA
    assert c.ratio > 1.5 and c.ratio > c.limit
    assert not c.explains


def test_a_misfit_of_half_the_noise_is_still_detected():
    """Thousands of samples resolve a misfit well below the noise: the limit is the simulated
    ratios' spread, not a multiple of the noise."""
    motion = _motion(0)
    lag = 0.5 * SIGMA * np.sign(np.sin(np.linspace(0, 3, STEPS + 1)))[:, None] * np.ones(DOF)
    c = _verdict(_pairs(motion, _white, np.random.default_rng(100), lag), _own(motion, _white, 1))
    assert c.ratio < 1.3 and not c.explains


def test_correlated_noise_is_explained_when_the_model_leaves_it_too():
    """Noise correlated in time reads low in step differences, so the ratio is far above 1 (above a
    fixed 3x); the fitted model's own recordings leave the same ratio, and the verdict is yes."""
    motion = _motion(0)
    c = _verdict(_pairs(motion, _correlated, np.random.default_rng(100)), _own(motion, _correlated, 1))
    assert c.ratio > 3
    assert c.explains


def test_a_noise_free_recording_is_judged_to_its_resolution():
    same = Consistency(0.0016864, 0.0, (16.8635,) * DRAWS)
    assert same.ratio > 16 and same.explains  # a few digits off what the model leaves
    assert not Consistency(0.0020, 0.0, (16.8635,) * DRAWS).explains


def test_simulated_readings_carry_the_given_noise_and_keep_the_commands():
    q = _motion(3)[0]
    template = _trajectory(q + 1.0)
    simulated = Simulated(q, np.zeros_like(q), np.full(STEPS + 1, 0.04), np.zeros((STEPS + 1, 0, 3)),
                          np.zeros((STEPS + 1, 0, 4)))
    out = read_noisily(simulated, template, SIGMA, 0.0, 0.0, np.random.default_rng(0))
    assert out.commands is template.commands and np.allclose(out.gripper_width, 0.04)
    assert abs(np.std(out.joint_positions - q) - SIGMA) < 0.1 * SIGMA
    assert np.array_equal(out.joint_velocities, simulated.joint_velocities)
