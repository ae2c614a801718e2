"""Sessions and transactions (session.h): ``PolyMongo.start_session``, ``session=`` on every
operation (as in pymongo), and ``Db.with_session``.

    a, b = accounts.db("tenant_1"), accounts.db("tenant_2")
    with pm.start_session("tenant_1") as s:

        def transfer(session):
            a.insert_one({"amount": -10}, session=session)
            b.insert_one({"amount": 10}, session=session)
            return "done"

        s.with_transaction(transfer)            # commits; an exception aborts and propagates

        with s.start_transaction(write_concern={"w": "majority"}):
            a.insert_one({"amount": 1}, session=s)   # committed when the block ends normally

``db.with_session(s)`` binds a db to the session once instead (its operations then need no
``session=``); an operation given ``session=s`` runs on such a binding, made on first use and
closed with the session.

A native session keeps one pooled connection until it is closed; every db bound to it must be
served by the session's pool (one cluster), otherwise its operations raise
:class:`~polymongo.errors.InvalidArgument`. A server that cannot run multi-document transactions
(a standalone, FerretDB) refuses to start one with :class:`~polymongo.errors.NotSupported`
before anything is written. A compensating session (``PolyMongo.start_compensating``) spans any
pools and clusters by recording the undo of each write instead (no isolation; see session.h).

The C session is for one thread at a time. Here every use of it, of the dbs bound to it and of
their cursors holds one lock per session, so other threads wait instead of racing; the thread
inside ``with_transaction`` may use them freely from its callback.
"""

from __future__ import annotations

import json
import threading
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, TypeVar

from . import _convert as cv
from ._ffi import Handle, LockedHandle, cstr, ffi, lib, new_error
from .errors import Closed, InternalError, InvalidArgument, PolyMongoError, error_from

if TYPE_CHECKING:
    from .client import Db, PolyMongo

__all__ = ["Session", "Transaction"]

T = TypeVar("T")


