"""RobotClient: a Robot whose other end is a RobotServer, so policies run unchanged on hardware.

Each call is one request/reply on a ZeroMQ REQ socket. A REQ socket that missed a
reply is stuck in its send/receive cycle, so after a timeout the socket is thrown away
and re-created (and says hello again) before the next request.

The client waits for a reply by polling without sleeping for up to ``spin`` seconds, then
blocks. A thread that blocks is woken by the kernel when the reply lands, and on a
virtual machine or a busy host that wake-up alone can cost a millisecond: more than a
1 kHz loop's whole period. Spinning briefly keeps fast replies fast; blocking after the
spin keeps a slow robot (one that blocks for its control period) from costing a core.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import numpy as np
import zmq

from ..robot import JointCommand, ResetRequest, RobotState
from ..specs import RobotSpec
from .auth import CurveKeys, configure_client
from .protocol import PROTOCOL_VERSION, Message, ProtocolError, SequenceCheck, decode, encode, state_from_body


class BridgeError(RuntimeError):
    """The server refused a request (``code`` is the protocol error code) or replied nonsense."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class BridgeTimeout(BridgeError, TimeoutError):
    """No reply within the client's timeout; the socket has been re-created."""


DEFAULT_SPIN = 0.002  # s: two periods of a 1 kHz loop; a 20 Hz robot's replies come after the spin


