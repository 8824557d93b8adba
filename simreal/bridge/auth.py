"""CURVE keys and the loopback rule: the bridge never exposes an unauthenticated robot.

ZeroMQ's CURVE mechanism encrypts the link and authenticates the server (clients must
know its public key); listing ``authorized_clients`` also authenticates clients.
Without keys the server may only bind loopback (or ipc/inproc) endpoints.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from pathlib import Path

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




def _certificate(path: str | Path, need_secret: bool) -> tuple[bytes, bytes | None]:
    """Keys from a ZeroMQ certificate file (as ``write_keypair`` or ``zmq.auth.create_certificates``
    writes them); an error names the file and what it lacks."""
    import zmq.auth

    file = Path(path)
    if not file.is_file():
        raise FileNotFoundError(f"CURVE certificate not found: {file}")
    try:
        public, secret = zmq.auth.load_certificate(str(file))
    except (ValueError, OSError) as error:
        raise ValueError(f"{file}: not a ZeroMQ CURVE certificate ({error})") from None
    if need_secret and not secret:
        raise ValueError(f"{file}: holds no secret key (use the .key_secret file)")
    return public, secret


def write_keypair(folder: str | Path, name: str) -> tuple[Path, Path]:
    """Write ``<name>.key`` (public, to hand to peers) and ``<name>.key_secret`` (keep private)."""
    import zmq.auth

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(str(out), name)
    return Path(public), Path(secret)


def server_keys_from_files(secret_file: str | Path, clients_folder: str | Path | None = None) -> CurveKeys:
    """The server's CurveKeys from its secret certificate; with ``clients_folder``, only clients
    whose public certificates (``*.key``) are in that folder may connect."""
    public, secret = _certificate(secret_file, need_secret=True)
    clients = None
    if clients_folder is not None:
        folder = Path(clients_folder)
        files = sorted(folder.glob("*.key")) if folder.is_dir() else []
        if not files:
            raise FileNotFoundError(f"no client public certificates (*.key) in {folder}")
        clients = frozenset(_certificate(f, need_secret=False)[0] for f in files)
    assert secret is not None
    return CurveKeys(public, secret, authorized_clients=clients)


def client_keys_from_files(server_public_file: str | Path, secret_file: str | Path | None = None) -> CurveKeys:
    """A client's CurveKeys: the server's public certificate and the client's own secret one
    (a fresh keypair when none is given: enough for a server that admits any client)."""
    server_public, _ = _certificate(server_public_file, need_secret=False)
    if secret_file is None:
        keys = CurveKeys.generate()
    else:
        public, secret = _certificate(secret_file, need_secret=True)
        assert secret is not None
        keys = CurveKeys(public, secret)
    return CurveKeys(keys.public, keys.secret, server_public=server_public)


__all__ = ["CurveKeys", "InsecureEndpointError", "check_bind", "client_keys_from_files", "configure_client",
           "configure_server", "is_local_endpoint", "server_keys_from_files", "write_keypair"]
