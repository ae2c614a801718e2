"""Hooks: Python callbacks for connection, pool and log events (``PolyMongo.subscribe``).

The C library runs callbacks on its single event-dispatcher thread, in order, never while it
holds a lock. cffi takes the GIL for each delivery. A callback that raises does not stop
later deliveries: the exception goes to ``sys.unraisablehook`` (printed by default), is kept in
``Subscription.errors``, and is raised again by the next ``PolyMongo.flush_events()``
(pygit2's pattern: the Python exception is stored while C runs and re-raised in Python).
"""

from __future__ import annotations

import atexit
import datetime
import enum
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional, Tuple

from ._ffi import ffi, lib

if TYPE_CHECKING:
    from .client import PolyMongo

__all__ = ["EventType", "Event", "Subscription"]

if TYPE_CHECKING:  # what type checkers see; at run time the members come from the header

    class EventType(enum.IntFlag):
        CONNECT = 1
        DISCONNECT = 2
        ERROR = 4
        POOL_OPENED = 8
        POOL_CLOSED = 16
        POOL_RESIZED = 32
        LOG = 64
        POOL_READY = 1 << 7
        POOL_CLEARED = 1 << 8
        CONNECTION_CREATED = 1 << 9
        CONNECTION_READY = 1 << 10
        CONNECTION_CLOSED = 1 << 11
        CHECKOUT_STARTED = 1 << 12
        CHECKOUT_FAILED = 1 << 13
        CHECKED_OUT = 1 << 14
        CHECKED_IN = 1 << 15
        BUDGET_EXHAUSTED = 1 << 16
        CHECKOUTS = 0xF000
        ALL = 0x1FFFF & ~0xF000
        EVERY = 0x1FFFF

else:
    # Every PM_EVENT_* constant of the compiled header, so a new event type in the C API
    # appears here with no code change.
    EventType = enum.IntFlag(
        "EventType",
        sorted(((n[len("PM_EVENT_"):], getattr(lib, n)) for n in dir(lib) if n.startswith("PM_EVENT_")),
               key=lambda kv: kv[1]),
        module=__name__,
    )
    EventType.__doc__ = "Event types (flags): CONNECT, DISCONNECT, ERROR, POOL_OPENED, ..., ALL."


@dataclass(frozen=True)
class Event:
    """One event, copied out of the C struct (which is only valid during the callback)."""

    type: "EventType"
    db: str
    pool: str
    reason: str
    message: str
    code: int
    timestamp_ms: int
    duration_us: int = 0  # connection ready, check-out events, checked in: how long
    connection_id: int = 0  # connection and check-out events: the connection, unique in its pool

    @property
    def timestamp(self) -> datetime.datetime:
        return datetime.datetime.fromtimestamp(self.timestamp_ms / 1000, datetime.timezone.utc)


def _s(p: Any) -> str:
    return "" if p == ffi.NULL else ffi.string(p).decode("utf-8", "replace")


class Subscription:
    """A registered callback. ``unsubscribe()`` (or leaving a ``with`` block) removes it;
    closing the PolyMongo removes all of its subscriptions."""

    def __init__(self, client: "PolyMongo", callback: Callable[[Event], Any], mask: int,
                 dbs: Tuple[str, ...]) -> None:
        self.client = client
        self.callback = callback
        self.mask = EventType(mask)
        self.dbs = dbs
        self.id: Optional[int] = None
        self.errors: List[BaseException] = []
        self._unraised: List[BaseException] = []
        self._lock = threading.Lock()
        self._unsubscribing = False

    @property
    def active(self) -> bool:
        return self.id is not None

    def _deliver(self, ev: Any) -> None:
        event = Event(EventType(ev.type), _s(ev.db), _s(ev.pool), _s(ev.reason), _s(ev.message),
                      int(ev.code), int(ev.timestamp_ms), int(ev.duration_us), int(ev.connection_id))
        try:
            self.callback(event)
        except BaseException as e:  # noqa: BLE001 - reported, never lost
            with self._lock:
                self.errors.append(e)
                del self.errors[:-100]
                self._unraised.append(e)
            raise  # cffi reports it through sys.unraisablehook; C carries on

    def _take_unraised(self) -> List[BaseException]:
        with self._lock:
            out, self._unraised = self._unraised, []
        return out

    def unsubscribe(self) -> None:
        """Removes the callback (idempotent). Deliveries in progress finish first."""
        self.client._unsubscribe(self)

    def __enter__(self) -> "Subscription":
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()

    def __repr__(self) -> str:
        return f"<polymongo.Subscription id={self.id} events={self.mask!r} dbs={list(self.dbs)}>"


# Subscriptions whose user_data the C library still holds: {id(sub): (sub, handle)}. An entry
# leaves when C calls _pm_py_free_user_data, so the handle outlives every delivery.
_live: Dict[int, Tuple[Subscription, Any]] = {}
_live_lock = threading.Lock()
_finalizing = False


def register(sub: Subscription) -> Any:
    handle = ffi.new_handle(sub)
    with _live_lock:
        _live[id(sub)] = (sub, handle)
    return handle


def forget(sub: Subscription) -> None:
    with _live_lock:
        _live.pop(id(sub), None)


@ffi.def_extern()
def _pm_py_event(event: Any, user_data: Any) -> None:
    if _finalizing:
        return
    sub = ffi.from_handle(user_data)
    sub._deliver(event)


_free_calls = 0  # how many times C called free_user_data (tests check it)


@ffi.def_extern()
def _pm_py_free_user_data(user_data: Any) -> None:
    global _free_calls
    _free_calls += 1
    # C calls this exactly once, when the subscription is gone for good: after unsubscribe,
    # when the wrapper is freed, and on every path where subscribing failed. The handle may go.
    sub = ffi.from_handle(user_data)
    forget(sub)


@atexit.register
def _shutdown() -> None:
    # No Python callback may run once the interpreter starts finalising (a C thread entering
    # Python then would be ended by pthread_exit). atexit runs while Python still works:
    # unsubscribe what is left, then wait for deliveries already under way (flush), after
    # which C holds no Python callback and has released every handle.
    global _finalizing
    with _live_lock:
        subs = [s for s, _ in _live.values()]
    clients = []
    for s in subs:
        try:
            s.unsubscribe()
        except Exception:  # noqa: BLE001 - best effort at exit
            pass
        if s.client not in clients:
            clients.append(s.client)
    for c in clients:
        try:
            if not c.closed:
                c.flush_events(timeout=2.0)
        except BaseException:  # noqa: BLE001 - including exceptions re-raised from callbacks
            pass
    _finalizing = True
