"""Hardware bridge: serve any Robot over a versioned ZeroMQ protocol, drive it remotely.

``RobotServer`` runs next to the arm (its driver only has to implement the Robot
protocol) and puts a ``SafetyLayer`` and a watchdog between the network and the motors;
``RobotClient`` is a Robot on the other side, so policies and evaluation code run
unchanged against hardware. The wire format is documented in docs/bridge_protocol.md.
"""

from .auth import CurveKeys, InsecureEndpointError
from .client import BridgeError, BridgeTimeout, RobotClient
from .protocol import MAX_MESSAGE_BYTES, PROTOCOL_VERSION, Message, ProtocolError, decode, encode
from .safety import GuardedRobot, SafetyConfig, SafetyLayer
from .server import RobotServer
from .sessions import Sessions

__all__ = [
    "MAX_MESSAGE_BYTES", "PROTOCOL_VERSION", "BridgeError", "BridgeTimeout", "CurveKeys", "GuardedRobot",
    "InsecureEndpointError", "Message", "ProtocolError", "RobotClient", "RobotServer", "SafetyConfig", "SafetyLayer",
    "Sessions", "decode", "encode",
]
