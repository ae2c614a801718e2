"""PolyMongo (the wrapper), Model (a collection definition) and Db (a model bound to a database).

Every method is a thin, mechanical layer over one ``pm_*`` call: convert the arguments
(documents to BSON bytes, options to an options document), make the call holding the handle
(which releases the GIL), convert the outputs, and map a negative return code to an exception.
"""

from __future__ import annotations

import enum
import json
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from typing import (TYPE_CHECKING, Any, Callable, Dict, Iterable, List, Optional, Sequence, Type,
                    TypeVar, Union, cast)

from bson.codec_options import CodecOptions

from . import _convert as cv
from ._ffi import Handle, cstr, ffi, in_flight, lib, new_error
from .cursor import Cursor
from . import events as _events
from .events import Event, EventType, Subscription
from .errors import Closed, InvalidArgument, InvalidDatabaseName, error_from
from .operations import write_model
from .session import Session, transaction_options
from . import stream as _stream
from .stream import ChangeStream
from . import transfer as _transfer
from .results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
    _WriteResultBase,
)

__all__ = ["PolyMongo", "Model", "Db", "Session", "ReturnDocument", "ConnectionState",
           "bson_to_json", "json_to_bson", "version"]

Filter = Optional[Mapping[str, Any]]
_R = TypeVar("_R", bound=_WriteResultBase)  # the result class a write returns

if TYPE_CHECKING:  # what type checkers see; at run time the members come from the header

    class ConnectionState(enum.IntEnum):
        NOT_INITIALIZED = 0
        CONNECTING = 1
        CONNECTED = 2
        DISCONNECTING = 3
        DISCONNECTED = 4

else:
    # Every PM_STATE_* constant of the compiled header, like EventType.
    ConnectionState = enum.IntEnum(
        "ConnectionState",
        sorted(((n[len("PM_STATE_"):], getattr(lib, n)) for n in dir(lib) if n.startswith("PM_STATE_")),
               key=lambda kv: kv[1]),
        module=__name__,
    )
    ConnectionState.__doc__ = "The shared pool's state (PolyMongo's getConnectionState)."


class ReturnDocument(str, enum.Enum):
    """Which document the find_one_and_* methods return. pymongo's ``ReturnDocument.AFTER``
    (True) and ``BEFORE`` (False) and the strings "after"/"before" are accepted too."""

    BEFORE = "before"
    AFTER = "after"


def version() -> str:
    """The version of the loaded libpolymongo."""
    return cstr(lib.pm_version()) or ""


def json_to_bson(text: str) -> bytes:
    """Extended JSON (relaxed or canonical) to BSON bytes, with the C library's parser."""
    src = cv.c_name(text, "json")
    buf = ffi.new("pm_buf *")
    err = new_error()
    rc = lib.pm_json_to_bson(src, buf, err)
    try:
        if rc < 0:
            raise error_from(rc, err)
        data: bytes = ffi.buffer(buf.data, buf.len)[:]
        return data
    finally:
        lib.pm_buf_free(buf)


def bson_to_json(data: Union[bytes, bytearray, memoryview, Mapping[str, Any]], canonical: bool = False) -> str:
    """BSON bytes (or a document) to Extended JSON: relaxed, or canonical (type-exact)."""
    raw = cv.encode(data, cv.DEFAULT_CODEC_OPTIONS)
    mode = lib.PM_JSON_CANONICAL if canonical else lib.PM_JSON_RELAXED
    out = lib.pm_bson_to_json(ffi.from_buffer(raw), len(raw), mode)
    if out == ffi.NULL:
        raise InvalidArgument("not a valid BSON document")
    try:
        text: str = ffi.string(out).decode("utf-8")
        return text
    finally:
        lib.pm_free(out)


# Option names whose Python spelling is not the camelCase of the C API's: a duration in
# milliseconds ends in _ms in Python (idle_timeout_ms, max_time_ms, ttl_ms), whatever C calls it.
_C_NAMES = {"ttl_ms": "ttl", "ttlMS": "ttl"}
# Earlier spellings, still accepted with a DeprecationWarning: {old: the one spelling}.
_DEPRECATED_NAMES = {"ttl": "ttl_ms"}
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def _warn_deprecated(old: str, new: str) -> None:
    """A DeprecationWarning attributed to the caller's own line (the first frame outside
    this package)."""
    frame = sys._getframe(1)
    level = 2
    while frame.f_back is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == _PACKAGE_DIR:
        frame = frame.f_back
        level += 1
    warnings.warn(f"the option {old!r} is spelt {new!r} (a duration in milliseconds, like "
                  f"idle_timeout_ms); {old!r} is deprecated and will be removed",
                  DeprecationWarning, stacklevel=level)


def _option_name(k: Any) -> Any:
    if not isinstance(k, str):
        return k
    c_name = _C_NAMES.get(k)
    if c_name is not None:
        return c_name
    if k in _DEPRECATED_NAMES:
        _warn_deprecated(k, _DEPRECATED_NAMES[k])
    return cv.camel(k)


