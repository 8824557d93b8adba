"""RobotServer: serves one Robot over the bridge protocol, with safety layer and watchdog.

Driver interface: anything implementing ``simreal.robot.Robot`` can be served. A driver
for a new arm needs ``spec`` (its RobotSpec, identical to the one clients load),
``control_period`` (s), ``reset(request, seed=...)`` (raising ``RequestError`` for a
request it cannot honour), ``apply(JointCommand)`` (set the targets for the next
period), ``step()`` (block for one control period on hardware, then return the
measured RobotState) and ``close()``. The server calls these under one lock, from its
request thread or its watchdog thread, never both at once, so drivers need no locking;
it never calls ``close`` (the caller owns the robot). A driver call that hangs blocks
the watchdog too: hardware needs its own low-level watchdog (as real arm controllers
have), the bridge's is for a silent or misbehaving network peer.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import zmq

from ..robot import JointCommand, RequestError, ResetRequest, Robot, RobotState
from .auth import CurveKeys, check_bind, configure_server
from .protocol import (
    MAX_MESSAGE_BYTES,
    MAX_TEXT_CHARS,
    Message,
    ProtocolError,
    decode_unpacked,
    encode,
    state_body,
    unpack,
)
from .safety import SafetyConfig, SafetyLayer, TcpModel
from .sessions import Session, Sessions

log = logging.getLogger(__name__)
POLL_MAX = 0.02  # s: how long stop() may wait for a serving thread to notice
# an estop request encoded by any msgpack writer: "type" then "estop" as fixstr or str8
_ESTOP_PAIRS = tuple(k + v for k in (b"\xa4type", b"\xd9\x04type") for v in (b"\xa5estop", b"\xd9\x05estop"))


class _ClientAllowList:
    def __init__(self, keys: frozenset[bytes]) -> None:
        self.keys = keys

    def callback(self, domain: str, key: bytes) -> bool:
        return key in self.keys


def reads_as_estop(payload: bytes, raw: Any = None) -> bool:
    """Whether a request asks for an e-stop, however malformed the rest of it is: its
    decoded ``type`` is ``"estop"``, or (when it does not decode) its bytes hold the
    encoded pair ``"type": "estop"``. A false alarm only stops the robot."""
    if isinstance(raw, dict):
        return raw.get("type") == "estop"
    return any(pair in payload for pair in _ESTOP_PAIRS)


class RobotServer:
    """Serve ``robot`` on a ZeroMQ ROUTER socket from two background threads.

    The request thread answers requests; every command passes the SafetyLayer before
    ``robot.apply`` + ``robot.step``. The watchdog thread holds the robot when no valid
    command or reset arrived for ``watchdog_timeout`` s: it ticks the robot every control
    period at the position measured when the hold began (``hold_began``, monotonic s).
    ``estop`` latches the same hold (without stepping the robot itself) and makes
    commands fail with ``estopped`` until ``clear_estop``. No request, however
    malformed, ends either thread. ``clock`` (monotonic s) times the watchdog and the
    deadlines.
    """

    def __init__(self, robot: Robot, endpoint: str = "tcp://127.0.0.1:0", watchdog_timeout: float = 0.1,
                 auth: CurveKeys | None = None, *, safety: SafetyConfig | None = None,
                 kinematics: TcpModel | None = None, sessions: Sessions | None = None,
                 context: zmq.Context | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        check_bind(endpoint, auth)
        if not watchdog_timeout > 0:
            raise ValueError(f"watchdog_timeout must be positive, got {watchdog_timeout}")
        self.robot = robot
        self.spec = robot.spec
        self.control_period = float(robot.control_period)
        self.endpoint = endpoint
        self.watchdog_timeout = watchdog_timeout
        self.auth = auth
        self.safety = SafetyLayer(self.spec, self.control_period, safety, kinematics)
        self.sessions = sessions or Sessions()
        self.estopped = False
        self.hold_began: float | None = None
        self.last_command_at: float | None = None
        self.last_state: RobotState | None = None
        self.last_flags: frozenset[str] = frozenset()
        self.robot_errors = 0
        self.internal_errors = 0
        self._context = context or zmq.Context.instance()
        self._clock = clock  # monotonic s; tests drive the watchdog with their own
        self._lock = threading.RLock()  # the robot and everything above
        self._wake = threading.Event()
        self._seq = 0
        self._last_activity = 0.0
        self._last_tick = 0.0
        self._hold_command: JointCommand | None = None
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._socket: zmq.Socket | None = None
        self._authenticator: Any = None

    # ----- lifecycle -----
    def start(self) -> RobotServer:
        """Bind (``endpoint`` then names the actual port) and serve from background threads."""
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
            self._stop_authenticator()
            raise
        self.endpoint = socket.getsockopt(zmq.LAST_ENDPOINT).decode()
        self._socket = socket
        self._stopping.clear()
        self._threads = [threading.Thread(target=self._forever, args=(step,), name=f"{name} {self.endpoint}",
                                          daemon=True)
                         for name, step in (("bridge requests", self._serve_once),
                                            ("bridge watchdog", self._watch_once))]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and join the threads (the robot is left to its owner)."""
        self._stopping.set()
        self._wake.set()
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._socket is not None:
            self._socket.close(linger=0)
            self._socket = None
        self._stop_authenticator()

    def _stop_authenticator(self) -> None:
        if self._authenticator is not None:
            self._authenticator.stop()
            self._authenticator = None

    @property
    def alive(self) -> bool:
        """Both serving threads are running (a supervisor restarts the process when not)."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads)

    def __enter__(self) -> RobotServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _forever(self, step: Callable[[], None]) -> None:
        """Run ``step`` until stopped; a bug inside it is logged and the loop goes on."""
        while not self._stopping.is_set():
            try:
                step()
            except Exception:
                self.internal_errors += 1
                log.exception("bridge server loop failed; it keeps serving")
                time.sleep(POLL_MAX)

    # ----- request thread -----
    def _serve_once(self) -> None:
        assert self._socket is not None
        if self._socket.poll(int(POLL_MAX * 1000), zmq.POLLIN):
            self._drain()

    def _drain(self, limit: int = 100) -> None:
        """Answer up to ``limit`` queued requests, then poll again."""
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
            if len(frames) != len(route) + 1:
                reply = self._error("malformed", "expected exactly one message frame")
            else:
                reply = self._answer(frames[-1], frames[0])
            try:
                self._socket.send_multipart([*route, self._encode(reply)], zmq.NOBLOCK)
            except zmq.ZMQError:
                pass  # peer gone or not reading: its problem, never the control loop's

    def _answer(self, payload: bytes, identity: bytes) -> Message:
        """The reply to one request; any failure becomes an ``error`` reply."""
        try:
            return self._handle(payload, identity, self._clock())
        except ProtocolError as error:
            return self._error(error.code, error.message)
        except Exception as error:
            self.internal_errors += 1
            log.exception("bridge server failed on a request")
            return self._error("internal", f"the server failed on this request ({type(error).__name__}); "
                                           "it keeps serving")

    def _encode(self, reply: Message) -> bytes:
        try:
            return encode(reply, "reply")
        except ProtocolError as error:  # e.g. the driver reported a NaN: say so rather than die
            return encode(self._error("robot_error", f"cannot report robot state: {error.message}"), "reply")

    def _handle(self, payload: bytes, identity: bytes, now: float) -> Message:
        session = self.sessions.get(identity, now)
        try:
            raw = unpack(payload)
        except ProtocolError as error:
            if reads_as_estop(payload):
                return self._estop(now, error.message)
            raise
        if reads_as_estop(payload, raw):  # stopping is always safe: honoured however the rest is wrong
            try:
                message, problem = decode_unpacked(raw, dof=self.spec.dof), ""
                session.seq.check(message)
            except ProtocolError as error:
                problem = error.message
            return self._estop(now, problem)
        message = decode_unpacked(raw, dof=self.spec.dof)
        session.seq.check(message)
        session.min_delay = min(session.min_delay, now - message.stamp)
        return self._dispatch(message, identity, session, now)

    def _dispatch(self, message: Message, identity: bytes, session: Session, now: float) -> Message:
        if message.type == "hello":
            return self._hello(message, identity, session, now)
        if not session.ready:
            raise ProtocolError("not_ready", "send hello first")
        with self._lock:
            if message.type == "clear_estop":
                self.estopped = False
                self.last_flags = self.last_flags - {"estop"}
                return self._state_reply("e-stop cleared")
            if self.estopped:
                raise ProtocolError("estopped", "e-stop is latched; send clear_estop to resume")
            if message.type == "reset":
                return self._reset(message, now)
            return self._command(message, session, now)

    # ----- requests -----
    def _hello(self, message: Message, identity: bytes, session: Session, now: float) -> Message:
        mine = (self.spec.name, self.spec.fingerprint())
        theirs = (message.body["robot_name"], message.body["spec_hash"])
        if theirs != mine:
            kept = "; this connection stays ready" if session.ready else ""
            raise ProtocolError("spec_mismatch", f"client has robot {theirs[0]!r} spec {theirs[1]}, "
                                                 f"server serves {mine[0]!r} spec {mine[1]}{kept}")
        self.sessions.promote(identity, now)
        return self._reply("hello", {"robot_name": mine[0], "spec_hash": mine[1], "dof": self.spec.dof,
                                     "control_period": self.control_period})

    def _reset(self, message: Message, now: float) -> Message:
        placements = {name: (v[0], v[1], v[2]) for name, v in message.body.get("objects", {}).items()}
        state = self._robot_call(lambda: self.robot.reset(ResetRequest(placements), seed=message.body.get("seed")))
        self.safety.reset()
        self._end_hold(now)
        return self._record(state, frozenset())

    def _command(self, message: Message, session: Session, now: float) -> Message:
        if self.last_state is None:
            raise ProtocolError("not_ready", "reset the robot before commanding it")
        body = message.body
        budget = body["deadline"] - message.stamp
        lateness = (now - message.stamp) - session.min_delay
        if lateness > budget:
            raise ProtocolError("expired", f"command arrived {lateness:.4f} s later than the fastest message, "
                                           f"after its deadline ({budget:.4f} s)")
        command, flags = self.safety.filter(JointCommand(np.array(body["positions"]), body["gripper"]),
                                            self.last_state)
        state = self._robot_call(lambda: self._apply_step(command))
        self.last_command_at = now
        self._end_hold(now)
        if "overspeed" in flags and self.safety.config.overspeed_action == "estop":
            self._latch_estop()
        return self._record(state, flags)

    def _estop(self, now: float, problem: str = "") -> Message:
        """Latch the e-stop; the watchdog thread starts the hold at once (no step here)."""
        with self._lock:
            self._latch_estop()
            if problem:
                return self._error("estopped", f"e-stop latched; the request was also invalid: {problem}")
            if self.last_state is None:
                return self._error("estopped", "e-stop latched; the robot was never reset so there is no state")
            return self._state_reply()

    def _latch_estop(self) -> None:
        if not self.estopped:
            self.estopped = True
            self._last_tick = -math.inf  # the first hold tick is due now
            self._wake.set()

    # ----- watchdog thread -----
    def _watch_once(self) -> None:
        with self._lock:
            due = self._tick_due()
            now = self._clock()
            if due is not None and now >= due:
                self._hold_tick(now)
                return
        wait = POLL_MAX if due is None else min(POLL_MAX, max(0.0, due - now))
        if self._wake.wait(wait):
            self._wake.clear()

    def _tick_due(self) -> float | None:
        if self.last_state is None:
            return None
        if self.estopped or self.hold_began is not None:
            return self._last_tick + self.control_period
        return self._last_activity + self.watchdog_timeout

    def _hold_tick(self, now: float) -> None:
        assert self.last_state is not None
        if self._hold_command is None:
            self._hold_command = self.safety.hold(self.last_state)  # latched: re-holding each tick would sag
        self._last_tick = now
        try:
            state = self._apply_step(self._hold_command)
        except Exception:
            self.robot_errors += 1
            log.exception("robot failed during a hold tick")
        else:
            self._record(state, frozenset({"estop"} if self.estopped else {"watchdog_hold"}))
        if self.hold_began is None:  # published last, so a reader that sees it also sees the hold's flags
            self.hold_began = now

    def _end_hold(self, now: float) -> None:
        self.hold_began = None
        self._hold_command = None
        self._last_activity = now

    # ----- helpers -----
    def _apply_step(self, command: JointCommand) -> RobotState:
        self.robot.apply(command)
        return self.robot.step()

    def _robot_call(self, call: Callable[[], RobotState]) -> RobotState:
        try:
            return call()
        except RequestError as error:  # the driver refused the request before moving
            raise ProtocolError("bad_field", str(error)) from None
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
        with self._lock:
            self._seq += 1
            seq = self._seq
        return Message(kind, seq, self._clock(), body)

    def _error(self, code: str, message: str) -> Message:
        return self._reply("error", {"code": code, "message": message[:MAX_TEXT_CHARS]})


__all__ = ["RobotServer", "reads_as_estop"]
