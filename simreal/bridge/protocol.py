"""Wire protocol of the hardware bridge: versioned, validated msgpack messages.

Both ends validate everything they send and receive with the same code, so a robot
server never acts on a message it cannot fully account for: bad bytes become a
``ProtocolError`` with a stable code that travels back to the sender as an ``error``
message. See ``docs/bridge_protocol.md`` for the specification driver authors follow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgpack
import numpy as np

from ..robot import ObjectPose, RobotState

PROTOCOL_VERSION = 2  # 2: optional state.joint_torques
MAX_MESSAGE_BYTES = 64 * 1024
MAX_NAME_CHARS = 256
MAX_TEXT_CHARS = 1024  # estop reason, error message
MAX_ITEMS = 64  # joints, objects, flags: far above any arm, far below a memory problem
MAX_DEPTH = 4  # message map > objects map > pose map > list of numbers: the deepest valid nesting
MAX_TOTAL_ITEMS = 4096  # every list, map and scalar in one message together
MAX_SEQ = 2**63  # seq is an integer in [0, MAX_SEQ)

ERROR_CODES = frozenset({
    "malformed", "too_large", "version_mismatch", "out_of_order", "bad_field", "unknown_type",
    "not_ready", "spec_mismatch", "estopped", "expired", "robot_error", "session_limit", "internal",
})
SAFETY_FLAGS = frozenset({
    "clamped_position", "clamped_step", "clamped_velocity", "clamped_acceleration", "braking", "overspeed",
    "workspace", "gripper_clamped", "nonfinite", "watchdog_hold", "estop",
})


class ProtocolError(Exception):
    """Invalid message; ``code`` is one of ERROR_CODES and is what the peer is told."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


@dataclass(frozen=True)
class Message:
    """One decoded, validated message: the envelope plus the type-specific fields."""

    type: str
    seq: int
    stamp: float
    body: Mapping[str, Any] = field(default_factory=dict)
    version: int = PROTOCOL_VERSION


Validator = Callable[[str, Any], Any]


def describe(value: Any) -> str:
    """A short description of a received value that never recurses into it (it may be hostile)."""
    if value is None or isinstance(value, (bool, int, float)):
        shown = repr(value)
    elif isinstance(value, str):
        shown = repr(value[:40]) + ("..." if len(value) > 40 else "")
    elif isinstance(value, (list, tuple, dict)):
        shown = f"a {'map' if isinstance(value, dict) else 'list'} of {len(value)} items"
    else:
        shown = f"a {type(value).__name__}"
    return shown[:60]


def _bad(name: str, value: Any, expected: str) -> ProtocolError:
    return ProtocolError("bad_field", f"{name} must be {expected}, got {describe(value)}")


def _real(name: str, value: Any) -> float:
    # bool is an int subclass in Python; a True joint angle is a sender bug, not 1 rad
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _bad(name, value, "a number")
    number = float(value)
    if not math.isfinite(number):
        raise _bad(name, value, "finite")
    return number


def _positive(name: str, value: Any) -> float:
    number = _real(name, value)
    if number <= 0:
        raise _bad(name, value, "positive")
    return number