class RobotClient:
    """The Robot protocol over the bridge; ``last_flags`` holds the safety flags of the last state,
    ``flag_counts`` how many states carried each flag so far (the server's safety layer changed
    what was sent: a recording of those steps does not hold the commands the robot ran).
    ``spin`` (s) is how long to poll for a reply without sleeping before blocking (0: block
    at once)."""

    def __init__(self, endpoint: str, spec: RobotSpec, timeout: float = 1.0, auth: CurveKeys | None = None,
                 context: zmq.Context | None = None, spin: float = DEFAULT_SPIN) -> None:
        if not 0 <= spin <= timeout:
            raise ValueError(f"spin must be between 0 and the timeout ({timeout} s), got {spin}")
        self.endpoint = endpoint
        self.spec = spec
        self.timeout = timeout
        self.spin = spin
        self.auth = auth
        self.last_flags: tuple[str, ...] = ()
        self.flag_counts: Counter[str] = Counter()
        self.last_state: RobotState | None = None
        self._context = context or zmq.Context.instance()
        self._socket: zmq.Socket | None = None
        self._seq = 0
        self._replies = SequenceCheck()
        self._pending: JointCommand | None = None
        self._last_sent: JointCommand | None = None
        self.control_period = self._connect()

    # ----- Robot protocol -----
    def reset(self, request: ResetRequest | None = None, *, seed: int | None = None) -> RobotState:
        body: dict[str, Any] = {"seed": seed}
        if request is not None and request.object_placements:
            body["objects"] = {name: [float(v) for v in xyyaw] for name, xyyaw in request.object_placements.items()}
        self._pending = self._last_sent = None
        return self._state(self._request("reset", body))

    def apply(self, command: JointCommand) -> None:
        positions = np.asarray(command.positions, dtype=float).reshape(-1)
        if positions.size != self.spec.dof:
            raise ValueError(f"command has {positions.size} joint targets, {self.spec.name} has {self.spec.dof}")
        self._pending = JointCommand(positions, float(command.gripper))

    def step(self) -> RobotState:
        """Send the pending command (or repeat the last; hold the measured pose if there is none)."""
        command = self._pending or self._last_sent
        if command is None:
            if self.last_state is None:
                raise BridgeError("not_ready", "reset the robot before stepping it")
            command = JointCommand(self.last_state.joint_positions, self.last_state.gripper_width)
        stamp = time.monotonic()
        body = {"positions": [float(v) for v in command.positions], "gripper": command.gripper,
                "deadline": stamp + self.timeout}
        state = self._state(self._request("command", body, stamp))
        self._last_sent, self._pending = command, None
        return state

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None

    # ----- e-stop -----
    def estop(self, reason: str = "") -> RobotState:
        """Latch the server's e-stop: the robot holds and commands fail until ``clear_estop``."""
        return self._state(self._request("estop", {"reason": reason} if reason else {}))

    def clear_estop(self) -> RobotState:
        return self._state(self._request("clear_estop", {}))

    # ----- internals -----
    def _open(self) -> zmq.Socket:
        socket = self._context.socket(zmq.REQ)
        socket.setsockopt(zmq.LINGER, 0)
        # a send with no live connection (e.g. between a refused CURVE handshake and the next
        # reconnect) would otherwise block forever: it times out like a missing reply
        socket.setsockopt(zmq.SNDTIMEO, max(1, int(self.timeout * 1000)))
        if self.auth is not None:
            configure_client(socket, self.auth)
        socket.connect(self.endpoint)
        return socket

    def _connect(self) -> float:
        self._socket = self._open()
        reply = self._exchange("hello", {"robot_name": self.spec.name, "spec_hash": self.spec.fingerprint()})
        if reply.type == "error":
            code, text = reply.body["code"], reply.body["message"]
            self.close()
            raise BridgeError(code, f"server at {self.endpoint} refused hello from protocol version "
                                    f"{PROTOCOL_VERSION}, spec {self.spec.name!r} {self.spec.fingerprint()}: {text}")
        mine = (self.spec.name, self.spec.fingerprint(), self.spec.dof)
        theirs = (reply.body["robot_name"], reply.body["spec_hash"], reply.body.get("dof"))
        if reply.type != "hello" or theirs != mine:
            self.close()
            raise BridgeError("spec_mismatch", f"server at {self.endpoint} serves {theirs}, client expects {mine}")
        return float(reply.body["control_period"])

    def _request(self, kind: str, body: dict[str, Any], stamp: float | None = None) -> Message:
        if self._socket is None:
            self._connect()
        reply = self._exchange(kind, body, stamp)
        if reply.type == "error":
            raise BridgeError(reply.body["code"], reply.body["message"])
        return reply

    def _exchange(self, kind: str, body: dict[str, Any], stamp: float | None = None) -> Message:
        assert self._socket is not None
        self._seq += 1
        data = encode(Message(kind, self._seq, time.monotonic() if stamp is None else stamp, body), "request")
        try:
            self._socket.send(data)
        except zmq.Again:
            self.close()
            raise BridgeTimeout("timeout", f"could not send {kind!r} to {self.endpoint} within {self.timeout} s "
                                           "(no connection: is the server up, and does it accept this client?)"
                                ) from None
        if not self._wait_for_reply():
            self.close()  # a REQ socket that missed its reply can never send again
            raise BridgeTimeout("timeout", f"no reply from {self.endpoint} to {kind!r} within {self.timeout} s")
        try:
            reply = decode(self._socket.recv(), direction="reply")
            self._replies.check(reply)
        except ProtocolError as error:
            raise BridgeError(error.code, f"bad reply from {self.endpoint}: {error.message}") from None
        return reply

    def _wait_for_reply(self) -> bool:
        """Poll without sleeping for ``spin`` s, then block for the rest of the timeout."""
        assert self._socket is not None
        started = time.perf_counter()
        while time.perf_counter() - started < self.spin:
            if self._socket.poll(0):  # zmq_poll releases the GIL: a server thread in this process runs
                return True
        left = self.timeout - (time.perf_counter() - started)
        return bool(self._socket.poll(max(0, int(left * 1000))))

    def _state(self, reply: Message) -> RobotState:
        if reply.type != "state":
            raise BridgeError("bad_field", f"expected a state reply, got {reply.type!r}")
        state, flags = state_from_body(reply.body)
        if state.joint_positions.size != self.spec.dof:
            raise BridgeError("bad_field", f"state has {state.joint_positions.size} joints, expected {self.spec.dof}")
        self.last_state, self.last_flags = state, flags
        self.flag_counts.update(flags)
        return state


__all__ = ["DEFAULT_SPIN", "BridgeError", "BridgeTimeout", "RobotClient"]
