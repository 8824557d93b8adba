"""The calibration pipeline, declared: every stage says what it estimates, what it needs and reads.

Each ``Stage`` names the DynamicsParams fields it estimates, the fields it needs settled
before it runs (it replays or models with them), the readings that see its fields (the
trajectory kinds and signals it reads), its cost and its search. ``plan`` orders the stages
by what they need and gives each field to the stages that can read it in this recording;
every field set goes through the same table, and nothing here knows one robot or profile.

A field may be listed by more than one stage: the first that can read it estimates it, and
a later one takes over only what the earlier left unidentified (a per-joint field's unseen
joints, say), starting from there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import contact_stages, gains, geometry, latency, noise, resting, saturation, squeeze, torque_stages
from .context import Context
from .readings import select
from .estimates import Estimate
from .parameters import Coordinate

Run = Callable[[Context, list[Coordinate]], list[Estimate]]
ARM = ("actuator_gain", "joint_gain_scale", "force_limit", "joint_damping", "link_mass_scale", "payload_mass",
       "latency_steps", "joint_offset")  # what a replay of the arm's motion needs settled


@dataclass(frozen=True)
class Reads:
    """The readings a stage needs: trajectory ``kinds`` (any with those signals when empty or when
    ``any_kind``; then the kinds are a preference) and ``signals`` every trajectory read must carry
    (``objects``: perceived object poses, ``torques``: joint torques)."""

    signals: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    any_kind: bool = False

    def available(self, context: Context) -> bool:
        return bool(select(context.recording, self.kinds, self.signals, self.any_kind))


@dataclass(frozen=True)
class Stage:
    name: str
    estimates: tuple[str, ...]
    needs: tuple[str, ...]
    reads: Reads
    cost: str
    search: str
    run: Run


STAGES: tuple[Stage, ...] = (
    Stage("object size", ("object_size_scale",), (), Reads(("objects",)),
          "perceived height of the untouched object above the table, against its nominal half height",
          "closed form: median over the untouched windows", resting.object_size),
    Stage("object noise", ("object_position_noise",), (), Reads(("objects",)),
          "scatter of the untouched object's perceived position", "closed form: step differences (MAD)",
          resting.object_noise),
    Stage("latency", ("latency_steps", "latency_jitter"), (), Reads(),
          "joint increments regressed on past command increments (a finite impulse response per joint)",
          "exhaustive over lags: the first lag the joints significantly respond at", latency.estimate),
    Stage("torque limits", ("force_limit",), (), Reads(("torques",)),
          "joint torques at their plateaus: a saturated drive reads its limit",
          "closed form: the saturated joints' limit over nominal", saturation.estimate),
    Stage("gravity", ("joint_offset", "link_mass_scale", "payload_mass"), ("force_limit",), Reads(("torques",)),
          "torques at still free postures against the model's gravity load (linear in the masses)",
          "robust least squares, whitened by the postures' joint noise", torque_stages.gravity),
    Stage("weighing", ("object_mass_scale",), (), Reads(("torques", "objects"), ("weigh",), any_kind=True),
          "torque difference between one pose held with and without the object: its weight",
          "closed form: least squares over every held/empty pair", torque_stages.weighing),
    Stage("contacts", ("joint_offset",), ("object_size_scale",), Reads(("objects",), ("push", "twist", "touch"),
                                                                        any_kind=True),
          "distance from the hand, posed at measured - offsets, to what it rested against",
          "robust least squares, fused with the earlier offsets' covariance", geometry.contacts),
    Stage("drives", ("actuator_gain", "joint_gain_scale", "joint_damping", "force_limit", "link_mass_scale",
                     "payload_mass"), ("latency_steps", "joint_offset"), Reads((), ("swing",), any_kind=True),
          "joint positions of the free-space trajectories, replayed in 15-step segments",
          "field by field (gains first): a visibility check, a coordinate scan (each joint's gain on its own "
          "joint), then joint least squares; the gains' split into actuator_gain x joint_gain_scale leaves "
          "the most fields nominal", gains.drives),
    Stage("grip force", ("gripper_force",), ("object_size_scale",), Reads(("objects",), ("lift", "weigh")),
          "finger width while the fingers squeeze the object on the table",
          "bracketing search on the squeezes' replays", squeeze.estimate),
    Stage("object friction", ("object_friction_scale",), ("object_size_scale", *ARM),
          Reads(("objects",), ("touch",), any_kind=True),
          "perceived object positions while it slides free on the table",
          "scan with parabola vertices on the free slides' replays", contact_stages.object_friction),
    Stage("grip friction", ("finger_friction", "gripper_force"),
          ("object_size_scale", "object_mass_scale", "object_friction_scale", "gripper_force", *ARM),
          Reads(("objects",), ("lift", "weigh")),
          "how far the object sinks in the hand as a squeeze lifts it, against its replays",
          "scan of the sinks' cost, each point the mean of 3 nudged replays", contact_stages.grip_friction),
    Stage("joint noise", ("position_noise", "velocity_noise"), ARM, Reads((), ("swing",), any_kind=True),
          "the fitted replay's joint residuals", "closed form: step differences, the joints' lower quartile",
          noise.joint_noise),
)


def stages_markdown() -> str:
    """The declared stages as a Markdown table (``docs/calibration.md`` shows it)."""
    rows = ["| stage | estimates | needs | reads | cost | search |", "|---|---|---|---|---|---|"]
    for s in STAGES:
        reads = ", ".join(s.reads.signals) or "joints"
        if s.reads.kinds:
            reads += f"; {'/'.join(s.reads.kinds)} trajectories" + (" (else any)" if s.reads.any_kind else "")
        rows.append(f"| {s.name} | {', '.join(f'`{f}`' for f in s.estimates)} | "
                    f"{', '.join(f'`{f}`' for f in s.needs) or '-'} | {reads} | {s.cost} | {s.search} |")
    return "\n".join(rows)
