"""The closed-form readings and the table's rules, on synthetic recordings whose answer is known."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from simreal.calibration import latency, resting, saturation
from simreal.calibration.estimates import Estimate, Estimates, settle
from simreal.calibration.bench import score
from simreal.calibration.gains import joint_gains, split_gains
from simreal.calibration.parameters import coordinates
from simreal.calibration.trajectory_file import RecordedTrajectory
from simreal.specs import DynamicsParams

from .test_calibration_plan import SPEC, context

COORD = {c.label: c for c in coordinates(["actuator_gain", "joint_gain_scale", "force_limit", "latency_steps",
                                          "object_size_scale", "object_position_noise", "payload_mass"], SPEC.dof)}


def lagged(delay: int, rate: float, noise: float, seed: int, steps: int = 120) -> RecordedTrajectory:
    """Joints following random command steps ``delay`` periods late through a first-order lag."""
    rng = np.random.default_rng(seed)
    dof = SPEC.dof
    commands = np.asarray(SPEC.home) + np.cumsum(rng.normal(0, 0.02, (steps, dof)) * (rng.random((steps, dof)) < 0.3),
                                                  axis=0)
    q = np.zeros((steps + 1, dof))
    q[0] = SPEC.home
    applied = np.vstack([np.tile(SPEC.home, (delay, 1)), commands])
    for t in range(steps):
        q[t + 1] = q[t] + rate * (applied[t] - q[t])
    reads = q + rng.normal(0, noise, q.shape)
    return RecordedTrajectory(commands, np.zeros(steps), reads, np.zeros_like(q), np.full(steps + 1, 0.08))


@pytest.mark.parametrize(("delay", "rate", "noise"), [(0, 0.9, 0.002), (3, 0.3, 0.005), (2, 0.08, 0.002)])
def test_latency_is_the_first_lag_the_joints_respond_at_whatever_the_drive(delay, rate, noise):
    ctx = context(*(lagged(delay, rate, noise, seed) for seed in range(4)))
    (found,) = latency.estimate(ctx, [COORD["latency_steps"]])
    assert found.value == delay and found.sigma == 0.0, ctx.notes


def test_latency_of_joints_that_never_respond_is_unseen():
    quiet = [dataclasses.replace(t, joint_positions=np.random.default_rng(k).normal(0, 0.003, t.joint_positions.shape))
             for k, t in enumerate(lagged(0, 0.5, 0.0, seed) for seed in range(3))]
    (found,) = latency.estimate(context(*quiet), [COORD["latency_steps"]])
    assert not found.seen


def _with_torques(traj: RecordedTrajectory, torques: np.ndarray) -> RecordedTrajectory:
    return dataclasses.replace(traj, joint_torques=torques)


def test_a_saturated_drive_reads_the_torque_limit_and_a_held_load_does_not():
    limits = np.array([j.force for j in SPEC.arm])
    rng = np.random.default_rng(0)
    base = lagged(0, 0.5, 0.0, 0)
    demand = rng.normal(0, 1.0, (len(base) + 1, SPEC.dof)) * limits
    saturated = np.clip(demand, -0.7 * limits, 0.7 * limits)  # the wrist's demand exceeds 0.7 of its limit
    (found,) = saturation.estimate(context(_with_torques(base, saturated)), [COORD["force_limit"]])
    assert found.value == pytest.approx(0.7, rel=1e-3) and found.seen
    held = 0.1 * demand  # never near a limit, but joint 1 holds its largest load in one still run
    held[40:60, 1] = 0.6 * limits[1]
    (found,) = saturation.estimate(context(_with_torques(base, held)), [COORD["force_limit"]])
    assert not found.seen and "at least 0.6" in found.note


def _resting(scale: float, noise: float, seed: int) -> RecordedTrajectory:
    traj = lagged(0, 0.5, 0.0, seed)
    rng = np.random.default_rng(seed)
    height = 0.025 * scale  # the scene's cube: 5 cm on a table at 0
    cube = np.tile([0.5, 0.0, height], (len(traj) + 1, 1, 1)) + rng.normal(0, noise, (len(traj) + 1, 1, 3))
    q = np.tile(SPEC.home, (len(traj) + 1, 1))  # the hand far above: the cube is untouched
    return dataclasses.replace(traj, joint_positions=q, object_names=("cube",), object_positions=cube,
                               object_orientations=np.tile([0.0, 0.0, 0.0, 1.0], (len(traj) + 1, 1, 1)))


def test_the_untouched_object_reads_its_size_and_its_perception_noise():
    ctx = context(*(_resting(1.12, 0.003, seed) for seed in range(4)))
    (size,) = resting.object_size(ctx, [COORD["object_size_scale"]])
    (noise,) = resting.object_noise(ctx, [COORD["object_position_noise"]])
    assert abs(size.value - 1.12) < 3 * size.sigma and size.sigma < 0.02
    assert abs(noise.value - 0.003) < 3 * noise.sigma and noise.sigma < 0.0003
    (none,) = resting.object_size(context(lagged(0, 0.5, 0.0, 0)), [COORD["object_size_scale"]])
    assert not none.seen  # no object perceived


def _products(gains, sigma=0.01):
    return [Estimate(COORD[f"joint_gain_scale[{j}]"], g, g * sigma, "drives") for j, g in enumerate(gains)]


@pytest.mark.parametrize(("gains", "common", "factors"), [
    ([0.1] * 7, 0.1, [1.0] * 7),  # one soft controller for every joint
    ([0.1, 0.1, 0.1, 0.1, 1.0, 1.0, 1.0], 1.0, [0.1] * 4 + [1.0] * 3),  # a tie: the common gain stays nominal
    ([0.5, 0.15, 0.5, 0.5, 0.35, 0.5, 0.5], 0.5, [1.0, 0.3, 1.0, 1.0, 0.7, 1.0, 1.0]),
    ([1.0, 0.1, 1.0, 0.1, 1.0, 1.0, 1.0], 1.0, [1.0, 0.1, 1.0, 0.1, 1.0, 1.0, 1.0]),
])
def test_gain_products_split_into_the_fewest_fields_off_nominal(gains, common, factors):
    found = split_gains(COORD["actuator_gain"], _products(gains), 1.0)
    assert found[0].value == pytest.approx(common, rel=0.02) and found[0].seen
    assert [e.value for e in found[1:]] == pytest.approx(factors, rel=0.02)
    assert not any(e.convention for e in found)


def test_a_split_no_two_joints_agree_on_is_a_convention_never_identifiable():
    found = split_gains(COORD["actuator_gain"], _products([0.2, 0.3, 0.45, 0.6, 0.8, 1.3, 0.05]), 1.0)
    assert not found[0].seen and found[0].value == 1.0
    table = Estimates(DynamicsParams(), SPEC.dof)
    table.put(found)
    assert not any(e.identifiable for e in table)
    assert [e.value for e in table][1:] == pytest.approx([0.2, 0.3, 0.45, 0.6, 0.8, 1.3, 0.05])  # the products kept


def test_the_table_keeps_unseen_fields_nominal_snaps_near_nominal_and_flags_by_the_bar():
    gain, payload = COORD["actuator_gain"], COORD["payload_mass"]
    assert settle(Estimate(gain, 0.3, np.inf, "x"), 1.0).value == 1.0
    near = settle(Estimate(gain, 1.03, 0.02, "x"), 1.0)
    assert near.value == 1.0 and near.identifiable  # within 2 sigma: nominal, and pinned there
    far = settle(Estimate(gain, 0.5, 0.02, "x"), 1.0)
    assert far.value == 0.5 and far.identifiable
    loose = settle(Estimate(gain, 0.5, 0.2, "x"), 1.0)
    assert loose.value == 1.0 and not loose.identifiable  # seen, but not pinned and within 3 sigma of nominal
    assert settle(Estimate(payload, 0.5, 0.001, "x"), 0.0).sigma >= 0.02 / 3  # no sigma below the resolution
    table = Estimates(DynamicsParams(), SPEC.dof)
    table.put([Estimate(gain, 0.5, 0.01, "first")])
    table.put([Estimate(gain, 0.7, 0.05, "second")])  # looser: the first stays
    assert table.get(gain).stage == "first" and table.dynamics().actuator_gain == 0.5


def _gain_estimates(common: float, factors: list[float], sigma: float = 0.01) -> list[Estimate]:
    """A fit's gain fields as settled and pinned, each factor's sigma relative (its product's)."""
    return [Estimate(COORD["actuator_gain"], common, common * sigma, "drives", identifiable=True)] + [
        Estimate(COORD[f"joint_gain_scale[{j}]"], f, f * sigma, "drives", identifiable=True)
        for j, f in enumerate(factors)]


def test_the_bench_scores_the_gains_as_per_joint_products_whatever_their_split():
    truth = DynamicsParams(joint_gain_scale=(0.1,) * 4 + (1.0,) * 3)
    swapped = score("soft", truth, _gain_estimates(0.1, [1.0] * 4 + [10.0] * 3))  # the same products
    assert (swapped.differs, swapped.found, swapped.nominal, swapped.nominal_fine) == (4, 4, 3, 3)
    assert (swapped.identifiable, swapped.covered) == (7, 7) and not swapped.misses
    off = score("soft", truth, _gain_estimates(0.1, [1.0] * 4 + [10.0, 10.0, 8.0]))  # one wrist at 0.8
    assert off.nominal_fine == 2 and off.covered == 6
    assert off.misses == ["joint_gain[6] nominal 1 -> 0.8", "joint_gain[6] 1 outside 0.8 +- 3 x 0.008"]


def test_a_convention_split_still_pins_the_products_and_one_gain_field_alone_is_scored_as_itself():
    products = _products([0.2, 0.3, 0.45, 0.6, 0.8, 1.3, 0.05])
    table = Estimates(DynamicsParams(), SPEC.dof)
    table.put(split_gains(COORD["actuator_gain"], products, 1.0))  # no two joints agree: a convention
    gains = joint_gains(list(table))
    assert [g.value for g in gains] == pytest.approx([0.2, 0.3, 0.45, 0.6, 0.8, 1.3, 0.05])
    assert all(g.identifiable for g in gains) and [g.sigma for g in gains] == pytest.approx(
        [0.01 * g.value for g in gains])
    assert not joint_gains(products)  # no common gain estimated: no products to form
    alone = score("p", DynamicsParams(joint_gain_scale=(0.4, 0.3, 0.45, 0.6, 0.8, 1.3, 0.05)), products)
    assert (alone.differs, alone.found) == (7, 6) and alone.misses == ["joint_gain_scale[0] 0.4 -> 0.2 (flagged)"]

