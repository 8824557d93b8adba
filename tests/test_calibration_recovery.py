"""Full recoveries (slow tier): 60 s of the default excitation, calibrated blind, against the hidden truth.

The same scoring as ``simreal bench calibrate`` (``calibration.bench.score``): every field a
profile sets off nominal is found within its bar (10 %, latency exactly), every field at
nominal comes out within its bar or flagged, and every identifiable coordinate holds the
truth within 3 of its sigmas. The shipped profiles go through the same pipeline as any other.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from simreal import assets
from simreal.calibration import record, run_calibration
from simreal.calibration.bench import score
from simreal.calibration.gains import joint_gains
from simreal.calibration.parameters import GAIN_FIELDS
from simreal.families import sample_profiles, write_family
from simreal.specs import load_randomization, load_target


def _blind(profile, tmp_path, seed: int = 0):
    record(profile, tmp_path / "data.npz", 10, 6.0, seed)
    return run_calibration(load_target(profile).robot if not hasattr(profile, "robot") else profile.robot,
                           [tmp_path / "data.npz"], None, "fit", tmp_path / "out")


# Known misses of the blind pipeline (docs/calibration.md: what it does not yet read well); strict,
# so a fix that makes one pass fails here until its mark is removed.
KNOWN_MISSES = {
    "laggy": "a nominal wrist gain comes out 1.33",
    "slippery": "the grip fields are flagged, not found; object friction 10 % off",
    "soft_shoulder": "a nominal wrist gain product comes out 0.81 (the per-joint scan's halving zoom cannot "
                     "reach its basin from the coarse pick) and a nominal damping 0.136, outside its 3 sigma",
}


def _shipped_in_model_class() -> list:
    names = [n for n in assets.available("target") if assets.target_profile(n).in_model_class]
    return [pytest.param(n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_MISSES[n])) if n in KNOWN_MISSES
            else n for n in names]


@pytest.mark.slow
@pytest.mark.parametrize("profile", _shipped_in_model_class())
def test_each_shipped_profile_is_recovered_blind(profile, tmp_path):
    truth = assets.target_profile(profile)
    result = _blind(assets.find("target", profile), tmp_path)
    verdict = score(profile, truth.dynamics, result.fit.estimates)
    assert verdict.found == verdict.differs and verdict.nominal_fine == verdict.nominal, verdict.misses
    assert verdict.covered == verdict.identifiable, verdict.misses
    assert result.fit.converged and result.fit.wall_time_s > 0
    ranges = load_randomization(result.paths["randomization"])
    for e in result.fit.estimates:  # the narrowed ranges hold the truth wherever the fit pins the field
        if e.identifiable and e.coord.name not in GAIN_FIELDS:
            low, high = (np.atleast_1d(v) for v in ranges.range_of(e.coord.name))
            value = np.atleast_1d(getattr(truth.dynamics, e.coord.name) or [e.value] * len(low))
            j = e.coord.joint or 0
            assert low[j] - 1e-9 <= value[j] <= high[j] + 1e-9, (e.label, value[j], low[j], high[j])
    common = ranges.range_of("actuator_gain")
    factors = (np.atleast_1d(v) for v in ranges.range_of("joint_gain_scale"))
    for g, t, low, high in zip(joint_gains(result.fit.estimates), truth.dynamics.gain_scales(7), *factors,
                               strict=True):  # the gains are pinned as products: their split is a convention
        if g.identifiable:
            assert common[0] * low - 1e-9 <= t <= common[1] * high + 1e-9, (g.label, t, common, low, high)
    report = json.loads(result.paths["report"].read_text())
    assert set(report["estimates"]) == set(truth.dynamics.__dataclass_fields__)
    assert len(report["joint_gains"]["value"]) == 7
    assert result.paths["plot"].stat().st_size > 10_000


@pytest.mark.slow
def test_an_xarm6_drawn_from_the_family_is_calibrated_blind(tmp_path):
    (profile,) = sample_profiles(assets.family_spec("wide"), assets.robot_spec("xarm6"), 1, seed=7)
    result = _blind(profile, tmp_path)
    verdict = score(profile.name, profile.dynamics, result.fit.estimates)
    assert verdict.covered >= 0.9 * verdict.identifiable and verdict.identifiable >= 10, verdict.misses
    assert load_target(result.paths["profile"]).robot == "xarm6"


@pytest.mark.slow
def test_the_bench_scores_a_family(tmp_path, capsys):
    from simreal.cli import main

    write_family("wide", "panda", 2, 11, tmp_path / "family")
    assert main(["bench", "calibrate", "--family", str(tmp_path / "family"), "--trajectories", "10"]) == 0
    out = capsys.readouterr().out
    assert "wide_11_000" in out and "wide_11_001" in out and "within 3 sigma" in out