def _count(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_ITEMS:
        raise _bad(name, value, f"an integer in 1..{MAX_ITEMS}")
    return value


def _seed(name: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < 2**32:
        raise _bad(name, value, "null or an integer in [0, 2**32)")
    return value


def _name(name: str, value: Any) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_NAME_CHARS:
        raise _bad(name, value, f"a string of 1..{MAX_NAME_CHARS} characters")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT_CHARS:
        raise _bad(name, value, f"a string of at most {MAX_TEXT_CHARS} characters")
    return value


def _vector(length: int | None = None) -> Validator:
    def check(name: str, value: Any) -> list[float]:
        if not isinstance(value, (list, tuple)) or not 0 < len(value) <= MAX_ITEMS:
            raise _bad(name, value, f"a list of 1..{MAX_ITEMS} numbers")
        if length is not None and len(value) != length:
            raise _bad(name, value, f"a list of {length} numbers")
        if all(type(v) is float for v in value) and math.isfinite(sum(value)):  # the common case, in C
            return list(value)
        return [_real(f"{name}[{i}]", v) for i, v in enumerate(value)]
    return check


def _flags(name: str, value: Any) -> list[str]:
    if not isinstance(value, (list, tuple)) or len(value) > MAX_ITEMS:
        raise _bad(name, value, "a list of flag names")
    return [_name(f"{name}[{i}]", v) for i, v in enumerate(value)]


def _mapping(item: Validator) -> Validator:
    def check(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) > MAX_ITEMS:
            raise _bad(name, value, f"a map of at most {MAX_ITEMS} entries")
        return {_name(f"{name} key", k): item(f"{name}.{k}", v) for k, v in value.items()}
    return check


def _record(fields: Mapping[str, Validator]) -> Validator:
    def check(name: str, value: Any) -> dict[str, Any]:
        if not isinstance(value, dict) or len(value) != len(fields) or set(value) != set(fields):
            raise _bad(name, value, f"a map with exactly {sorted(fields)}")
        return {k: fields[k](f"{name}.{k}", value[k]) for k in fields}
    return check


_object_pose = _record({"position": _vector(3), "orientation": _vector(4), "half_extents": _vector(3)})

Schema = dict[str, tuple[Validator, bool]]  # field -> (validator, required)
_HELLO: Schema = {"robot_name": (_name, True), "spec_hash": (_name, True)}
REQUESTS: dict[str, Schema] = {  # client -> server
    "hello": _HELLO,
    "reset": {"objects": (_mapping(_vector(3)), False), "seed": (_seed, False)},
    "command": {"positions": (_vector(), True), "gripper": (_real, True), "deadline": (_real, True)},
    "estop": {"reason": (_text, False)},
    "clear_estop": {},
}
REPLIES: dict[str, Schema] = {  # server -> client
    "hello": {**_HELLO, "dof": (_count, True), "control_period": (_positive, True)},
    "state": {"time": (_real, True), "joint_positions": (_vector(), True), "joint_velocities": (_vector(), True),
              "gripper_width": (_real, True), "objects": (_mapping(_object_pose), True), "flags": (_flags, True),
              "joint_torques": (_vector(), False)},
    "error": {"code": (_name, True), "message": (_text, True)},
}
DIRECTIONS = {"request": REQUESTS, "reply": REPLIES}
SCHEMAS = {**REQUESTS, **REPLIES}  # every type name; validation always goes by direction
_ENVELOPE = ("type", "version", "seq", "stamp")


def _schema(kind: str, direction: str) -> Schema:
    schemas = DIRECTIONS[direction]
    if kind not in schemas:
        other = "sent by servers only" if direction == "request" and kind in REPLIES else \
            "sent by clients only" if kind in REQUESTS else "unknown"
        raise ProtocolError("unknown_type", f"message type {describe(kind)} is {other} "
                                            f"(a {direction} is one of {sorted(schemas)})")
    return schemas[kind]


def validate_body(kind: str, body: Mapping[str, Any], direction: str = "request") -> dict[str, Any]:
    """Check the fields of a ``kind`` message sent in ``direction`` ("request": client to
    server, "reply": server to client); returns them normalised (floats, lists)."""
    schema = _schema(kind, direction)
    unknown = sorted(describe(k) for k in set(body) - set(schema))
    if unknown:
        raise ProtocolError("bad_field", f"{kind} has unknown fields {unknown[:8]} (known: {sorted(schema)})")
    checked = {}
    for name, (validator, required) in schema.items():
        if name in body:
            checked[name] = validator(name, body[name])
        elif required:
            raise ProtocolError("bad_field", f"{kind} is missing required field {name!r}")
    if kind == "state":
        for other in ("joint_velocities", "joint_torques"):
            if other in checked and len(checked["joint_positions"]) != len(checked[other]):
                raise ProtocolError("bad_field", f"state joint_positions and {other} differ in length")
    return checked


def _envelope(raw: Any, direction: str) -> tuple[str, int, float]:
    if not isinstance(raw, dict):
        raise ProtocolError("malformed", f"message must be a map, got {describe(raw)}")
    version = raw.get("version")
    if isinstance(version, bool) or not isinstance(version, int):
        raise ProtocolError("malformed", f"message lacks an integer 'version' (got {describe(version)})")
    if version != PROTOCOL_VERSION:
        raise ProtocolError("version_mismatch",
                            f"peer speaks protocol version {describe(version)}, this side speaks {PROTOCOL_VERSION}")
    kind = raw.get("type")
    if not isinstance(kind, str):
        raise ProtocolError("malformed", f"message lacks a string 'type' (got {describe(kind)})")
    _schema(kind, direction)
    seq = raw.get("seq")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < MAX_SEQ:
        raise ProtocolError("malformed", f"message lacks an integer 'seq' in [0, 2**63) (got {describe(seq)})")
    try:
        stamp = _real("stamp", raw.get("stamp"))
    except ProtocolError as error:
        raise ProtocolError("malformed", error.message) from None
    return kind, seq, stamp


def unpack(data: bytes) -> Any:
    """msgpack bytes -> Python values, with every container, string and the nesting bounded
    before anything walks the result; raises ProtocolError only."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise ProtocolError("malformed", "message must be bytes")
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    try:
        raw = msgpack.unpackb(bytes(data), raw=False, strict_map_key=True, use_list=True,
                              max_str_len=4 * MAX_TEXT_CHARS, max_bin_len=4 * MAX_TEXT_CHARS,
                              max_array_len=MAX_ITEMS, max_map_len=MAX_ITEMS, max_ext_len=0)
    except Exception as error:  # msgpack raises a zoo of types for hostile bytes; all mean the same here
        raise ProtocolError("malformed", f"not a valid msgpack message: {type(error).__name__}") from None
    _check_shape(raw)
    return raw


def _check_shape(raw: Any) -> None:
    """Refuse nesting deeper than MAX_DEPTH or more than MAX_TOTAL_ITEMS values, iteratively."""
    if not isinstance(raw, (list, dict)):
        return
    pending, seen = [(raw, 1)], 1
    while pending:
        value, depth = pending.pop()
        children = value.values() if isinstance(value, dict) else value
        seen += len(children)
        if seen > MAX_TOTAL_ITEMS:
            raise ProtocolError("malformed", f"message holds more than {MAX_TOTAL_ITEMS} values")
        for child in children:
            if isinstance(child, (list, dict)):
                if depth >= MAX_DEPTH:
                    raise ProtocolError("malformed", f"message nests deeper than {MAX_DEPTH} levels")
                pending.append((child, depth + 1))


def decode(data: bytes, *, dof: int | None = None, direction: str = "request") -> Message:
    """Parse and validate one message sent in ``direction`` ("request" on the server,
    "reply" on the client); ``dof`` (when known) fixes the command length.

    Raises ProtocolError for anything short of a fully valid message, never another
    exception, so a server loop can turn every failure into an ``error`` reply.
    """
    return decode_unpacked(unpack(data), dof=dof, direction=direction)


def decode_unpacked(raw: Any, *, dof: int | None = None, direction: str = "request") -> Message:
    """``decode`` for a value ``unpack`` already produced (the server peeks at it first)."""
    kind, seq, stamp = _envelope(raw, direction)
    body = validate_body(kind, {k: v for k, v in raw.items() if k not in _ENVELOPE}, direction)
    if dof is not None and kind == "command" and len(body["positions"]) != dof:
        raise ProtocolError("bad_field", f"command positions has {len(body['positions'])} values, robot has {dof}")
    return Message(kind, seq, stamp, body, raw["version"])


def encode(message: Message, direction: str = "request") -> bytes:
    """Serialise a message sent in ``direction`` after validating it, so neither side can
    emit what it would reject."""
    body = validate_body(message.type, message.body, direction)
    raw = {"type": message.type, "version": message.version, "seq": int(message.seq),
           "stamp": float(message.stamp), **body}
    data = msgpack.packb(raw, use_bin_type=True)
    if len(data) > MAX_MESSAGE_BYTES:
        raise ProtocolError("too_large", f"message of {len(data)} bytes exceeds {MAX_MESSAGE_BYTES}")
    return data


class SequenceCheck:
    """Enforces strictly increasing ``seq`` from one sender (replays and reordering are refused)."""

    def __init__(self) -> None:
        self.last: int | None = None

    def check(self, message: Message) -> None:
        if self.last is not None and message.seq <= self.last:
            raise ProtocolError("out_of_order", f"seq {message.seq} is not above the last accepted seq {self.last}")
        self.last = message.seq


def state_body(state: RobotState, flags: Iterable[str] = ()) -> dict[str, Any]:
    """The fields of a ``state`` message for a RobotState and the safety flags of its tick."""
    body: dict[str, Any] = {
        "time": float(state.time),
        "joint_positions": [float(v) for v in state.joint_positions],
        "joint_velocities": [float(v) for v in state.joint_velocities],
        "gripper_width": float(state.gripper_width),
        "objects": {name: {"position": [float(v) for v in pose.position],
                           "orientation": [float(v) for v in pose.orientation],
                           "half_extents": [float(v) for v in pose.half_extents]}
                    for name, pose in state.objects.items()},
        "flags": sorted(set(flags)),
    }
    if state.joint_torques is not None:
        body["joint_torques"] = [float(v) for v in state.joint_torques]
    return body


def state_from_body(body: Mapping[str, Any]) -> tuple[RobotState, tuple[str, ...]]:
    """Inverse of ``state_body``: the RobotState and its safety flags."""
    objects = {name: ObjectPose(np.array(pose["position"]), np.array(pose["orientation"]),
                                np.array(pose["half_extents"]))
               for name, pose in body["objects"].items()}
    torques = body.get("joint_torques")
    state = RobotState(body["time"], np.array(body["joint_positions"]), np.array(body["joint_velocities"]),
                       body["gripper_width"], objects, None if torques is None else np.array(torques))
    return state, tuple(body["flags"])


__all__ = [
    "ERROR_CODES", "MAX_MESSAGE_BYTES", "MAX_TEXT_CHARS", "PROTOCOL_VERSION", "REPLIES", "REQUESTS", "SAFETY_FLAGS",
    "SCHEMAS", "Message", "ProtocolError", "SequenceCheck", "decode", "decode_unpacked", "describe", "encode",
    "state_body", "state_from_body", "unpack", "validate_body",
]
