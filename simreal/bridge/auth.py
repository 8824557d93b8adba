"""CURVE keys and the loopback rule: the bridge never exposes an unauthenticated robot.

ZeroMQ's CURVE mechanism encrypts the link and authenticates the server (clients must
know its public key); listing ``authorized_clients`` also authenticates clients.
Without keys the server may only bind loopback (or ipc/inproc) endpoints.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import zmq


@dataclass(frozen=True)
class CurveKeys:
    """Z85-encoded CURVE keys of one side of the bridge.

    Server side: ``public``/``secret`` are the server's keypair; ``authorized_clients``
    (client public keys) restricts who may connect, ``None`` admits any client that
    knows the server's public key. Client side: ``public``/``secret`` are the client's
    keypair and ``server_public`` is required.
    """

    public: bytes
    secret: bytes
    server_public: bytes | None = None
    authorized_clients: frozenset[bytes] | None = None

    @staticmethod
    def generate() -> CurveKeys:
        """A fresh keypair (use ``dataclasses.replace`` to add the peer's keys)."""
        if not zmq.has("curve"):
            raise RuntimeError("this libzmq was built without CURVE support")
        public, secret = zmq.curve_keypair()
        return CurveKeys(public, secret)


class InsecureEndpointError(ValueError):
    """Raised when asked to bind a network-reachable endpoint without CURVE keys."""


def is_local_endpoint(endpoint: str) -> bool:
    """True for ipc://, inproc:// and tcp:// endpoints on a loopback address or 'localhost'."""
    transport, _, address = endpoint.partition("://")
    if transport in ("ipc", "inproc"):
        return True
    if transport != "tcp" or not address:
        return False
    host = address.rsplit(":", 1)[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:  # '*', an interface name or a hostname: may be reachable from outside
        return False


def check_bind(endpoint: str, auth: CurveKeys | None) -> None:
    """Refuse a non-loopback bind without keys, naming the endpoint and the two ways out."""
    if auth is None and not is_local_endpoint(endpoint):
        raise InsecureEndpointError(
            f"refusing to bind {endpoint!r} without CURVE keys: anyone on the network could move the robot. "
            "Bind tcp://127.0.0.1:<port> (and tunnel, e.g. over SSH) or pass auth=CurveKeys(...).")


def configure_server(socket: zmq.Socket, auth: CurveKeys) -> None:
    socket.curve_secretkey = auth.secret
    socket.curve_publickey = auth.public
    socket.curve_server = True


def configure_client(socket: zmq.Socket, auth: CurveKeys) -> None:
    if auth.server_public is None:
        raise ValueError("client CurveKeys need server_public (the server's public key)")
    socket.curve_secretkey = auth.secret
    socket.curve_publickey = auth.public
    socket.curve_serverkey = auth.server_public


__all__ = ["CurveKeys", "InsecureEndpointError", "check_bind", "configure_client", "configure_server",
           "is_local_endpoint"]
