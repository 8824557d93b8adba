"""Sessions of a bridge server: one per ZeroMQ peer identity, bounded so no flood evicts a real client.

A peer that completed ``hello`` (a *ready* session) is never evicted in favour of peers
that did not: new, unauthenticated identities only ever push out other not-yet-ready
ones. Ready sessions are capped too; when the cap is full, a new ``hello`` may take the
place of the ready session idle the longest, and only if it has been idle longer than
``idle_timeout`` (a client whose socket was replaced after a timeout leaves one behind).
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass, field

from .protocol import ProtocolError, SequenceCheck

DEFAULT_MAX_SESSIONS = 16
DEFAULT_MAX_PENDING = 64
DEFAULT_IDLE_TIMEOUT = 30.0  # s


@dataclass
class Session:
    """What the server remembers of one peer."""

    seq: SequenceCheck = field(default_factory=SequenceCheck)
    ready: bool = False  # said a matching hello
    min_delay: float = math.inf  # min(receive time - stamp): clock offset + fastest transit
    last_seen: float = 0.0  # monotonic s of its last request


class Sessions:
    """Ready and pending sessions by peer identity, each kept in least-recently-seen order."""

    def __init__(self, max_sessions: int = DEFAULT_MAX_SESSIONS, max_pending: int = DEFAULT_MAX_PENDING,
                 idle_timeout: float = DEFAULT_IDLE_TIMEOUT) -> None:
        if max_sessions < 1 or max_pending < 1 or idle_timeout <= 0:
            raise ValueError(f"max_sessions ({max_sessions}) and max_pending ({max_pending}) must be at least 1, "
                             f"idle_timeout ({idle_timeout}) positive")
        self.max_sessions = max_sessions
        self.max_pending = max_pending
        self.idle_timeout = idle_timeout
        self._ready: OrderedDict[bytes, Session] = OrderedDict()
        self._pending: OrderedDict[bytes, Session] = OrderedDict()

    def __len__(self) -> int:
        return len(self._ready) + len(self._pending)

    @property
    def ready_count(self) -> int:
        return len(self._ready)

    def get(self, identity: bytes, now: float) -> Session:
        """The session of ``identity`` (a new pending one for a new peer), marked as seen now."""
        for table in (self._ready, self._pending):
            session = table.get(identity)
            if session is not None:
                table.move_to_end(identity)
                session.last_seen = now
                return session
        session = Session(last_seen=now)
        self._pending[identity] = session
        while len(self._pending) > self.max_pending:
            self._pending.popitem(last=False)
        return session

    def promote(self, identity: bytes, now: float) -> None:
        """Mark the session of ``identity`` ready (after a matching hello); raises
        ``session_limit`` when every ready slot is held by a session seen recently."""
        if identity in self._ready:
            return
        if len(self._ready) >= self.max_sessions:
            oldest, session = next(iter(self._ready.items()))
            if now - session.last_seen <= self.idle_timeout:
                raise ProtocolError("session_limit", f"the server already holds {self.max_sessions} ready sessions, "
                                                     f"none idle for more than {self.idle_timeout:g} s")
            del self._ready[oldest]
        session = self._pending.pop(identity, None) or Session(last_seen=now)
        session.ready = True
        self._ready[identity] = session


__all__ = ["DEFAULT_IDLE_TIMEOUT", "DEFAULT_MAX_PENDING", "DEFAULT_MAX_SESSIONS", "Session", "Sessions"]
