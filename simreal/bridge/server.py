"""RobotServer: serves one Robot over the bridge protocol, with safety layer and watchdog.

Driver interface: anything implementing ``simreal.robot.Robot`` can be served. A driver
for a new arm needs ``spec`` (its RobotSpec, identical to the one clients load),
``control_period`` (s), ``reset(request, seed=...)``, ``apply(JointCommand)`` (set the
targets for the next period), ``step()`` (block for one control period on hardware,
then return the measured RobotState) and ``close()``. The server calls these from its
own thread only, so drivers need no locking; it never calls ``close`` (the caller owns
the robot).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import zmq

from ..robot import JointCommand, ResetRequest, Robot, RobotState
from .auth import CurveKeys, check_bind, configure_server
from .protocol import MAX_MESSAGE_BYTES, Message, ProtocolError, SequenceCheck, decode, encode, state_body
from .safety import SafetyLayer, TcpModel

log = logging.getLogger(__name__)
MAX_PEERS = 64
POLL_MAX = 0.02  # s: how long stop() may wait for the serving thread to notice


@dataclass
class _Peer:
    seq: SequenceCheck = field(default_factory=SequenceCheck)
    ready: bool = False  # said a matching hello
    min_delay: float = math.inf  # min(receive time - stamp): clock offset + fastest transit


class _ClientAllowList:
    def __init__(self, keys: frozenset[bytes]) -> None:
        self.keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


class RobotServer:
    """Serve ``robot`` on a ZeroMQ ROUTER socket from a background thread.

    Every command passes the SafetyLayer before ``robot.apply`` + ``robot.step``. When no
    valid command arrives for ``watchdog_timeout`` s after a reset or command, the server
    ticks the robot itself every control period, holding the position measured when the
    hold began (``hold_began`` records that moment, monotonic s). ``estop`` latches the same
    hold and makes commands fail with ``estopped`` until ``clear_estop``.
    """

    def __init__(self, robot: Robot, endpoint: str = "tcp://127.0.0.1:0", watchdog_timeout: float = 0.1,
                 auth: CurveKeys | None = None, *, max_step: float = 0.1, kinematics: TcpModel | None = None,
                 context: zmq.Context | None = None) -> None:
        check_bind(endpoint, auth)
        if watchdog_timeout <= 0:
            raise ValueError(f"watchdog_timeout must be positive, got {watchdog_timeout}")
        self.robot = robot
        self.spec = robot.spec
        self.control_period = float(robot.control_period)
        self.endpoint = endpoint
        self.watchdog_timeout = watchdog_timeout
        self.auth = auth
        self.safety = SafetyLayer(self.spec, self.control_period, max_step, kinematics)
        self.estopped = False
        self.hold_began: float | None = None
        self.last_command_at: float | None = None
        self.last_state: RobotState | None = None
        self.last_flags: frozenset[str] = frozenset()
        self.robot_errors = 0
        self._context = context or zmq.Context.instance()
        self._peers: OrderedDict[bytes, _Peer] = OrderedDict()
        self._seq = 0
        self._last_activity = 0.0
        self._last_tick = 0.0
        self._hold_command: JointCommand | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._socket: zmq.Socket | None = None
        self._authenticator: Any = None

    # ----- lifecycle -----
    def start(self) -> RobotServer:
        """Bind (``endpoint`` then names the actual port) and serve from a background thread."""
        socket = self._context.socket(zmq.ROUTER)
        socket.setsockopt(zmq.LINGER, 0)
        socket.setsockopt(zmq.MAXMSGSIZE, 16 * MAX_MESSAGE_BYTES)  # beyond: peer disconnected, never buffered
        if self.auth is not None:
            if self.auth.authorized_clients is not None:
                from zmq.auth.thread import ThreadAuthenticator

                self._authenticator = ThreadAuthenticator(self._context)
                self._authenticator.start()
                self._authenticator.configure_curve_callback("*", _ClientAllowList(self.auth.authorized_clients))
            configure_server(socket, self.auth)
        try:
            socket.bind(self.endpoint)
        except zmq.ZMQError:
            socket.close()
            raise
        self.endpoint = socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._socket = socket
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name=f"RobotServer({self.endpoint})", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the thread (the robot is left to its owner)."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    def __enter__(self) -> RobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ----- serving loop -----
    def _serve(self) -> None:
        assert self._socket is not None
        poller = zmq.Poller()
        poller.register(self._socket, zmq.POLLIN)
        while not self._stopping.is_set():
            due = self._tick_due()
            wait = POLL_MAX if due is None else min(POLL_MAX, max(0.0, due - time.monotonic()))
            if poller.poll(math.ceil(wait * 1000)):
                self._drain()
            due = self._tick_due()
            if due is not None and time.monotonic() >= due:
                self._hold_tick(time.monotonic())

    def _drain(self, limit: int = 100) -> None:
        """Answer up to ``limit`` queued requests, then let the watchdog run (floods cannot starve it)."""
        assert self._socket is not None
        for _ in range(limit):
            try:
                frames = self._socket.recv_multipart(zmq.NOBLOCK)
            except zmq.Again:
                return
            if len(frames) < 2:
                continue
            delimited = len(frames) >= 3 and frames[1] == b""
            route = [frames[0], b""] if delimited else [frames[0]]
            now = time.monotonic()
            if len(frames) != len(route) + 1:
                reply = self._error("malformed", "expected exactly one message frame")
            else:
                reply = self._handle(frames[-1], frames[0], now)
            try:
                data = encode(reply)
            except ProtocolError as error:  # e.g. the driver reported a NaN: say so rather than die
                data = encode(self._error("robot_error", f"cannot report robot state: {error.message}"))
            try:
                self._socket.send_multipart([*route, data], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # peer gone or not reading: its problem, never the control loop's

    def _handle(self, payload: bytes, identity: bytes, now: float) -> Message:
        peer = self._peers.pop(identity, None) or _Peer()
        self._peers[identity] = peer
        while len(self._peers) > MAX_PEERS:
            self._peers.popitem(last=False)
        try:
            message = decode(payload, dof=self.spec.dof)
            if message.type == "estop":  # stopping is always safe: honoured even out of order or before hello
                try:
                    peer.seq.check(message)
                except ProtocolError:
                    pass
                return self._estop(now)
            peer.seq.check(message)
            peer.min_delay = min(peer.min_delay, now - message.stamp)
            return self._dispatch(message, peer, now)
        except ProtocolError as error:
            return self._error(error.code, error.message)

    def _dispatch(self, message: Message, peer: _Peer, now: float) -> Message:
        if message.type == "hello":
            return self._hello(message, peer)
        if message.type not in ("reset", "command", "clear_estop"):
            raise ProtocolError("unknown_type", f"the server does not accept {message.type!r} messages")
        if not peer.ready:
            raise ProtocolError("not_ready", "send hello first")
        if message.type == "clear_estop":
            self.estopped = False
            self.last_flags = self.last_flags - {"estop"}
            return self._state_reply("e-stop cleared")
        if self.estopped:
            raise ProtocolError("estopped", "e-stop is latched; send clear_estop to resume")
        if message.type == "reset":
            return self._reset(message, now)
        return self._command(message, peer, now)

    # ----- requests -----
    def _hello(self, message: Message, peer: _Peer) -> Message:
        mine = (self.spec.name, self.spec.fingerprint())
        theirs = (message.body["robot_name"], message.body["spec_hash"])
        if theirs != mine:
            peer.ready = False
            raise ProtocolError("spec_mismatch", f"client has robot {theirs[0]!r} spec {theirs[1]}, "
                                                 f"server serves {mine[0]!r} spec {mine[1]}")
        peer.ready = True
        return self._reply("hello", {"robot_name": mine[0], "spec_hash": mine[1], "dof": self.spec.dof,
                                     "control_period": self.control_period})

    def _reset(self, message: Message, now: float) -> Message:
        placements = {name: (v[0], v[1], v[2]) for name, v in message.body.get("objects", {}).items()}
        state = self._robot_call(lambda: self.robot.reset(ResetRequest(placements), seed=message.body.get("seed")))
        self.safety.reset()
        self._end_hold(now)
        return self._record(state, frozenset())

    def _command(self, message: Message, peer: _Peer, now: float) -> Message:
        if self.last_state is None:
            raise ProtocolError("not_ready", "reset the robot before commanding it")
        body = message.body
        budget = body["deadline"] - message.stamp
        lateness = (now - message.stamp) - peer.min_delay
        if lateness > budget:
            raise ProtocolError("expired", f"command arrived {lateness:.4f} s later than the fastest message, "
                                           f"after its deadline ({budget:.4f} s)")
        command, flags = self.safety.filter(JointCommand(np.array(body["positions"]), body["gripper"]),
                                            self.last_state)
        state = self._robot_call(lambda: self._apply_step(command))
        self.last_command_at = now
        self._end_hold(now)
        return self._record(state, flags)

    def _estop(self, now: float) -> Message:
        self.estopped = True
        if self.last_state is None:
            return self._error("estopped", "e-stop latched; the robot was never reset so there is no state to report")
        self._hold_tick(now)
        return self._state_reply()

    # ----- watchdog / hold -----
    def _tick_due(self) -> float | None:
        if self.last_state is None:
            return None
        if self.estopped or self.hold_began is not None:
            return self._last_tick + self.control_period
        return self._last_activity + self.watchdog_timeout

    def _hold_tick(self, now: float) -> None:
        assert self.last_state is not None
        if self.hold_began is None or self._hold_command is None:
            self.hold_began = now
            self._hold_command = self.safety.hold(self.last_state)  # latched: re-holding each tick would sag
        self._last_tick = now
        command = self._hold_command
        try:
            state = self._apply_step(command)
        except Exception:
            self.robot_errors += 1
            log.exception("robot failed during a hold tick")
            return
        self._record(state, frozenset({"estop"} if self.estopped else {"watchdog_hold"}))

    def _end_hold(self, now: float) -> None:
        self.hold_began = None
        self._hold_command = None
        self._last_activity = now

    # ----- helpers -----
    def _apply_step(self, command: JointCommand) -> RobotState:
        self.robot.apply(command)
        return self.robot.step()

    def _robot_call(self, call: Any) -> RobotState:
        try:
            return call()
        except Exception as error:  # the driver's failure is reported, the server keeps serving
            self.robot_errors += 1
            log.exception("robot call failed")
            raise ProtocolError("robot_error", f"{type(error).__name__}: {error}") from None

    def _record(self, state: RobotState, flags: frozenset[str]) -> Message:
        self.last_state = state
        self.last_flags = flags
        return self._state_reply()

    def _state_reply(self, missing: str = "") -> Message:
        if self.last_state is None:
            return self._error("not_ready", f"{missing}; the robot was never reset so there is no state")
        flags = self.last_flags | ({"estop"} if self.estopped else frozenset())
        return self._reply("state", state_body(self.last_state, flags))

    def _reply(self, kind: str, body: dict[str, Any]) -> Message:
        self._seq += 1
        return Message(kind, self._seq, time.monotonic(), body)

    def _error(self, code: str, message: str) -> Message:
        return self._reply("error", {"code": code, "message": message[:1000]})


__all__ = ["RobotServer"]