def _camel_tree(value: Any) -> Any:
    """snake_case keys to camelCase throughout (for option trees such as dbSpecific), with the
    binding's own spellings (``ttl_ms``) turned into the C API's names."""
    if isinstance(value, Mapping):
        return {_option_name(k): _camel_tree(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_camel_tree(v) for v in value]
    return value



@ffi.def_extern(error=1)
def _pm_py_placement(db: Any, clusters_json: Any, cluster: Any, cap: int, user_data: Any) -> int:
    # PolyMongo.set_placement's function: any failure (an exception, a name too long) is a
    # failed placement, reported by C as InvalidArgument.
    try:
        choose = ffi.from_handle(user_data)
        name = choose(ffi.string(db).decode(), json.loads(ffi.string(clusters_json).decode()))
        raw = name.encode() if isinstance(name, str) else b""
    except BaseException:  # noqa: BLE001 - the placement fails instead
        return 1
    if not raw or len(raw) + 1 > cap:
        return 1
    ffi.memmove(cluster, raw + b"\0", len(raw) + 1)
    return 0


class PolyMongo:
    """Many MongoDB databases over a few pooled connections.

    Options are keyword arguments in snake_case, mapped to the C API's JSON option names
    (``mongo_uri`` -> ``mongoURI``, ``max_pool_size`` -> ``maxPoolSize``, ...); options not
    listed here may be given the same way (``**extra_options``) and reach the C library, which
    refuses unknown names with :class:`InvalidArgument`.

    Thread-safety: share one instance per process; every method may be called from any thread.
    ``close()`` (or leaving a ``with`` block) closes this instance and everything made from it
    for good: their later use raises :class:`Closed` (the C library's ``pm_wrapper_close``).
    """

    def __init__(
        self,
        mongo_uri: Optional[str] = None,
        *,
        default_db: Optional[str] = None,
        max_pool_size: Optional[int] = None,
        min_free_connections: Optional[int] = None,
        idle_timeout_ms: Optional[int] = None,
        cold_start: Optional[bool] = None,
        retry: Optional[int] = None,
        debug: Optional[bool] = None,
        log_path: Optional[str] = None,
        db_specific: Optional[Sequence[Mapping[str, Any]]] = None,
        allow_system_databases: Optional[bool] = None,
        recover_on_start: Optional[bool] = None,
        journal_db: Optional[str] = None,
        codec_options: Optional[CodecOptions[Any]] = None,
        **extra_options: Any,
    ) -> None:
        self._h: Optional[Handle] = None
        if mongo_uri is not None and not isinstance(mongo_uri, str):
            raise TypeError(f"mongo_uri must be a str, not {type(mongo_uri).__name__}")
        if db_specific is not None and (isinstance(db_specific, (str, Mapping)) or
                                        not isinstance(db_specific, Iterable)):
            raise TypeError("db_specific must be a list of {db_name, mongo_uri?, options?} dicts")
        if codec_options is not None and not isinstance(codec_options, CodecOptions):
            raise TypeError("codec_options must be a bson.codec_options.CodecOptions")
        opts = cv.options(
            {
                "mongoURI": mongo_uri,
                "defaultDB": default_db,
                "maxPoolSize": max_pool_size,
                "minFreeConnections": min_free_connections,
                "idleTimeoutMS": idle_timeout_ms,
                "coldStart": cold_start,
                "retry": retry,
                "debug": debug,
                "logPath": log_path,
                "dbSpecific": _camel_tree(list(db_specific)) if db_specific is not None else None,
                "allowSystemDatabases": allow_system_databases,
                "recoverOnStart": recover_on_start,
                "journalDb": journal_db,
            },
            _camel_tree(extra_options),
        )
        try:
            text = json.dumps(opts)
        except (TypeError, ValueError) as e:
            raise TypeError(f"PolyMongo options must be JSON values: {e}") from None
        self.codec_options: CodecOptions[Any] = codec_options or cv.DEFAULT_CODEC_OPTIONS
        # Result and reply documents are always read as dicts, whatever document_class is.
        self._dict_codec = self.codec_options.with_options(document_class=dict)
        self._lock = threading.Lock()
        self._placements: List[Any] = []  # the handles of set_placement's functions
        self._subs: List[Subscription] = []
        out = ffi.new("pm_wrapper **")
        err = new_error()
        rc = lib.pm_wrapper_new(text.encode("utf-8"), out, err)
        if rc < 0:
            raise error_from(rc, err)
        self._h = Handle(out[0], lib.pm_wrapper_free, "PolyMongo")

    # ---- lifecycle ---------------------------------------------------------------------------
    def close(self) -> None:
        """Closes this instance for good (``pm_wrapper_close``): the pools close now, and every
        later operation of it and of every model, db, cursor, session and change stream made
        from it raises :class:`Closed`; results already returned stay readable. Idempotent.

        The C library enforces all of it; this method only stops event callbacks first, then
        lets go of the wrapper handle (freed once calls in flight on it have returned)."""
        if self._h is None or self._h.closed:
            return
        with self._lock:
            subs = list(self._subs)
        for sub in subs:  # no callback runs after close() returns
            try:
                self._unsubscribe(sub)
            except Closed:
                pass
        try:
            self._status(lib.pm_wrapper_close)
        except Closed:
            return  # another thread closed it meanwhile
        self._h.close()

    @property
    def closed(self) -> bool:
        return self._h is None or self._h.closed

    def _closed_flag(self) -> bool:  # closed, in one attribute read (Model.db's cached path)
        h = self._h
        return h is None or h._closed

    def __enter__(self) -> "PolyMongo":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        if self.closed:
            return "<polymongo.PolyMongo closed>"
        return f"<polymongo.PolyMongo default_db={self.default_db!r}>"

    # ---- wrapper-level calls -----------------------------------------------------------------
    @property
    def default_db(self) -> Optional[str]:
        """The database used by ``model.db()`` with no name: the ``default_db`` option, else the
        database in the URI's path, else None (then ``model.db()`` raises
        :class:`InvalidDatabaseName`)."""
        assert self._h is not None
        with self._h as ptr:
            return cstr(lib.pm_wrapper_default_db(ptr)) or None

    def check_db_name(self, name: str) -> None:
        """Raises :class:`InvalidDatabaseName` unless ``name`` is acceptable (no I/O)."""
        raw = _db_name(name)
        err = new_error()
        assert self._h is not None
        with self._h as ptr:
            rc = lib.pm_wrapper_check_db_name(ptr, raw, err)
        if rc < 0:
            raise error_from(rc, err)

    def _status(self, fn: Callable[..., int], *args: Any) -> None:
        err = new_error()
        assert self._h is not None
        with self._h as ptr:
            rc = fn(ptr, *args, err)
        if rc < 0:
            raise error_from(rc, err)

    # ---- scaling, routing, shutdown (lifecycle.h) ------------------------------------------
    @staticmethod
    def _pool_spec(mongo_uri: Optional[str], max_connections: Optional[int],
                   cold_start: Optional[bool], auto_close: Optional[bool], ttl_ms: Optional[int],
                   extra: Mapping[str, Any]) -> Any:
        extra_tree = _camel_tree(extra)  # ttl= (deprecated) warns here
        if ttl_ms is not None and "ttl" in extra_tree:
            raise TypeError("give ttl_ms only (ttl is its deprecated spelling)")
        spec = cv.options({"mongoURI": mongo_uri, "maxConnections": max_connections,
                           "coldStart": cold_start, "autoClose": auto_close, "ttl": ttl_ms},
                          extra_tree)
        return json.dumps(spec).encode("utf-8") if spec else ffi.NULL

    def set_db(self, names: Union[str, Sequence[str]], *, mongo_uri: Optional[str] = None,
               max_connections: Optional[int] = None, cold_start: Optional[bool] = None,
               auto_close: Optional[bool] = None, ttl_ms: Optional[int] = None,
               **extra: Any) -> None:
        """Gives each named database a dedicated pool (PolyMongo's ``scale.setDB``);
        ``mongo_uri`` may name another cluster; with ``auto_close`` the pool closes after
        ``ttl_ms`` unused and reopens on the next use."""
        arr = _StrArray(names, "names")
        spec = self._pool_spec(mongo_uri, max_connections, cold_start, auto_close, ttl_ms, extra)
        self._status(lib.pm_wrapper_set_db, arr.ptrs, arr.n, spec)

    def connect_db(self, names: Union[str, Sequence[str]], *, mongo_uri: Optional[str] = None,
                   max_connections: Optional[int] = None, auto_close: Optional[bool] = None,
                   ttl_ms: Optional[int] = None, **extra: Any) -> None:
        """Like :meth:`set_db`, and connects now (``scale.connectDB``)."""
        arr = _StrArray(names, "names")
        spec = self._pool_spec(mongo_uri, max_connections, None, auto_close, ttl_ms, extra)
        self._status(lib.pm_wrapper_connect_db, arr.ptrs, arr.n, spec)

    def add_route(self, match: str, *, mongo_uri: Optional[str] = None,
                  options: Optional[Mapping[str, Any]] = None, shared_pool: Optional[bool] = None,
                  **extra: Any) -> None:
        """Routes databases whose name matches the glob ``match`` ("tenant_eu_*") to their own
        pools (or, with ``shared_pool=True``, to one pool for all of them)."""
        route = cv.options({"match": match, "mongoURI": mongo_uri,
                            "options": _camel_tree(options) if options is not None else None,
                            "sharedPool": shared_pool}, _camel_tree(extra))
        self._status(lib.pm_wrapper_add_route, json.dumps(route).encode("utf-8"))

    def set_tenant_limits(self, db: Optional[str] = None,
                          limits: Optional[Mapping[str, Any]] = None) -> None:
        """Sets a database's share of its pool at run time (``db=None``: every database's
        default): ``{"max_concurrent": 2, "rate_per_second": 50, "burst": 100, "on_limit": "wait"
        | "fail", "max_wait_ms": 1000}`` (snake_case or camelCase keys). Over a limit an operation
        waits up to ``max_wait_ms`` or fails at once, raising :class:`Throttled` either way.
        ``limits=None`` removes the database's own limits (for the default: no limits)."""
        raw = _db_name(db) if db is not None else ffi.NULL
        spec = json.dumps(cv.options({}, _camel_tree(limits))).encode("utf-8") if limits is not None else ffi.NULL
        self._status(lib.pm_wrapper_set_tenant_limits, raw, spec)

    def close_all(self, timeout: float = 10.0) -> None:
        """Closes every pool, letting operations in flight finish (waits up to ``timeout``
        seconds per pool; :class:`Timeout` if some connections were still out). Reversible: the
        next operation reopens what it needs. Compare :meth:`close`, which is final."""
        self._status(lib.pm_wrapper_close_all, int(timeout * 1000))

    def force_close_all(self) -> None:
        """Closes every pool now; waiting operations and open cursors fail with
        :class:`Closed`. Reversible, like :meth:`close_all`."""
        self._status(lib.pm_wrapper_force_close_all)

    @property
    def open_pools(self) -> int:
        """Pools (shared and dedicated) currently open."""
        assert self._h is not None
        with self._h as ptr:
            return int(lib.pm_wrapper_open_pools(ptr))

    @property
    def evictions(self) -> int:
        """Dedicated pools closed to stay within the max_open_pools option."""
        assert self._h is not None
        with self._h as ptr:
            return int(lib.pm_wrapper_evictions(ptr))

    def handle_signals(self, timeout: float = 10.0) -> None:
        """Opt-in graceful shutdown: on SIGINT/SIGTERM close the pools (waiting up to
        ``timeout`` seconds), then hand the signal to the handler installed before (Python's
        own, e.g. KeyboardInterrupt for SIGINT)."""
        self._status(lib.pm_wrapper_handle_signals, int(timeout * 1000))

    # ---- health (health.h) -----------------------------------------------------------------
    @property
    def state(self) -> "ConnectionState":
        """The shared pool's :class:`ConnectionState`."""
        assert self._h is not None
        with self._h as ptr:
            return ConnectionState(lib.pm_wrapper_state(ptr))

    @property
    def is_connected(self) -> bool:
        assert self._h is not None
        with self._h as ptr:
            return bool(lib.pm_wrapper_is_connected(ptr))

    def ping(self, db: Optional[str] = None) -> float:
        """Pings ``db`` (default: the default database) through the pool that serves it and
        returns the round-trip time in milliseconds."""
        raw = ffi.NULL if db is None else _db_name(db)
        out = ffi.new("double *")
        self._status(lib.pm_wrapper_ping, raw, out)
        return float(out[0])

    # ---- statistics (stats.h) --------------------------------------------------------------
    def _string_call(self, fn: Callable[..., int], *args: Any) -> str:
        out = ffi.new("char **")
        self._status(fn, *args, out)
        try:
            return cstr(out[0]) or ""
        finally:
            lib.pm_free(out[0])

    def stats(self) -> Dict[str, Any]:
        """Pools, connections (open, in use, idle, waiting), pinned cursors, errors, response
        times and totals, as a dict (see stats.h for the fields)."""
        stats: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_stats))
        return stats

    def db_stats(self, db: Optional[str] = None) -> Dict[str, Any]:
        """One database's statistics from the server (dbStats/collStats) plus its pool."""
        raw = ffi.NULL if db is None else _db_name(db)
        stats: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_db_stats, raw))
        return stats

    def list_databases(self) -> List[Dict[str, Any]]:
        """The server's databases: [{"name", "sizeMb", "empty"}]."""
        dbs: List[Dict[str, Any]] = json.loads(self._string_call(lib.pm_wrapper_list_databases))
        return dbs

    def usage(self, top_n: int = 0) -> List[Dict[str, Any]]:
        """Per-database usage, most used first: [{"db", "operations", "errors", "lastUsedMs",
        "meanLatencyMs", "throttled", "queued"}]; ``top_n=0`` lists every database."""
        if not isinstance(top_n, int) or top_n < 0:
            raise ValueError("top_n must be an int >= 0")
        usage: List[Dict[str, Any]] = json.loads(self._string_call(lib.pm_wrapper_usage, top_n))
        return usage

    def prometheus(self) -> str:
        """The metrics in the Prometheus text exposition format (0.0.4), e.g. to serve from a
        /metrics endpoint."""
        return self._string_call(lib.pm_wrapper_prometheus)

    # ---- admin actions (admin.h) -----------------------------------------------------------
    def _flag_call(self, fn: Callable[..., int], name: str) -> bool:
        err = new_error()
        assert self._h is not None
        with self._h as ptr:
            rc = fn(ptr, name.encode(), err)
        if rc < 0:
            raise error_from(rc, err)
        return rc == 1

    def pause(self, name: str) -> bool:
        """Pauses a database or a pool (by name): its operations wait, up to pauseTimeoutMS,
        until :meth:`resume`. False when it was paused already."""
        return self._flag_call(lib.pm_wrapper_pause, name)

    def resume(self, name: str) -> bool:
        """Ends a pause; False when ``name`` was not paused."""
        return self._flag_call(lib.pm_wrapper_resume, name)

    def explain_route(self, db: str) -> Dict[str, Any]:
        """Where ``db`` routes and why: {"pool", "cluster" (redacted), "reason": "exact" |
        "rule" | "shared", "why", "rule", ...}. No I/O."""
        route: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_explain_route, db.encode()))
        return route

    # ---- the tenant fleet (fleet.h; docs/fleet.md) -----------------------------------------
    def tenants(self) -> List[Dict[str, Any]]:
        """The tenant directory's entries, read from the catalog now."""
        entries: List[Dict[str, Any]] = json.loads(self._string_call(lib.pm_wrapper_tenants))
        return entries

    def tenant(self, db: str) -> Optional[Dict[str, Any]]:
        """One entry of the directory, or None."""
        entry: Optional[Dict[str, Any]] = json.loads(self._string_call(lib.pm_wrapper_tenant, _db_name(db)))
        return entry

    def place_tenant(self, db: str, cluster: Optional[str] = None) -> Dict[str, Any]:
        """Places a database with no entry (on ``cluster``, or by the placement policy); the
        entry the catalog holds afterwards (an existing one wins)."""
        raw = ffi.NULL if cluster is None else cluster.encode()
        entry: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_place_tenant, _db_name(db), raw))
        return entry

    def set_placement(self, choose: Optional[Callable[[str, List[Dict[str, Any]]], str]]) -> None:
        """Sets the function of the ``callback`` placement policy (``directory.placement.policy``):
        ``choose(db, clusters)`` gets the database to place and the clusters as
        ``[{"name", "tenants"}]`` (tenants: entries in the catalog), in the configured order, and
        returns one cluster's name. Any other name, or an exception, fails the placement (and
        the operation that caused it) with :class:`InvalidArgument`. It runs on the thread of
        the operation that meets a database with no entry, possibly on several at once. None
        removes it (placements by ``callback`` then fail)."""
        if choose is None:
            self._status(lib.pm_wrapper_set_placement, ffi.NULL, ffi.NULL)
            return
        if not callable(choose):
            raise TypeError("set_placement takes a callable or None")
        handle = ffi.new_handle(choose)
        self._status(lib.pm_wrapper_set_placement, lib._pm_py_placement, handle)
        # Kept while the wrapper lives: a placement that started with an earlier function may
        # still be running it.
        self._placements.append(handle)

    def move_tenant(self, db: str, to: str) -> Dict[str, Any]:
        """Moves a tenant to the cluster ``to``, online; the report. Writes to it meanwhile
        wait, then raise :class:`Moving` (retryable)."""
        report: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_move_tenant, _db_name(db), to.encode()))
        return report

    def reverse_move(self, db: str) -> Dict[str, Any]:
        """Moves a tenant back to the cluster its last move left."""
        report: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_reverse_move, _db_name(db)))
        return report

    def complete_move(self, db: str) -> Dict[str, Any]:
        """Drops the copy a move left on the source; the entry afterwards."""
        entry: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_complete_move, _db_name(db)))
        return entry

    def abort_move(self, db: str) -> Dict[str, Any]:
        """Rolls back a move in progress; the entry afterwards."""
        entry: Dict[str, Any] = json.loads(self._string_call(lib.pm_wrapper_abort_move, _db_name(db)))
        return entry

    def drain_pool(self, pool: str, timeout_ms: int = 5000) -> None:
        """Drains and closes a pool (by name): new checkouts wait while the connections out
        come back, then it closes; TimeoutError-like PolyMongoError when some were still out."""
        if not isinstance(timeout_ms, int) or timeout_ms < 0:
            raise ValueError("timeout_ms must be an int >= 0")
        self._status(lib.pm_wrapper_drain_pool, pool.encode(), timeout_ms)

    def reload_routes(self, routes: Sequence[Mapping[str, Any]]) -> None:
        """Replaces the routing rules ({match, mongo_uri?, options?, shared_pool?} each)."""
        self._status(lib.pm_wrapper_reload_routes, json.dumps(_camel_tree(list(routes))).encode())

    def admin_url(self) -> str:
        """The admin endpoint's base URL, or "" when the admin option is not set."""
        return self._string_call(lib.pm_wrapper_admin_url)

    # ---- hooks (events.h) ------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], Any], events: int = EventType.ALL,
                  dbs: Optional[Sequence[str]] = None) -> Subscription:
        """Calls ``callback(event)`` for each event of the types in ``events`` (an
        :class:`EventType` combination) about the databases in ``dbs`` (None: all, and events
        about no database). Callbacks run on polymongo's event thread, one at a time."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        if not isinstance(events, int):
            raise TypeError("events must be an EventType combination")
        names = tuple(dbs) if dbs is not None else ()
        if isinstance(dbs, str):
            names = (dbs,)
        arr = _StrArray(names, "dbs", allow_empty=True)
        sub = Subscription(self, callback, int(events), names)
        handle = _events.register(sub)
        out = ffi.new("uint64_t *")
        err = new_error()
        assert self._h is not None
        try:
            with self._h as ptr:
                rc = lib.pm_wrapper_subscribe(ptr, int(events), arr.ptrs, arr.n, lib._pm_py_event,
                                              handle, lib._pm_py_free_user_data, out, err)
        except BaseException:
            _events.forget(sub)  # closed: C never saw the handle
            raise
        if rc < 0:
            # C has called free_user_data already (it does on every failure path), which
            # dropped the registry entry; nothing is left to release here.
            sub._unsubscribing = True
            raise error_from(rc, err)
        sub.id = int(out[0])
        with self._lock:
            self._subs.append(sub)
        return sub

    def on_db_connect(self, callback: Callable[[Event], Any],
                      dbs: Optional[Sequence[str]] = None) -> Subscription:
        """PolyMongo's onDbConnect / onTheseDBConnect (with ``dbs``)."""
        return self.subscribe(callback, EventType.CONNECT, dbs)

    def on_db_disconnect(self, callback: Callable[[Event], Any],
                         dbs: Optional[Sequence[str]] = None) -> Subscription:
        """PolyMongo's onDbDisconnect."""
        return self.subscribe(callback, EventType.DISCONNECT, dbs)

    def _unsubscribe(self, sub: Subscription) -> None:
        with self._lock:
            if sub.id is None:
                return
            sub_id, sub.id = sub.id, None
            sub._unsubscribing = True
            if sub in self._subs:
                self._subs.remove(sub)
        if self._h is None or self._h.closed:
            return
        self._status(lib.pm_wrapper_unsubscribe, sub_id)

    def flush_events(self, timeout: float = 5.0) -> None:
        """Waits until every event raised so far has been delivered (:class:`Timeout` after
        ``timeout`` seconds), then raises the first exception a callback raised since the last
        flush, if any."""
        self._status(lib.pm_wrapper_flush_events, int(timeout * 1000))
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            pending = sub._take_unraised()
            if pending:
                raise pending[0]

    @property
    def dropped_events(self) -> int:
        """Deliveries lost: callbacks that failed in C++ subscribers, or queue overflow."""
        assert self._h is not None
        with self._h as ptr:
            return int(lib.pm_wrapper_dropped_events(ptr))

    # ---- sessions and transactions (session.h) ---------------------------------------------
    def start_session(self, db: Optional[str] = None, *, causal_consistency: Optional[bool] = None,
                      read_concern: Any = None, write_concern: Any = None,
                      read_preference: Any = None, max_commit_time_ms: Optional[int] = None,
                      **options: Any) -> Session:
        """A native :class:`Session` on the pool serving ``db`` (None: the default database).
        It holds one pooled connection until closed: use ``with pm.start_session(...) as s``.
        The transaction options given here are the defaults of its transactions."""
        raw = ffi.NULL if db is None else _db_name(db)
        opts = transaction_options(read_concern, write_concern, read_preference,
                                   max_commit_time_ms, options)
        if causal_consistency is not None:
            opts["causalConsistency"] = bool(causal_consistency)
        o = cv.opt_arg(opts, self._dict_codec, "session options")
        out = ffi.new("pm_session **")
        self._status(lib.pm_wrapper_start_session, raw, o.ptr, o.len, out)
        return Session(self, out[0], compensating=False,
                       database=db if db else self.default_db)

    def start_compensating(self, *, journal: Optional[bool] = None,
                           journal_db: Optional[str] = None, **options: Any) -> Session:
        """A compensating :class:`Session`: transactions across any pools and clusters that
        record the undo of each write and roll back by applying it (no isolation: others see
        the writes before commit). With ``journal`` (default on) the undo records are written
        to ``journal_db`` first, so that :meth:`recover` can roll back after a crash."""
        o = cv.opt_arg(cv.options({"journal": journal, "journalDb": journal_db}, options),
                       self._dict_codec, "compensating options")
        out = ffi.new("pm_session **")
        self._status(lib.pm_wrapper_start_compensating, o.ptr, o.len, out)
        return Session(self, out[0], compensating=True, database=None)

    def recover(self, older_than_ms: int = 0) -> Dict[str, Any]:
        """Rolls back the compensating transactions that crashed processes left open in the
        journals of every cluster this instance knows, if older than ``older_than_ms``.
        Returns ``{"recovered": [{"txn", "cluster", "undone", "failed"}]}``."""
        if not isinstance(older_than_ms, int) or isinstance(older_than_ms, bool):
            raise TypeError("older_than_ms must be an int")
        text = self._string_call(lib.pm_wrapper_recover, older_than_ms)
        return json.loads(text) if text else {"recovered": []}

    # ---- change streams (stream.h) ----------------------------------------------------------
    def watch_database(self, db: Optional[str] = None, pipeline: Optional[Any] = None, *,
                       full_document: Optional[str] = None,
                       full_document_before_change: Optional[str] = None,
                       resume_after: Any = None, start_after: Any = None,
                       start_at_operation_time: Any = None,
                       max_await_time_ms: Optional[int] = None,
                       batch_size: Optional[int] = None, **options: Any) -> ChangeStream:
        """A :class:`ChangeStream` of every collection of database ``db`` (None: the default).
        Needs a replica set; FerretDB raises :class:`NotSupported`."""
        raw = ffi.NULL if db is None else _db_name(db)
        p = _stream.pipeline_arg(pipeline, self.codec_options)
        o = _stream.watch_options(full_document, full_document_before_change, resume_after,
                                  start_after, start_at_operation_time, max_await_time_ms,
                                  batch_size, options, self.codec_options)
        assert self._h is not None
        return _stream.open_stream(self, lib.pm_wrapper_watch_database, self._h,
                                   (raw, p.ptr, p.len, o.ptr, o.len), self.codec_options)

    def watch_cluster(self, pipeline: Optional[Any] = None, *, full_document: Optional[str] = None,
                      full_document_before_change: Optional[str] = None,
                      resume_after: Any = None, start_after: Any = None,
                      start_at_operation_time: Any = None,
                      max_await_time_ms: Optional[int] = None,
                      batch_size: Optional[int] = None, **options: Any) -> ChangeStream:
        """A :class:`ChangeStream` of the whole cluster of the shared pool."""
        p = _stream.pipeline_arg(pipeline, self.codec_options)
        o = _stream.watch_options(full_document, full_document_before_change, resume_after,
                                  start_after, start_at_operation_time, max_await_time_ms,
                                  batch_size, options, self.codec_options)
        assert self._h is not None
        return _stream.open_stream(self, lib.pm_wrapper_watch_cluster, self._h,
                                   (p.ptr, p.len, o.ptr, o.len), self.codec_options)

    watch = watch_cluster

    def subscribe_stream(self, db: Optional[str] = None,
                         collection: Optional[str] = None) -> ChangeStream:
        """A subscriber to the shared change stream of database ``db`` (None: the default), or
        of one of its collections: every subscriber of the same target shares one server-side
        stream and gets every event from when it subscribed, once, in order."""
        raw = ffi.NULL if db is None else _db_name(db)
        coll = ffi.NULL if collection is None else cv.c_name(collection, "collection")
        assert self._h is not None
        return _stream.open_stream(self, lib.pm_wrapper_subscribe_stream, self._h, (raw, coll),
                                   self.codec_options)

    def close_streams(self, db: Optional[str] = None) -> int:
        """Closes the open change streams of database ``db`` (None: all of them), from any
        thread; their next ``next()`` raises :class:`Closed`. Returns how many were closed."""
        raw = ffi.NULL if db is None else _db_name(db)
        out = ffi.new("size_t *")
        self._status(lib.pm_wrapper_close_streams, raw, out)
        return int(out[0])

    def stream_count(self, db: Optional[str] = None) -> int:
        """Open change streams (subscribers included) of database ``db``, or of all (None)."""
        raw = ffi.NULL if db is None else _db_name(db)
        assert self._h is not None
        with self._h as ptr:
            return int(lib.pm_wrapper_stream_count(ptr, raw))

    # ---- whole databases: export, import, copy, drop (bulk.h) -------------------------------
    def export_database(self, db: Optional[str], out: Any, *,
                        progress: Optional[Callable[[int, int], Any]] = None) -> Dict[str, int]:
        """Writes database ``db`` (None: the default) as NDJSON to ``out``: a path ("-":
        standard output), a writable file object (text or binary) or a callable(line).
        ``progress(documents, bytes)`` is called every 1,000 documents and at the end.
        Returns ``{"documents", "bytes"}``."""
        return _transfer.export_database(self, db, out, progress)

    def import_database(self, db: Optional[str], src: Any, *, batch_size: Optional[int] = None,
                        stop_on_error: Optional[bool] = None,
                        progress: Optional[Callable[[int, int], Any]] = None,
                        **options: Any) -> Dict[str, Any]:
        """Reads an export (a path, "-", a readable file object, or bytes) into ``db`` and
        returns the report. Refused documents raise :class:`WriteError`, a malformed line
        :class:`InvalidArgument`; either carries the report as ``exc.report``."""
        return _transfer.import_database(self, db, src, batch_size=batch_size,
                                         stop_on_error=stop_on_error, progress=progress, **options)

    def copy_database(self, from_db: str, to_db: str, *, batch_size: Optional[int] = None,
                      stop_on_error: Optional[bool] = None,
                      progress: Optional[Callable[[int, int], Any]] = None,
                      **options: Any) -> Dict[str, Any]:
        """Copies a database into another (any pool or cluster); returns the import report."""
        return _transfer.copy_database(self, from_db, to_db, batch_size=batch_size,
                                       stop_on_error=stop_on_error, progress=progress, **options)

    def export_document(self, db: Optional[str] = None) -> Dict[str, Any]:
        """A database in memory: ``{"database", "exportedAt", "collections": {name:
        {"options", "indexes", "documents"}}}``."""
        return _transfer.export_document(self, db)

    def import_document(self, db: Optional[str], document: Any, *,
                        batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                        **options: Any) -> Dict[str, Any]:
        """Imports the in-memory form into ``db``; returns the report."""
        return _transfer.import_document(self, db, document, batch_size=batch_size,
                                         stop_on_error=stop_on_error, **options)

    def drop_database(self, db: str) -> None:
        """Drops a database; models apply their indexes there again on next use."""
        _transfer.drop_database(self, db)

    def model(
        self,
        collection: str,
        *,
        indexes: Optional[Sequence[Any]] = None,
        validator: Optional[Mapping[str, Any]] = None,
        validation_level: Optional[str] = None,
        validation_action: Optional[str] = None,
        **extra_options: Any,
    ) -> "Model":
        """Defines a collection. ``indexes`` is a list of index specifications
        (``{"key": {"email": 1}, "unique": True}``; a bare key spec such as ``"email"`` or
        ``[("age", -1)]`` is accepted too); ``validator`` e.g. ``{"$jsonSchema": {...}}``. They are
        applied once per database, on the first operation there."""
        name = cv.c_name(collection, "collection")
        specs = None
        if indexes is not None:
            if isinstance(indexes, (str, Mapping)) or not isinstance(indexes, Iterable):
                raise TypeError("indexes must be a list of index specifications")
            specs = [_index_spec(s, i) for i, s in enumerate(indexes)]
        if validator is not None and not isinstance(validator, Mapping):
            raise TypeError(f"validator must be a mapping, not {type(validator).__name__}")
        opts = cv.options(
            {"validator": validator, "validationLevel": validation_level,
             "validationAction": validation_action, "indexes": specs},
            extra_options,
        )
        arg = cv.opt_arg(opts, self.codec_options, "model options")
        out = ffi.new("pm_model **")
        err = new_error()
        assert self._h is not None
        with self._h as ptr:
            rc = lib.pm_model_new(ptr, name, arg.ptr, arg.len, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return Model(self, out[0])


def _index_spec(spec: Any, i: int) -> Dict[str, Any]:
    if isinstance(spec, Mapping) and "key" in spec:
        return {cv.camel(k) if isinstance(k, str) else k: v for k, v in spec.items()}
    try:
        return {"key": cv.key_spec(spec, f"indexes[{i}]")}
    except TypeError:
        raise TypeError(f"indexes[{i}] must be {{'key': {{...}}, ...}} or a key spec") from None


class _StrArray:
    """A list of str as a ``const char *const *`` array (kept alive with this object)."""

    __slots__ = ("bufs", "ptrs", "n")

    def __init__(self, names: Any, what: str, allow_empty: bool = False) -> None:
        if isinstance(names, str):
            names = [names]
        if not isinstance(names, Iterable):
            raise TypeError(f"{what} must be a str or a list of str")
        self.bufs = [ffi.new("char[]", _db_name(n)) for n in names]
        self.n = len(self.bufs)
        if self.n == 0 and not allow_empty:
            raise InvalidArgument(f"{what} must not be empty")
        self.ptrs = ffi.new("char *[]", self.bufs) if self.n else ffi.NULL


def _db_name(name: Any) -> bytes:
    if not isinstance(name, str):
        raise TypeError(f"database name must be a str, not {type(name).__name__}")
    if "\0" in name:
        raise InvalidDatabaseName("database name must not contain NUL characters",
                                  pm_code=lib.PM_EDBNAME)
    return name.encode("utf-8")


def _index_name(keys: cv.KeySpec) -> str:
    """The name the server gives an index on ``keys`` when none is given (``[("a", 1),
    ("b", -1)]`` -> "a_1_b_-1"): the C library's rule (``pm_index_name``), the one
    :meth:`Db.create_index` and a model's indexes use."""
    k = cv.doc_arg(cv.key_spec(keys, "index"), cv.DEFAULT_CODEC_OPTIONS, "index")
    out = ffi.new("char **")
    err = new_error()
    rc = lib.pm_index_name(k.ptr, k.len, out, err)
    try:
        if rc < 0:
            raise error_from(rc, err)
        return cstr(out[0]) or ""
    finally:
        lib.pm_free(out[0])


class Model:
    """A collection definition (immutable, thread-safe). ``model.db("tenant_1")`` binds it to a
    database."""

    __slots__ = ("_h", "client", "_dbs", "_dbs_old", "__weakref__")

    # Dbs kept per model for names seen before: two generations of this many (the young one,
    # names used since the last turnover; when it is full it becomes the old one, whose names
    # move back on use), so that a process whose tenants churn keeps bounded memory.
    DB_CACHE_GENERATION = 2048

    def __init__(self, client: PolyMongo, ptr: Any) -> None:
        self._h = Handle(ptr, lib.pm_model_free, "model")
        self.client = client
        self._dbs: Dict[Optional[str], Db] = {}
        self._dbs_old: Dict[Optional[str], Db] = {}

    @property
    def collection(self) -> str:
        with self._h as ptr:
            return cstr(lib.pm_model_collection(ptr)) or ""

    name = collection

    def db(self, name: Optional[str] = None) -> "Db":
        """This model in database ``name`` (None or "": the default database). Validates the
        name (:class:`InvalidDatabaseName`, a ``ValueError``) and does no I/O.

        A name seen before returns the same :class:`Db` (a dict lookup, well under a
        microsecond): a Db is immutable and thread-safe, and lives as long as its PolyMongo is
        open (then its operations raise :class:`Closed`, and so does this method)."""
        try:
            d = self._dbs.get(name)
        except TypeError:  # unhashable: not a name (_make_db says so)
            d = None
        if d is not None and not self.client._closed_flag():
            return d
        return self._new_db(name)

    def _new_db(self, name: Optional[str]) -> "Db":
        if name is not None and not isinstance(name, str):
            return self._make_db(name)  # raises TypeError naming the type
        d = self._dbs_old.pop(name, None)  # seen before the last turnover: moves back
        if d is None or self.client._closed_flag():
            d = self._make_db(name)
        if len(self._dbs) >= self.DB_CACHE_GENERATION:
            self._dbs_old, self._dbs = self._dbs, {}
        self._dbs[name] = d
        return d

    def _make_db(self, name: Optional[str]) -> "Db":
        raw = ffi.NULL if name is None else _db_name(name)
        out = ffi.new("pm_db **")
        err = new_error()
        with self._h as ptr:
            rc = lib.pm_model_db(ptr, raw, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return Db(self, out[0])

    __getitem__ = db

    def _fleet(self, fn: Callable[..., int], target: Optional[Mapping[str, Any]]) -> Dict[str, Any]:
        raw = ffi.NULL if target is None else json.dumps(dict(target)).encode()
        out = ffi.new("char **")
        err = new_error()
        with self._h as ptr:
            rc = fn(ptr, raw, out, err)
        try:
            text = cstr(out[0]) or "{}"
        finally:
            lib.pm_free(out[0])
        if rc < 0:
            raise error_from(rc, err)
        report: Dict[str, Any] = json.loads(text)
        return report

    def fleet_sync(self, target: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """Applies this model's indexes and validator over the fleet (``target``: {match,
        tenants, concurrency, job}); resumable. :class:`WriteError` when some databases failed."""
        return self._fleet(lib.pm_model_fleet_sync, target)

    def fleet_drift(self, target: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
        """The databases whose indexes or validator differ from this model, and how."""
        return self._fleet(lib.pm_model_fleet_drift, target)

    def __repr__(self) -> str:
        if self._h.closed or self.client.closed:
            return "<polymongo.Model closed>"
        return f"<polymongo.Model {self.collection!r}>"


def _return_document(value: Any) -> str:
    if value is True or value is False:
        return "after" if value else "before"
    if isinstance(value, ReturnDocument):
        return value.value
    if value in ("before", "after"):
        return str(value)
    raise ValueError(f"return_document must be ReturnDocument.BEFORE or AFTER, not {value!r}")


class Db:
    """A model bound to one database: the target of CRUD, cursors, bulk writes and indexes.
    Immutable and thread-safe; cheap to make (no I/O)."""

    __slots__ = ("_h", "model", "session", "_codec", "_dict_codec", "__weakref__")

    def __init__(self, model: Model, ptr: Any, session: Optional[Session] = None) -> None:
        if session is None:
            self._h: Handle = Handle(ptr, lib.pm_db_free, "db")
        else:
            self._h = session._adopt(ptr, lib.pm_db_free, "db")
        self.model = model
        self.session = session
        self._codec = model.client.codec_options
        self._dict_codec = model.client._dict_codec

    def with_session(self, session: Session) -> "Db":
        """This model and database with every operation in ``session`` (inside its
        transaction, when one is open). No I/O. The database must be served by the session's
        pool: otherwise its operations raise :class:`InvalidArgument`. The returned db is
        closed with the session."""
        if not isinstance(session, Session):
            raise TypeError(f"session must be a polymongo Session, not {type(session).__name__}")
        out = ffi.new("pm_db **")
        err = new_error()
        # Binding copies references only: this db's own session (if any) is not needed.
        with in_flight(self._h) as ptr, in_flight(session._h) as sptr:
            rc = lib.pm_db_with_session(ptr, sptr, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return Db(self.model, out[0], session)

    # ---- identity ------------------------------------------------------------------------------
    @property
    def client(self) -> PolyMongo:
        return self.model.client

    @property
    def name(self) -> str:
        """The database name."""
        with self._h as ptr:
            return cstr(lib.pm_db_name(ptr)) or ""

    @property
    def collection_name(self) -> str:
        with self._h as ptr:
            return cstr(lib.pm_db_collection(ptr)) or ""

    def __repr__(self) -> str:
        if self._h.closed or self.model.client.closed:
            return "<polymongo.Db closed>"
        where = " in a session" if self.session is not None else ""
        return f"<polymongo.Db {self.name}.{self.collection_name}{where}>"

    # ---- the mechanics shared by every call ------------------------------------------------------
    def _doc(self, doc: Any, what: str) -> cv.Arg:
        return cv.doc_arg(doc, self._codec, what)

    def _filter(self, flt: Filter, what: str = "filter") -> cv.Arg:
        if flt is None:
            return cv.Arg(None)
        if not isinstance(flt, (Mapping, bytes, bytearray, memoryview)):
            raise TypeError(f"{what} must be a mapping such as a dict, not {type(flt).__name__}")
        return self._doc(flt, what)

    def _opts(self, explicit: Optional[Mapping[str, Any]], extra: Mapping[str, Any]) -> cv.Arg:
        return cv.opt_arg(cv.options(explicit, extra), self._codec)

    def _in(self, session: Optional[Session]) -> "Db":
        """The db an operation given ``session=`` runs on: this one, or this model and database
        bound to ``session`` (made once per session, as :meth:`with_session` does)."""
        if session is None or session is self.session:
            return self
        if not isinstance(session, Session):
            raise TypeError("session must be a polymongo Session (PolyMongo.start_session or "
                            f"start_compensating), not {type(session).__module__}."
                            f"{type(session).__name__}")
        if self.session is not None:
            raise InvalidArgument("this db is bound to another session (with_session); pass "
                                  "session= to an unbound db", pm_code=lib.PM_EINVAL)
        bound = session._bound.get(self)
        if bound is None or bound._h.closed:
            bound = self.with_session(session)
            session._bound[self] = bound
        return bound

    def _write(self, fn: Callable[..., int], args: Sequence[Any], kind: Type[_R],
               session: Optional[Session] = None, bulk: bool = False) -> _R:
        h = self._h if session is None else self._in(session)._h
        out = ffi.new("pm_result **")
        err = new_error()
        with h as ptr:
            rc = fn(ptr, *args, out, err)
        result = self._take_result(out[0], kind)
        if rc < 0:
            raise error_from(rc, err, result, bulk)
        return cast(_R, result)  # None only for an unacknowledged write, as before

    def _take_result(self, r: Any, kind: Type[_R]) -> Optional[_R]:
        if r == ffi.NULL:
            return None
        try:
            data = ffi.new("const uint8_t **")
            size = ffi.new("size_t *")
            lib.pm_result_bson(r, data, size)
            raw = cv.decode(ffi.buffer(data[0], size[0])[:], self._dict_codec)
        finally:
            lib.pm_result_free(r)
        return kind(raw)

    def _buf_call(self, fn: Callable[..., int], args: Sequence[Any],
                  codec: Optional[CodecOptions[Any]] = None, session: Optional[Session] = None) -> Any:
        h = self._h if session is None else self._in(session)._h
        buf = ffi.new("pm_buf *")
        err = new_error()
        try:
            with h as ptr:
                rc = fn(ptr, *args, buf, err)
            if rc < 0:
                raise error_from(rc, err)
            if buf.data == ffi.NULL:
                return None
            return cv.decode(ffi.buffer(buf.data, buf.len)[:], codec or self._codec)
        finally:
            lib.pm_buf_free(buf)

    def _cursor_call(self, fn: Callable[..., int], args: Sequence[Any],
                     session: Optional[Session] = None) -> Cursor:
        db = self if session is None else self._in(session)
        out = ffi.new("pm_cursor **")
        err = new_error()
        with db._h as ptr:
            rc = fn(ptr, *args, out, err)
        if rc < 0:
            lib.pm_cursor_free(out[0])  # NULL-safe; a failed call leaves NULL
            raise error_from(rc, err)
        return Cursor(out[0], self.model.client, self._codec, db.session)

    def _status_call(self, fn: Callable[..., int], args: Sequence[Any],
                     session: Optional[Session] = None) -> None:
        h = self._h if session is None else self._in(session)._h
        err = new_error()
        with h as ptr:
            rc = fn(ptr, *args, err)
        if rc < 0:
            raise error_from(rc, err)

    def _count_call(self, fn: Callable[..., int], args: Sequence[Any],
                    session: Optional[Session] = None) -> int:
        h = self._h if session is None else self._in(session)._h
        out = ffi.new("int64_t *")
        err = new_error()
        with h as ptr:
            rc = fn(ptr, *args, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return int(out[0])

    # ---- writes ------------------------------------------------------------------------------
    def insert_one(self, document: Any, *, bypass_document_validation: Optional[bool] = None,
                   session: Optional[Session] = None, **options: Any) -> InsertOneResult:
        """Inserts one document; ``result.inserted_id`` is its _id (generated when absent; the
        given document is not modified)."""
        d = self._doc(document, "document")
        o = self._opts({"bypassDocumentValidation": bypass_document_validation}, options)
        return self._write(lib.pm_db_insert_one, (d.ptr, d.len, o.ptr, o.len), InsertOneResult,
                           session)

    def insert_many(self, documents: Iterable[Any], *, ordered: Optional[bool] = None,
                    bypass_document_validation: Optional[bool] = None,
                    session: Optional[Session] = None, **options: Any) -> InsertManyResult:
        """Inserts documents (ordered unless ``ordered=False``). When some fail, raises
        :class:`WriteError`/:class:`DuplicateKeyError` whose ``result`` has what was inserted and
        whose ``write_errors`` name the failed indexes."""
        arr = cv.DocArray(documents, self._codec, "documents")
        o = self._opts({"ordered": ordered, "bypassDocumentValidation": bypass_document_validation},
                       options)
        return self._write(lib.pm_db_insert_many, (arr.ptrs, arr.lens, arr.n, o.ptr, o.len),
                           InsertManyResult, session, bulk=True)

    def _update(self, fn: Callable[..., int], flt: Filter, update: Any, explicit: Dict[str, Any],
                options: Mapping[str, Any], session: Optional[Session]) -> UpdateResult:
        f = self._filter(flt)
        if isinstance(update, (list, tuple)):  # an aggregation-pipeline update
            u = self._doc({str(i): s for i, s in enumerate(update)}, "update")
        else:
            u = self._doc(update, "update")
        o = self._opts(explicit, options)
        return self._write(fn, (f.ptr, f.len, u.ptr, u.len, o.ptr, o.len), UpdateResult, session)

    def update_one(self, filter: Filter, update: Any, *, upsert: Optional[bool] = None,
                   array_filters: Optional[List[Any]] = None, session: Optional[Session] = None,
                   **options: Any) -> UpdateResult:
        return self._update(lib.pm_db_update_one, filter, update,
                            {"upsert": upsert, "arrayFilters": array_filters}, options, session)

    def update_many(self, filter: Filter, update: Any, *, upsert: Optional[bool] = None,
                    array_filters: Optional[List[Any]] = None, session: Optional[Session] = None,
                    **options: Any) -> UpdateResult:
        return self._update(lib.pm_db_update_many, filter, update,
                            {"upsert": upsert, "arrayFilters": array_filters}, options, session)

    def replace_one(self, filter: Filter, replacement: Any, *, upsert: Optional[bool] = None,
                    session: Optional[Session] = None, **options: Any) -> UpdateResult:
        f = self._filter(filter)
        r = self._doc(replacement, "replacement")
        o = self._opts({"upsert": upsert}, options)
        return self._write(lib.pm_db_replace_one, (f.ptr, f.len, r.ptr, r.len, o.ptr, o.len),
                           UpdateResult, session)

    def delete_one(self, filter: Filter, *, session: Optional[Session] = None, **options: Any) -> DeleteResult:
        f = self._filter(filter)
        o = self._opts(None, options)
        return self._write(lib.pm_db_delete_one, (f.ptr, f.len, o.ptr, o.len), DeleteResult,
                           session)

    def delete_many(self, filter: Filter, *, session: Optional[Session] = None, **options: Any) -> DeleteResult:
        f = self._filter(filter)
        o = self._opts(None, options)
        return self._write(lib.pm_db_delete_many, (f.ptr, f.len, o.ptr, o.len), DeleteResult,
                           session)

    def bulk_write(self, requests: Iterable[Any], *, ordered: Optional[bool] = None,
                   bypass_document_validation: Optional[bool] = None,
                   session: Optional[Session] = None, **options: Any) -> BulkWriteResult:
        """Runs write models in one bulk operation: pymongo's (``pymongo.InsertOne``,
        ``UpdateOne``, ``UpdateMany``, ``ReplaceOne``, ``DeleteOne``, ``DeleteMany``),
        polymongo's own classes of the same names (:mod:`polymongo.operations`) or plain dicts.
        Partial failure raises :class:`BulkWriteError` (or :class:`BulkDuplicateKeyError`), a
        pymongo ``BulkWriteError``, with ``result``, per-index ``write_errors`` and pymongo's
        ``details``."""
        if isinstance(requests, (Mapping, str, bytes)):
            raise TypeError("requests must be a list of write models")
        models = [write_model(op, i) for i, op in enumerate(requests)]
        arr = cv.DocArray(models, self._codec, "requests")
        o = self._opts({"ordered": ordered, "bypassDocumentValidation": bypass_document_validation},
                       options)
        return self._write(lib.pm_db_bulk_write, (arr.ptrs, arr.lens, arr.n, o.ptr, o.len),
                           BulkWriteResult, session, bulk=True)

    # ---- reads -------------------------------------------------------------------------------
    def find(self, filter: Filter = None, projection: Optional[Any] = None, *,
             sort: Optional[cv.KeySpec] = None, skip: Optional[int] = None,
             limit: Optional[int] = None, batch_size: Optional[int] = None,
             session: Optional[Session] = None, **options: Any) -> Cursor:
        """A :class:`Cursor` over matching documents. Other options (hint, collation,
        max_time_ms, comment, ...) are passed by keyword."""
        f = self._filter(filter)
        o = self._opts(
            {"projection": cv.projection_spec(projection) if projection is not None else None,
             "sort": cv.key_spec(sort, "sort") if sort is not None else None,
             "skip": skip, "limit": limit, "batchSize": batch_size},
            options)
        return self._cursor_call(lib.pm_db_find, (f.ptr, f.len, o.ptr, o.len), session)

    def find_one(self, filter: Filter = None, projection: Optional[Any] = None, *,
                 sort: Optional[cv.KeySpec] = None, skip: Optional[int] = None,
                 session: Optional[Session] = None, **options: Any) -> Optional[Any]:
        """The first matching document, or None."""
        f = self._filter(filter)
        o = self._opts(
            {"projection": cv.projection_spec(projection) if projection is not None else None,
             "sort": cv.key_spec(sort, "sort") if sort is not None else None, "skip": skip},
            options)
        return self._buf_call(lib.pm_db_find_one, (f.ptr, f.len, o.ptr, o.len), session=session)

    def _fam_opts(self, projection: Any, sort: Any, extra: Dict[str, Any], options: Mapping[str, Any]) -> cv.Arg:
        return self._opts(
            {"projection": cv.projection_spec(projection) if projection is not None else None,
             "sort": cv.key_spec(sort, "sort") if sort is not None else None, **extra},
            options)

    def find_one_and_update(self, filter: Filter, update: Any, *, projection: Optional[Any] = None,
                            sort: Optional[cv.KeySpec] = None, upsert: Optional[bool] = None,
                            return_document: Any = ReturnDocument.BEFORE,
                            array_filters: Optional[List[Any]] = None,
                            session: Optional[Session] = None, **options: Any) -> Optional[Any]:
        """Updates one document and returns it as it was before (default) or after."""
        f = self._filter(filter)
        u = self._doc(update, "update")
        o = self._fam_opts(projection, sort, {"upsert": upsert, "arrayFilters": array_filters,
                                              "returnDocument": _return_document(return_document)},
                           options)
        return self._buf_call(lib.pm_db_find_one_and_update, (f.ptr, f.len, u.ptr, u.len, o.ptr, o.len),
                              session=session)

    def find_one_and_replace(self, filter: Filter, replacement: Any, *,
                             projection: Optional[Any] = None, sort: Optional[cv.KeySpec] = None,
                             upsert: Optional[bool] = None,
                             return_document: Any = ReturnDocument.BEFORE,
                             session: Optional[Session] = None, **options: Any) -> Optional[Any]:
        f = self._filter(filter)
        r = self._doc(replacement, "replacement")
        o = self._fam_opts(projection, sort, {"upsert": upsert,
                                              "returnDocument": _return_document(return_document)},
                           options)
        return self._buf_call(lib.pm_db_find_one_and_replace, (f.ptr, f.len, r.ptr, r.len, o.ptr, o.len),
                              session=session)

    def find_one_and_delete(self, filter: Filter, *, projection: Optional[Any] = None,
                            sort: Optional[cv.KeySpec] = None, session: Optional[Session] = None,
                            **options: Any) -> Optional[Any]:
        f = self._filter(filter)
        o = self._fam_opts(projection, sort, {}, options)
        return self._buf_call(lib.pm_db_find_one_and_delete, (f.ptr, f.len, o.ptr, o.len),
                              session=session)

    def count_documents(self, filter: Filter = None, *, session: Optional[Session] = None, **options: Any) -> int:
        """Exact count (options: skip, limit, hint, collation, max_time_ms)."""
        f = self._filter(filter)
        o = self._opts(None, options)
        return self._count_call(lib.pm_db_count, (f.ptr, f.len, o.ptr, o.len), session)

    def estimated_document_count(self, *, session: Optional[Session] = None, **options: Any) -> int:
        """Fast count from the collection's metadata."""
        o = self._opts(None, options)
        return self._count_call(lib.pm_db_estimated_count, (o.ptr, o.len), session)

    def distinct(self, key: str, filter: Filter = None, *, session: Optional[Session] = None,
                 **options: Any) -> List[Any]:
        """The distinct values of ``key`` among matching documents."""
        k = cv.c_name(key, "key")
        f = self._filter(filter)
        o = self._opts(None, options)
        reply = self._buf_call(lib.pm_db_distinct, (k, f.ptr, f.len, o.ptr, o.len), session=session)
        return list(reply.get("values", [])) if reply is not None else []

    def aggregate(self, pipeline: Sequence[Mapping[str, Any]], *, batch_size: Optional[int] = None,
                  allow_disk_use: Optional[bool] = None, session: Optional[Session] = None,
                  **options: Any) -> Cursor:
        """A :class:`Cursor` over the pipeline's output."""
        if isinstance(pipeline, (str, bytes)) or not isinstance(pipeline, (list, tuple, Mapping)):
            raise TypeError(f"pipeline must be a list of stages, not {type(pipeline).__name__}")
        p = self._doc(pipeline if isinstance(pipeline, Mapping) else {"pipeline": list(pipeline)},
                      "pipeline")
        o = self._opts({"batchSize": batch_size, "allowDiskUse": allow_disk_use}, options)
        return self._cursor_call(lib.pm_db_aggregate, (p.ptr, p.len, o.ptr, o.len), session)

    # ---- change streams ------------------------------------------------------------------------
    def watch(self, pipeline: Optional[Any] = None, *, full_document: Optional[str] = None,
              full_document_before_change: Optional[str] = None, resume_after: Any = None,
              start_after: Any = None, start_at_operation_time: Any = None,
              max_await_time_ms: Optional[int] = None, batch_size: Optional[int] = None,
              session: Optional[Session] = None, **options: Any) -> ChangeStream:
        """A :class:`ChangeStream` of this collection in this database. ``pipeline``: a list of
        stages (e.g. ``[{"$match": {"operationType": "insert"}}]``). Needs a replica set;
        FerretDB raises :class:`NotSupported`. (A stream runs outside any session: ``session``
        is accepted for pymongo's signature and checked, as a session-bound db's is.)"""
        self._in(session)
        p = _stream.pipeline_arg(pipeline, self._codec)
        o = _stream.watch_options(full_document, full_document_before_change, resume_after,
                                  start_after, start_at_operation_time, max_await_time_ms,
                                  batch_size, options, self._codec)
        return _stream.open_stream(self.model.client, lib.pm_db_watch, in_flight(self._h),
                                   (p.ptr, p.len, o.ptr, o.len), self._codec)

    # ---- indexes and the collection ------------------------------------------------------------
    def create_index(self, keys: cv.KeySpec, *, name: Optional[str] = None,
                     unique: Optional[bool] = None, session: Optional[Session] = None, **options: Any) -> str:
        """Creates an index and returns its name. Other options (sparse,
        expire_after_seconds, partial_filter_expression, ...) are passed by keyword."""
        k = self._doc(cv.key_spec(keys), "keys")
        o = self._opts({"name": name, "unique": unique}, options)
        h = self._h if session is None else self._in(session)._h
        out = ffi.new("char **")
        err = new_error()
        with h as ptr:
            rc = lib.pm_db_create_index(ptr, k.ptr, k.len, o.ptr, o.len, out, err)
        try:
            if rc < 0:
                raise error_from(rc, err)
            return cstr(out[0]) or ""
        finally:
            lib.pm_free(out[0])

    def list_indexes(self, *, session: Optional[Session] = None) -> Cursor:
        """A :class:`Cursor` over the collection's index descriptions."""
        return self._cursor_call(lib.pm_db_list_indexes, (), session)

    def index_information(self, *, session: Optional[Session] = None) -> Dict[str, Dict[str, Any]]:
        """{index name: its description} (as in pymongo)."""
        with self.list_indexes(session=session) as c:
            return {ix["name"]: ix for ix in c}

    def drop_index(self, index: Union[str, cv.KeySpec], *, session: Optional[Session] = None) -> None:
        """Drops an index by name, or by its key spec (``[("a", 1)]`` -> "a_1")."""
        if not isinstance(index, str) or index == "":
            index = _index_name(index)
        self._status_call(lib.pm_db_drop_index, (cv.c_name(index, "index"),), session)

    def drop(self, *, session: Optional[Session] = None) -> None:
        """Drops the collection in this database (fine when it does not exist)."""
        self._status_call(lib.pm_db_drop_collection, (), session)

    def command(self, command: Union[str, Mapping[str, Any]], value: Any = 1, *,
                session: Optional[Session] = None, **kwargs: Any) -> Dict[str, Any]:
        """Runs a database command and returns the reply: ``command("ping")``,
        ``command({"collStats": "users"})``, ``command("count", "users", query={...})``.
        Keyword arguments are added to the command as given (server names)."""
        if isinstance(command, str):
            cmd: Any = {command: value, **kwargs}
        elif isinstance(command, Mapping):
            cmd = {**command, **kwargs} if kwargs else command
        else:
            raise TypeError(f"command must be a str or a mapping, not {type(command).__name__}")
        c = self._doc(cmd, "command")
        reply = self._buf_call(lib.pm_db_command, (c.ptr, c.len), self._dict_codec, session)
        return reply if reply is not None else {}