def transaction_options(read_concern: Any = None, write_concern: Any = None,
                        read_preference: Any = None, max_commit_time_ms: Optional[int] = None,
                        extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """The C API's transaction options from Python values: ``read_concern="snapshot"`` (or
    ``{"level": ...}``, or pymongo's ``ReadConcern``), ``write_concern={"w": "majority"}`` (or
    ``"majority"``, ``1``, pymongo's ``WriteConcern``), ``read_preference="primary"`` (or
    pymongo's ``ReadPreference.PRIMARY``), ``max_commit_time_ms``."""
    rc: Any = None
    if read_concern is not None:
        if isinstance(read_concern, str):
            rc = {"level": read_concern}
        elif isinstance(read_concern, Mapping):
            rc = dict(read_concern)
        elif isinstance(getattr(read_concern, "document", None), Mapping):
            rc = dict(read_concern.document)
        else:
            raise TypeError("read_concern must be a level such as 'snapshot', {'level': ...} or "
                            f"a pymongo ReadConcern, not {type(read_concern).__name__}")
    wc: Any = None
    if write_concern is not None:
        if isinstance(write_concern, (str, int)) and not isinstance(write_concern, bool):
            wc = {"w": write_concern}
        elif isinstance(write_concern, Mapping):
            wc = dict(write_concern)
        elif isinstance(getattr(write_concern, "document", None), Mapping):
            wc = dict(write_concern.document)
        else:
            raise TypeError("write_concern must be {'w': ..., 'wtimeout': ..., 'j': ...}, a w "
                            f"value or a pymongo WriteConcern, not {type(write_concern).__name__}")
    rp: Any = None
    if read_preference is not None:
        if isinstance(read_preference, str):
            rp = read_preference
        elif isinstance(getattr(read_preference, "mongos_mode", None), str):
            rp = read_preference.mongos_mode
        else:
            raise TypeError("read_preference must be a mode name such as 'primary' or a pymongo "
                            f"read preference, not {type(read_preference).__name__}")
    if max_commit_time_ms is not None and (not isinstance(max_commit_time_ms, int) or
                                           isinstance(max_commit_time_ms, bool)):
        raise TypeError("max_commit_time_ms must be an int")
    return cv.options({"readConcern": rc, "writeConcern": wc, "readPreference": rp,
                       "maxCommitTimeMS": max_commit_time_ms}, extra)


class _Call:
    """One ``with_transaction`` call: the callback, its last result and its exception."""

    __slots__ = ("session", "fn", "result", "exc", "calls")

    def __init__(self, session: "Session", fn: Callable[["Session"], Any]) -> None:
        self.session = session
        self.fn = fn
        self.result: Any = None
        self.exc: Optional[BaseException] = None
        self.calls = 0


@ffi.def_extern(error=1)  # should this wrapper itself fail, the transaction is aborted
def _pm_py_transaction(session: Any, user_data: Any) -> int:
    call: _Call = ffi.from_handle(user_data)
    call.calls += 1
    call.exc = None  # a retried transaction runs the callback again from scratch
    call.result = None
    try:
        call.result = call.fn(call.session)
    except BaseException as e:  # noqa: BLE001 - kept, and raised again once C has aborted
        call.exc = e
        # A failed operation's pm_code (the C contract: C keeps its pm_error and, when it was
        # a TransientTransactionError, runs the transaction again); anything else: abort.
        if isinstance(e, PolyMongoError) and e.pm_code < 0:
            return int(e.pm_code)
        return 1
    return 0


class Transaction:
    """What :meth:`Session.start_transaction` returns. The transaction has started already;
    used as a context manager it commits when the block ends normally and aborts when it
    raises (unless the block committed or aborted it itself)."""

    __slots__ = ("session",)

    def __init__(self, session: "Session") -> None:
        self.session = session

    def __enter__(self) -> "Session":
        return self.session

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        s = self.session
        if not s.in_transaction:
            return
        if exc_type is None:
            s.commit_transaction()
            return
        try:
            s.abort_transaction()
        except PolyMongoError:
            pass  # the block's exception is the one that matters; it propagates


class Session:
    """A session: native (``PolyMongo.start_session``) or compensating
    (``PolyMongo.start_compensating``).

    Pass it to an operation as pymongo does (``db.insert_one(doc, session=s)``), or bind a
    db to it once with :meth:`Db.with_session`; run transactions with
    :meth:`with_transaction` (the callback form, with retries of transient errors) or
    :meth:`start_transaction` / :meth:`commit_transaction` / :meth:`abort_transaction`.
    ``close()`` (or leaving a ``with`` block) aborts an open transaction, releases the
    connection, and closes the dbs and cursors bound to the session; their later use raises
    :class:`~polymongo.errors.Closed`. Closing the PolyMongo closes its sessions too (``pm_wrapper_close``).
    """

    __slots__ = ("_h", "_lock", "_children", "_bound", "client", "compensating", "database",
                 "__weakref__")

    def __init__(self, client: "PolyMongo", ptr: Any, *, compensating: bool,
                 database: Optional[str]) -> None:
        self._lock = threading.RLock()
        self._h = LockedHandle(ptr, lib.pm_session_free, "session", self._lock)
        self._children: "weakref.WeakSet[Handle]" = weakref.WeakSet()
        # The dbs that operations given session=self run on, by the db they were called on
        # (Db._in): bound once, closed with the session.
        self._bound: "weakref.WeakKeyDictionary[Db, Db]" = weakref.WeakKeyDictionary()
        self.client = client
        self.compensating = compensating
        self.database = database

    def _adopt(self, ptr: Any, free: Callable[[Any], None], what: str) -> LockedHandle:
        """The handle of a db or cursor that runs in this session (closed with it)."""
        h = LockedHandle(ptr, free, what, self._lock)
        if self._h.closed:
            h.close()
            raise Closed("this session is closed", pm_code=lib.PM_ECLOSED)
        self._children.add(h)
        return h

    # ---- transactions ------------------------------------------------------------------------
    @property
    def in_transaction(self) -> bool:
        """True between the start of a transaction and its commit or abort."""
        try:
            with self._h as ptr:
                return bool(lib.pm_session_in_transaction(ptr))
        except Closed:
            return False

    def _opts(self, explicit: Dict[str, Any]) -> cv.Arg:
        return cv.opt_arg(explicit, self.client._dict_codec, "transaction options")

    def start_transaction(self, *, read_concern: Any = None, write_concern: Any = None,
                          read_preference: Any = None, max_commit_time_ms: Optional[int] = None,
                          **options: Any) -> Transaction:
        """Starts a transaction (the options override the session's defaults). Returns a
        :class:`Transaction`, a context manager that commits or aborts it. Raises
        :class:`~polymongo.errors.NotSupported` on a server without transactions."""
        o = self._opts(transaction_options(read_concern, write_concern, read_preference,
                                           max_commit_time_ms, options))
        self._status(lib.pm_session_start_transaction, o.ptr, o.len)
        return Transaction(self)

    def commit_transaction(self) -> None:
        """Commits the transaction: its writes become visible to everyone, together."""
        self._status(lib.pm_session_commit)

    def abort_transaction(self) -> None:
        """Aborts the transaction: none of its writes remain (a compensating session undoes
        them, newest first; see :meth:`rollback_report`)."""
        self._status(lib.pm_session_abort)

    commit = commit_transaction
    abort = abort_transaction

    def with_transaction(self, callback: Callable[["Session"], T], *,
                         timeout: Optional[float] = None, read_concern: Any = None,
                         write_concern: Any = None, read_preference: Any = None,
                         max_commit_time_ms: Optional[int] = None, **options: Any) -> T:
        """Runs ``callback(session)`` in a transaction and commits it; returns what the
        callback returned.

        An exception raised by the callback aborts the transaction and propagates (the same
        exception object, once C has aborted). When an operation failed with a transient
        transaction error (a write conflict) and the callback let it propagate, the whole
        transaction runs again, callback included; an unknown commit result retries the
        commit; both for up to ``timeout`` seconds (default 120). The callback runs on the
        calling thread. A callback that commits or aborts the transaction itself ends it
        there."""
        if not callable(callback):
            raise TypeError("callback must be callable (it receives the session)")
        if timeout is None:
            timeout_ms = 0
        elif isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
            raise TypeError("timeout must be a number of seconds")
        elif timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        else:
            timeout_ms = max(1, int(timeout * 1000))
        o = self._opts(transaction_options(read_concern, write_concern, read_preference,
                                           max_commit_time_ms, options))
        call = _Call(self, callback)
        handle = ffi.new_handle(call)
        err = new_error()
        with self._h as ptr:
            rc = lib.pm_session_with_transaction(ptr, lib._pm_py_transaction, handle, o.ptr,
                                                 o.len, timeout_ms, err)
        if rc == lib.PM_OK:
            result: T = call.result
            return result
        exc, call.exc = call.exc, None
        if exc is not None:
            try:
                raise exc
            finally:
                del exc
        if rc < 0:
            raise error_from(rc, err)
        raise InternalError(f"with_transaction returned {rc} without an exception from the callback")

    def rollback_report(self) -> Optional[Dict[str, Any]]:
        """What the last rollback of a compensating session did: ``{"txn", "steps": [{"seq",
        "db", "collection", "undo", "documents", "ok", "error"?}], "failedSteps"}``; None when
        nothing was rolled back. A native session has none (:class:`InvalidArgument`)."""
        out = ffi.new("char **")
        with self._h as ptr:
            rc = lib.pm_session_rollback_report(ptr, out)
        try:
            if rc == lib.PM_EINVAL:
                raise InvalidArgument("only a compensating session has a rollback report",
                                      pm_code=rc)
            if rc < 0:
                raise error_from(rc, new_error())
            text = cstr(out[0])
            return None if text is None else json.loads(text)
        finally:
            lib.pm_free(out[0])

    def _status(self, fn: Callable[..., int], *args: Any) -> None:
        err = new_error()
        with self._h as ptr:
            rc = fn(ptr, *args, err)
        if rc < 0:
            raise error_from(rc, err)

    # ---- lifetime ----------------------------------------------------------------------------
    def close(self) -> None:
        """Aborts an open transaction and ends the session (idempotent); the dbs and cursors
        bound to it are closed too. A call in flight on another thread finishes first."""
        for child in list(self._children):
            child.close()
        self._children.clear()
        self._bound.clear()
        self._h.close()

    end_session = close

    @property
    def closed(self) -> bool:
        """Ended, or its PolyMongo is closed (then every call fails with Closed in C)."""
        return self._h.closed or self.client.closed

    def __enter__(self) -> "Session":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        kind = "compensating" if self.compensating else f"on {self.database!r}"
        state = "closed" if self.closed else ("in transaction" if self.in_transaction else "idle")
        return f"<polymongo.Session {kind} {state}>"
