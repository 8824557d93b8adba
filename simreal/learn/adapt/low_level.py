"""What a candidate drives the robot with: a control head, or a low level that is not one.

Most candidates are control heads (``ControlHead`` or an adapter around one), driven
through ``HeadController``. A method may also offer a different low level, such as
``online``'s latent-conditioned head with its adaptation module in the loop: such a
candidate makes its own controller and knows how a policy keeps it (``LowLevel``).
Sessions and measurements build every candidate's controller through
:func:`controller_factory`, so both kinds run on the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from ...controllers import Controller
from ...episode_journal import head_digest
from ...policy.head import head_controller
from ...policy.hierarchical import HierarchicalPolicy
from ...recording import Trajectory
from ...specs import RobotSpec

ControllerFactory = Callable[[RobotSpec, float], Controller]


@runtime_checkable
class LowLevel(Protocol):
    """A candidate that is not a control head."""

    def controller_factory(self) -> ControllerFactory:
        """For ``GraspEnv(controller=...)``: the controller this low level drives with."""
        ...

    def install(self, policy: HierarchicalPolicy) -> None:
        """Make ``policy`` drive with this low level (its control head is left as it is)."""
        ...

    def digest(self) -> str:
        """A short digest of its weights, naming it in the run's episode journal."""
        ...

    def replayed(self, trajectory: Trajectory) -> None:
        """An episode it drove, served back from the journal on resume: bring any state it
        keeps between episodes up to date as if it had just run it."""
        ...


def controller_factory(head: object) -> ControllerFactory:
    """The controller factory of a candidate's head (a control head or a ``LowLevel``)."""
    return head.controller_factory() if isinstance(head, LowLevel) else head_controller(head)


def digest(head: object) -> str:
    """The journal's name for a candidate's head."""
    return head.digest() if isinstance(head, LowLevel) else head_digest(head)


def replayed(head: object, trajectory: Trajectory) -> None:
    """Tell a stateful low level about an episode served back on resume (a head keeps no state)."""
    if isinstance(head, LowLevel):
        head.replayed(trajectory)


def install(policy: HierarchicalPolicy, head: object) -> None:
    """Make ``policy`` drive with a kept candidate's head."""
    if isinstance(head, LowLevel):
        head.install(policy)
    else:
        policy.head = head
