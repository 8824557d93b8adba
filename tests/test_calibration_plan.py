"""The declared pipeline: every field has a stage, stages run after what they need, any field set plans."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from simreal import assets
from simreal.calibration.context import Context
from simreal.calibration.estimates import Estimates
from simreal.calibration.plan import make_plan
from simreal.calibration.stages import STAGES
from simreal.calibration.trajectory_file import RecordedTrajectory, Recording
from simreal.specs import PARAM_NAMES, DynamicsParams

SPEC, SCENE = assets.robot_spec("panda"), assets.scene_spec("tabletop")


def trajectory(kind: str, objects: bool = True, torques: bool = True, steps: int = 20) -> RecordedTrajectory:
    dof = SPEC.dof
    q = np.tile(SPEC.home, (steps + 1, 1))
    poses = np.tile([0.5, 0.0, 0.025], (steps + 1, 1, 1)) if objects else np.zeros((0, 0, 3))
    turns = np.tile([0.0, 0.0, 0.0, 1.0], (steps + 1, 1, 1)) if objects else np.zeros((0, 0, 4))
    return RecordedTrajectory(np.tile(SPEC.home, (steps, 1)), np.zeros(steps), q, np.zeros((steps + 1, dof)),
                              np.full(steps + 1, 0.08), ("cube",) if objects else (), poses, turns,
                              joint_torques=np.zeros((steps + 1, dof)) if torques else np.zeros((0, 0)), kind=kind)


def context(*trajectories: RecordedTrajectory) -> Context:
    recording = Recording("panda", SPEC.fingerprint(), 0.05, tuple(trajectories))
    return Context(recording, SPEC, SCENE, Estimates(DynamicsParams(), SPEC.dof))


DEFAULT = ("gravity", "push", "swing", "lift", "touch", "swing", "weigh", "twist", "swing", "lift")


def _check_order(plan) -> None:
    """Every stage runs after every stage assigned a field it needs (and does not estimate itself)."""
    seen: set[str] = set()
    assigned = {step.stage.name: set(step.fields) for step in plan.steps}
    for step in plan.steps:
        for other, fields in assigned.items():
            if other != step.stage.name and fields & (set(step.stage.needs) - set(step.fields)):
                assert other in seen, (step.stage.name, "runs before", other)
        seen.add(step.stage.name)


def test_every_field_has_a_stage_and_the_blind_default_reads_them_all():
    listed = {f for stage in STAGES for f in stage.estimates}
    assert listed == set(PARAM_NAMES)
    for stage in STAGES:  # each is declared in full: what it reads, its cost and its search
        assert stage.cost and stage.search and stage.estimates and callable(stage.run)
    plan = make_plan(list(PARAM_NAMES), context(*(trajectory(k) for k in DEFAULT)))
    assert plan.unread == ()
    assert {f for step in plan.steps for f in step.fields} == set(PARAM_NAMES)
    _check_order(plan)
    names = [step.stage.name for step in plan.steps]
    assert names.index("torque limits") < names.index("gravity") < names.index("drives") < names.index("joint noise")
    assert names.index("object size") < names.index("grip force")


def test_without_torques_the_replay_reads_limits_and_masses_and_the_weight_is_unread():
    plan = make_plan(list(PARAM_NAMES), context(*(trajectory(k, torques=False) for k in DEFAULT)))
    by_stage = {step.stage.name: set(step.fields) for step in plan.steps}
    assert "gravity" not in by_stage and "torque limits" not in by_stage
    assert {"force_limit", "link_mass_scale", "payload_mass"} <= by_stage["drives"]
    assert plan.unread == ("object_mass_scale",)
    _check_order(plan)


def test_a_deploy_log_without_kinds_or_objects_plans_the_drives_from_any_trajectory():
    plan = make_plan(["actuator_gain", "object_size_scale", "finger_friction"],
                     context(trajectory("", objects=False, torques=False)))
    assert [(s.stage.name, s.fields) for s in plan.steps] == [("drives", ("actuator_gain",))]
    assert set(plan.unread) == {"object_size_scale", "finger_friction"}


@pytest.mark.parametrize("torques", [True, False])
def test_any_field_subset_plans_in_an_order_that_follows_the_needs(torques):
    rng = np.random.default_rng(0)
    ctx = context(*(trajectory(k, torques=torques) for k in DEFAULT))
    subsets = [list(s) for s in itertools.combinations(PARAM_NAMES, 2)]
    subsets += [list(rng.choice(PARAM_NAMES, size=int(rng.integers(3, 12)), replace=False)) for _ in range(60)]
    for fields in subsets:
        plan = make_plan(sorted(fields, key=PARAM_NAMES.index), ctx)
        planned = {f for step in plan.steps for f in step.fields}
        assert planned | set(plan.unread) == set(fields)
        assert all(set(step.fields) <= set(fields) for step in plan.steps)
        _check_order(plan)


def test_the_docs_show_the_declared_stages():
    from pathlib import Path

    from simreal.calibration.stages import stages_markdown

    doc = (Path(__file__).resolve().parents[1] / "docs" / "calibration.md").read_text(encoding="utf-8")
    assert stages_markdown() in doc
