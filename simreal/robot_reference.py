"""Robot references: the one way every verb names the robot it runs on.

A reference is a shipped target profile name, a profile YAML path, or a bridge endpoint
(``tcp://host:port``, ``ipc://path``) where a robot is served behind the hardware bridge
(real hardware, or a simulated target in another process). ``robot_factory`` turns one
into a Robot factory: library code takes factories, so any Robot a user writes (their
own driver) runs through the same code path without a reference at all.

An endpoint that is not on this machine needs CURVE keys: commands to an arm never
travel in the clear across a network.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import assets
from .options import option
from .robot import Robot
from .specs import RobotSpec

ENDPOINT_SCHEMES = ("tcp://", "ipc://", "inproc://")
RobotFactory = Callable[[], Robot]


@dataclass(frozen=True)
class BridgeAccess:
    """How to reach a bridge endpoint: CURVE certificates (empty: none) and the reply timeout (s)."""

    server_key: str = ""
    secret: str = ""
    timeout: float = 2.0


@dataclass
class RobotAccessOptions:
    """Options of every verb that takes a robot reference (mixed into its options dataclass)."""

    curve_server_key: str = option("", "bridge endpoint: the server's CURVE public certificate (.key); needed "
                                       "for an endpoint that is not on this machine")
    curve_secret: str = option("", "bridge endpoint: this client's CURVE secret certificate (.key_secret) for a "
                                   "server that admits listed clients only")
    bridge_timeout: float = option(2.0, "bridge endpoint: seconds to wait for each reply")

    def access(self) -> BridgeAccess:
        return BridgeAccess(self.curve_server_key, self.curve_secret, self.bridge_timeout)


def is_endpoint(reference: str) -> bool:
    """True when ``reference`` names a bridge endpoint rather than a target profile."""
    return str(reference).startswith(ENDPOINT_SCHEMES)


def robot_factory(reference: str, spec: RobotSpec, scene: str = "tabletop",
                  access: BridgeAccess | None = None) -> tuple[RobotFactory, dict]:
    """A factory of the robot ``reference`` names, for a policy of ``spec``, and its report entry.

    Raises ValueError (naming the reference) for a profile of another robot, a remote
    endpoint without CURVE keys, or keys given without the server's certificate.
    """
    if is_endpoint(reference):
        return _bridge_factory(reference, spec, access or BridgeAccess())
    from .targets import open_target

    profile = assets.target_profile(reference)
    profile.check_robot(spec.name, spec.dof)
    info = {"name": profile.name, "source": profile.source, "description": profile.description, "kind": "profile"}
    return (lambda: open_target(profile, scene)), info


def _bridge_factory(endpoint: str, spec: RobotSpec, access: BridgeAccess) -> tuple[RobotFactory, dict]:
    from .bridge.auth import client_keys_from_files, is_local_endpoint
    from .bridge.client import RobotClient

    if access.secret and not access.server_key:
        raise ValueError(f"robot {endpoint}: --curve-secret needs --curve-server-key (the server's public "
                         "certificate)")
    keys = client_keys_from_files(access.server_key, access.secret or None) if access.server_key else None
    if keys is None and not is_local_endpoint(endpoint):
        raise ValueError(f"robot {endpoint}: not a loopback endpoint; pass --curve-server-key (the server's "
                         "public certificate) so commands are encrypted and the server authenticated")
    info = {"name": endpoint, "source": endpoint, "kind": "bridge", "encrypted": keys is not None,
            "description": f"a {spec.name} served behind the hardware bridge at {endpoint}"}
    return (lambda: RobotClient(endpoint, spec, timeout=access.timeout, auth=keys)), info


__all__ = ["ENDPOINT_SCHEMES", "BridgeAccess", "RobotAccessOptions", "RobotFactory", "is_endpoint", "robot_factory"]
