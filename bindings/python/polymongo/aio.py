"""AsyncPolyMongo: the whole API as coroutines, for asyncio (and uvloop).

Every operation is submitted to the C library's executor (``pm_async_submit``, see
polymongo/async.h) and completes into one completion queue per client, whose file descriptor
(an eventfd) the event loop watches with ``loop.add_reader``. An ``await`` therefore costs no
thread of Python's: the loop never blocks on I/O and no thread is started per operation; the
library's own bounded set of threads does the blocking work.

The argument handling is the blocking API's own: an :class:`AsyncDb` runs the same method of
:class:`~polymongo.Db` with the C calls replaced by submissions, so options, conversions and
errors are identical in both forms.

Thread-safety (as pymongo's ``AsyncMongoClient``): an :class:`AsyncPolyMongo` and everything
made from it belong to the event loop they were first used on; use them from that loop's
thread only. Use one client per loop (one per process is normal).
"""

from __future__ import annotations

import asyncio
import codecs
import inspect
import io
import json
import os
import random
import signal
from collections import deque
from typing import (Any, AsyncIterator, Awaitable, Callable, Deque, Dict, List, Optional,
                    Sequence, Tuple, Type, TypeVar, Union, cast)

from bson.codec_options import CodecOptions

from . import _convert as cv
from . import stream as _stream
from . import transfer as _transfer
from ._ffi import Handle, cstr, ffi, lib, new_error
from .client import Db, Model, PolyMongo, _db_name, _index_name
from .cursor import Cursor
from .errors import Closed, error_from
from .events import Event, EventType, Subscription
from .results import (BulkWriteResult, DeleteResult, InsertManyResult, InsertOneResult,
                      UpdateResult, _WriteResultBase)
from .session import Session, transaction_options
from .stream import ChangeStream

__all__ = ["AsyncPolyMongo", "AsyncModel", "AsyncDb", "AsyncCursor", "AsyncChangeStream",
           "AsyncSession", "AsyncTransaction"]

_R = TypeVar("_R", bound=_WriteResultBase)
_T = TypeVar("_T")
_BATCH = 101       # documents per cursor submission (a batch, as the driver's first one)
_STREAM_SLICE_MS = 200  # one stream wait occupies a library thread: keep it short
# Completions taken per wake-up: the tasks they resume run in the loop's next iteration, so a
# small batch keeps each iteration short (timers and other callbacks interleave); the eventfd
# stays readable while more wait, so the loop comes straight back for them.
_POLL = 8

# The db functions of the blocking API, by name: the kind they run as, and how their
# arguments (between the db handle and the out-parameters) fill a pm_op: D doc, E doc2,
# O opts, A docs array (pointers, lengths, count), N name.
_DB_OPS: Dict[str, Tuple[int, str]] = {
    "pm_db_insert_one": (lib.PM_OP_INSERT_ONE, "DO"),
    "pm_db_insert_many": (lib.PM_OP_INSERT_MANY, "AO"),
    "pm_db_update_one": (lib.PM_OP_UPDATE_ONE, "DEO"),
    "pm_db_update_many": (lib.PM_OP_UPDATE_MANY, "DEO"),
    "pm_db_replace_one": (lib.PM_OP_REPLACE_ONE, "DEO"),
    "pm_db_delete_one": (lib.PM_OP_DELETE_ONE, "DO"),
    "pm_db_delete_many": (lib.PM_OP_DELETE_MANY, "DO"),
    "pm_db_bulk_write": (lib.PM_OP_BULK_WRITE, "AO"),
    "pm_db_find": (lib.PM_OP_FIND, "DO"),
    "pm_db_find_one": (lib.PM_OP_FIND_ONE, "DO"),
    "pm_db_find_one_and_update": (lib.PM_OP_FIND_ONE_AND_UPDATE, "DEO"),
    "pm_db_find_one_and_replace": (lib.PM_OP_FIND_ONE_AND_REPLACE, "DEO"),
    "pm_db_find_one_and_delete": (lib.PM_OP_FIND_ONE_AND_DELETE, "DO"),
    "pm_db_count": (lib.PM_OP_COUNT, "DO"),
    "pm_db_estimated_count": (lib.PM_OP_ESTIMATED_COUNT, "O"),
    "pm_db_distinct": (lib.PM_OP_DISTINCT, "NDO"),
    "pm_db_aggregate": (lib.PM_OP_AGGREGATE, "DO"),
    "pm_db_list_indexes": (lib.PM_OP_LIST_INDEXES, ""),
    "pm_db_drop_index": (lib.PM_OP_DROP_INDEX, "N"),
    "pm_db_drop_collection": (lib.PM_OP_DROP_COLLECTION, ""),
    "pm_db_command": (lib.PM_OP_COMMAND, "D"),
    "pm_db_create_index": (lib.PM_OP_CREATE_INDEX, "DO"),
    "pm_db_watch": (lib.PM_OP_WATCH, "DO"),
}

Decode = Callable[[Any], Any]  # a completion (pm_completion *) -> the value, or raises


class _Op:
    """A pm_op being filled, and the Python objects its pointers point into (alive until
    pm_async_submit has copied them)."""

    __slots__ = ("op", "keep")

    def __init__(self, kind: int) -> None:
        self.op = ffi.new("pm_op *")
        self.op.kind = kind
        self.keep: List[Any] = []

    def name(self, field: str, value: Any) -> None:
        if value is None or value == ffi.NULL:
            return
        s = ffi.new("char[]", value)
        self.keep.append(s)
        setattr(self.op, field, s)

    def fill(self, layout: str, args: Sequence[Any]) -> None:
        i = 0
        for f in layout:
            if f == "D":
                self.op.doc, self.op.doc_len = args[i], args[i + 1]
                i += 2
            elif f == "E":
                self.op.doc2, self.op.doc2_len = args[i], args[i + 1]
                i += 2
            elif f == "O":
                self.op.opts, self.op.opts_len = args[i], args[i + 1]
                i += 2
            elif f == "A":
                self.op.docs, self.op.lens, self.op.n = args[i], args[i + 1], args[i + 2]
                i += 3
            elif f == "N":
                self.name("name", args[i])
                i += 1
        self.keep.append(args)


class _Completions:
    """The client's completion queue on its event loop: submissions wait as futures, the loop
    wakes on the queue's eventfd and resolves them."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        out = ffi.new("pm_cq **")
        err = new_error()
        rc = lib.pm_cq_new(out, err)
        if rc < 0:
            raise error_from(rc, err)
        self.cq = out[0]
        self.fd = lib.pm_cq_fd(self.cq)
        self.buf = ffi.new("pm_completion[]", _POLL)
        self.pending: Dict[int, Tuple["asyncio.Future[Any]", Decode, List[Handle]]] = {}
        loop.add_reader(self.fd, self.drain)

    def drain(self, all_of_them: bool = False) -> None:
        while True:
            n = lib.pm_cq_poll(self.cq, self.buf, _POLL, 0)
            for i in range(n):
                c = self.buf + i
                fut, decode, held = self.pending.pop(int(c.id))
                for h in held:
                    Handle.__exit__(h)
                try:
                    if not fut.cancelled():
                        try:
                            fut.set_result(decode(c))
                        except BaseException as e:  # the operation's error, for the awaiter
                            fut.set_exception(e)
                finally:
                    lib.pm_completion_clear(c)
            if n < _POLL or not all_of_them:
                return

    def close(self) -> None:
        """After the wrapper closed: every submission has completed (cancelled at worst)."""
        self.drain(all_of_them=True)
        self.loop.remove_reader(self.fd)
        lib.pm_cq_free(self.cq)
        self.cq = ffi.NULL


class AsyncPolyMongo:
    """Many MongoDB databases over a few pooled connections, as coroutines.

    Takes the same arguments as :class:`~polymongo.PolyMongo` (it makes one, available as
    ``.sync`` for the calls that do no I/O) and offers its I/O methods as coroutines::

        async with AsyncPolyMongo(uri, max_pool_size=20) as pm:
            users = pm.model("users", indexes=[{"key": {"email": 1}, "unique": True}])
            db = users.db("tenant_1")
            await db.insert_one({"email": "a@x"})
            async for u in db.find({}, sort=[("email", 1)]):
                ...

    Thread-safety: like pymongo's ``AsyncMongoClient``, the client and every object made
    from it belong to the event loop they were first used on; use them from that loop only.
    """

    def __init__(self, mongo_uri: Optional[str] = None, **options: Any) -> None:
        self.sync = PolyMongo(mongo_uri, **options)
        self._cq: Optional[_Completions] = None

    # ---- the mechanics -------------------------------------------------------------------------
    def _completions(self) -> _Completions:
        loop = asyncio.get_running_loop()
        if self._cq is None:
            if self.sync.closed:
                raise Closed("this AsyncPolyMongo is closed", code=lib.PM_ECLOSED)
            self._cq = _Completions(loop)
        elif self._cq.loop is not loop:
            raise RuntimeError("this AsyncPolyMongo belongs to another event loop: use one "
                               "client per event loop")
        return self._cq

    def _submit(self, op: _Op, decode: Decode, held: Sequence[Handle] = ()) -> "asyncio.Future[Any]":
        """Submits ``op``; the future resolves with ``decode(completion)``. ``held`` are handles
        the operation uses (a cursor, a stream, a session): counted in flight until it completes,
        so closing them meanwhile waits."""
        cq = self._completions()
        ids = ffi.new("uint64_t *")
        err = new_error()
        entered: List[Handle] = []
        try:
            for h in held:
                Handle.__enter__(h)
                entered.append(h)
            assert self.sync._h is not None
            with self.sync._h as wptr:
                rc = lib.pm_async_submit(wptr, op.op, cq.cq, ffi.NULL, ffi.NULL, ids, err)
            if rc < 0:
                raise error_from(rc, err)
        except BaseException:
            for h in entered:
                Handle.__exit__(h)
            raise
        fut: "asyncio.Future[Any]" = cq.loop.create_future()
        op_id = int(ids[0])
        cq.pending[op_id] = (fut, decode, entered)

        def on_done(f: "asyncio.Future[Any]") -> None:
            if f.cancelled() and self.sync._h is not None and not self.sync._h.closed:
                with self.sync._h as wptr:  # ends it if it has not started; else it runs out
                    lib.pm_async_cancel(wptr, op_id)

        fut.add_done_callback(on_done)
        return fut

    @staticmethod
    def _status(c: Any) -> None:
        if c.code < 0:
            raise error_from(c.code, c.error)

    def _wrapper_op(self, kind: int, decode: Decode, *, name: Any = None, path: Any = None,
                    json_opts: Any = None, doc: Optional[cv.Arg] = None,
                    opts: Optional[cv.Arg] = None, number: int = 0) -> "asyncio.Future[Any]":
        op = _Op(kind)
        op.name("name", name)
        op.name("path", path)
        op.name("json", json_opts)
        if doc is not None:
            op.op.doc, op.op.doc_len = doc.ptr, doc.len
            op.keep.append(doc)
        if opts is not None:
            op.op.opts, op.op.opts_len = opts.ptr, opts.len
            op.keep.append(opts)
        op.op.number = number
        return self._submit(op, decode)

    # ---- lifecycle -----------------------------------------------------------------------------
    async def close(self) -> None:
        """Closes the client for good (``pm_wrapper_close``): operations still queued complete
        with an error (code ``PM_ECANCELED``), running ones finish, and later calls raise
        :class:`Closed`. The wait for running operations happens off the event loop."""
        if self.sync.closed:
            return
        await asyncio.to_thread(self.sync.close)
        if self._cq is not None:
            self._cq.close()
            self._cq = None

    @property
    def closed(self) -> bool:
        return self.sync.closed

    async def __aenter__(self) -> "AsyncPolyMongo":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return "<polymongo.AsyncPolyMongo closed>" if self.closed else "<polymongo.AsyncPolyMongo>"

    def executor_stats(self) -> Dict[str, int]:
        """The C executor's bounds and backlog (``pm_async_stats``): ``max_threads``,
        ``new_work_threads`` (threads operations on no cursor, stream or session may use at once)
        and ``queued`` (operations waiting for a thread)."""
        threads, new_work, queued = ffi.new("int *"), ffi.new("int *"), ffi.new("size_t *")
        assert self.sync._h is not None
        with self.sync._h as wptr:
            rc = lib.pm_async_stats(wptr, threads, new_work, queued)
        if rc < 0:
            raise error_from(rc, new_error())
        return {"max_threads": int(threads[0]), "new_work_threads": int(new_work[0]),
                "queued": int(queued[0])}

    # ---- hooks ------------------------------------------------------------------------------------
    def subscribe(self, callback: Callable[[Event], Any], events: int = EventType.ALL,
                  dbs: Optional[Sequence[str]] = None) -> Subscription:
        """Calls ``callback(event)`` on this client's event loop for each event (as
        :meth:`PolyMongo.subscribe`): a coroutine function runs as a task, a plain function is
        called; either way on the loop's thread, in event order of their starts. Call it from
        the loop. ``unsubscribe()`` on the returned subscription stops deliveries."""
        if not callable(callback):
            raise TypeError("callback must be callable")
        loop = self._completions().loop
        tasks: "set[asyncio.Task[Any]]" = set()  # kept alive until done

        def on_loop(event: Event) -> None:
            result = callback(event)
            if asyncio.iscoroutine(result):
                task = loop.create_task(result)
                tasks.add(task)
                task.add_done_callback(tasks.discard)

        def relay(event: Event) -> None:  # polymongo's event thread
            try:
                loop.call_soon_threadsafe(on_loop, event)
            except RuntimeError:
                pass  # the loop is closed: nobody is left to tell

        return self.sync.subscribe(relay, events, dbs)

    def on_db_connect(self, callback: Callable[[Event], Any],
                      dbs: Optional[Sequence[str]] = None) -> Subscription:
        """PolyMongo's onDbConnect / onTheseDBConnect, delivered on the loop (see subscribe)."""
        return self.subscribe(callback, EventType.CONNECT, dbs)

    # ---- no I/O: as the blocking client -------------------------------------------------------
    @property
    def default_db(self) -> Optional[str]:
        return self.sync.default_db

    @property
    def codec_options(self) -> CodecOptions[Any]:
        return self.sync.codec_options

    def model(self, collection: str, **options: Any) -> "AsyncModel":
        """A collection definition, as :meth:`PolyMongo.model` (no I/O)."""
        return AsyncModel(self, self.sync.model(collection, **options))

    # ---- wrapper-level I/O -----------------------------------------------------------------
    async def ping(self, db: Optional[str] = None) -> float:
        """Round trip to the server serving ``db``, in milliseconds."""
        def decode(c: Any) -> float:
            self._status(c)
            return float(c.latency_ms)
        return cast(float, await self._wrapper_op(lib.PM_OP_PING, decode, name=_name(db)))

    async def list_databases(self) -> List[Dict[str, Any]]:
        def decode(c: Any) -> List[Dict[str, Any]]:
            self._status(c)
            return cast(List[Dict[str, Any]], json.loads(cstr(c.text) or "[]"))
        return cast(List[Dict[str, Any]], await self._wrapper_op(lib.PM_OP_LIST_DATABASES, decode))

    async def drop_database(self, db: str) -> None:
        if db is None:
            raise TypeError("drop_database needs a database name")
        await self._wrapper_op(lib.PM_OP_DROP_DATABASE, self._status, name=_db_name(db))

    async def close_all(self, timeout: float = 10.0) -> None:
        await self._wrapper_op(lib.PM_OP_CLOSE_ALL, self._status, number=int(timeout * 1000))

    async def recover(self, older_than_ms: int = 0) -> Dict[str, Any]:
        return cast(Dict[str, Any], await self._wrapper_op(lib.PM_OP_RECOVER, _report,
                                                           number=older_than_ms))

    async def start_session(self, db: Optional[str] = None, *,
                            causal_consistency: Optional[bool] = None,
                            **options: Any) -> "AsyncSession":
        """A native session on the pool serving ``db``; see :meth:`PolyMongo.start_session`."""
        o = cv.opt_arg(cv.options({"causalConsistency": causal_consistency}, options),
                       self.sync._dict_codec, "session options")

        def decode(c: Any) -> AsyncSession:
            self._status(c)
            ptr, c.session = c.session, ffi.NULL
            return AsyncSession(self, Session(self.sync, ptr, compensating=False, database=db))
        return cast(AsyncSession, await self._wrapper_op(lib.PM_OP_START_SESSION, decode,
                                                         name=_name(db), opts=o))

    async def start_compensating(self, **options: Any) -> "AsyncSession":
        """A compensating session; see :meth:`PolyMongo.start_compensating`."""
        o = cv.opt_arg(cv.options(None, options), self.sync._dict_codec, "session options")

        def decode(c: Any) -> AsyncSession:
            self._status(c)
            ptr, c.session = c.session, ffi.NULL
            return AsyncSession(self, Session(self.sync, ptr, compensating=True, database=None))
        return cast(AsyncSession, await self._wrapper_op(lib.PM_OP_START_COMPENSATING, decode,
                                                         opts=o))

    def _stream_decode(self, codec: CodecOptions[Any]) -> Decode:
        def decode(c: Any) -> AsyncChangeStream:
            self._status(c)
            ptr, c.stream = c.stream, ffi.NULL
            return AsyncChangeStream(self, ChangeStream(ptr, self.sync, codec))
        return decode

    async def watch_database(self, db: Optional[str] = None, pipeline: Optional[Any] = None,
                             **options: Any) -> "AsyncChangeStream":
        """A change stream of a whole database (options as :meth:`PolyMongo.watch_database`)."""
        codec = self.sync.codec_options
        p = _stream.pipeline_arg(pipeline, codec)
        o = _watch_opts(options, codec)
        return cast(AsyncChangeStream, await self._wrapper_op(
            lib.PM_OP_WATCH_DATABASE, self._stream_decode(codec), name=_name(db), doc=p, opts=o))

    async def watch_cluster(self, pipeline: Optional[Any] = None, **options: Any) -> "AsyncChangeStream":
        codec = self.sync.codec_options
        p = _stream.pipeline_arg(pipeline, codec)
        o = _watch_opts(options, codec)
        return cast(AsyncChangeStream, await self._wrapper_op(
            lib.PM_OP_WATCH_CLUSTER, self._stream_decode(codec), doc=p, opts=o))

    async def export_database(self, db: Optional[str], out: Any) -> None:
        """Writes database ``db`` as NDJSON (the format of :meth:`PolyMongo.export_database`) to
        ``out``: a path ("-": standard output), a file object opened for writing (text or
        binary; its ``write`` may be a coroutine function, as with aiofiles), or a callable
        receiving each line (a str without its newline; may be a coroutine function).

        The export runs on a library thread and streams through a pipe that the event loop
        reads (``loop.add_reader``), so no Python runs off the loop and memory does not grow
        with the database. An exception raised by ``out`` stops the export and is raised here
        as it was."""
        if _transfer._is_path(out):
            await self._wrapper_op(lib.PM_OP_EXPORT_FILE, self._status, name=_name(db),
                                   path=_transfer._path(out))
            return
        sink = _sink(out)
        await _pipe_export(self, _name(db), sink)

    async def import_database(self, db: Optional[str], src: Any, *,
                              batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                              **options: Any) -> Dict[str, Any]:
        """Reads NDJSON into ``db`` from ``src``: a path ("-": standard input), a file object
        opened for reading (text or binary; its ``read`` may be a coroutine function), or the
        content as bytes. Returns the report; refused documents raise :class:`WriteError` and a
        malformed line :class:`InvalidArgument`, each with the report as ``exc.report``.

        A file object is read on the event loop and streamed through a pipe to the import on a
        library thread. An exception raised by ``src`` stops the import (what came before it
        was written, as with the blocking form) and is raised here as it was, with the report
        as ``exc.report``."""
        opts = _transfer._import_options(batch_size, stop_on_error, options)
        if _transfer._is_path(src):
            return cast(Dict[str, Any], await self._wrapper_op(
                lib.PM_OP_IMPORT_FILE, _report, name=_name(db), path=_transfer._path(src),
                json_opts=opts))
        if isinstance(src, (bytes, bytearray, memoryview)):
            src = io.BytesIO(bytes(src))
        read = getattr(src, "read", None)
        if not callable(read):
            raise TypeError("src must be a path, a readable file object or bytes")
        return await _pipe_import(self, _name(db), read, opts)

    async def copy_database(self, from_db: str, to_db: str, *, batch_size: Optional[int] = None,
                            stop_on_error: Optional[bool] = None, **options: Any) -> Dict[str, Any]:
        opts = _transfer._import_options(batch_size, stop_on_error, options)
        return cast(Dict[str, Any], await self._wrapper_op(
            lib.PM_OP_COPY_DATABASE, _report, name=_db_name(from_db), path=_db_name(to_db),
            json_opts=opts))

    async def export_document(self, db: Optional[str] = None) -> Dict[str, Any]:
        codec = self.sync._dict_codec

        def decode(c: Any) -> Dict[str, Any]:
            self._status(c)
            return cast(Dict[str, Any], cv.decode(ffi.buffer(c.doc.data, c.doc.len)[:], codec))
        return cast(Dict[str, Any], await self._wrapper_op(lib.PM_OP_EXPORT_DOCUMENT, decode,
                                                           name=_name(db)))

    async def import_document(self, db: Optional[str], document: Any, *,
                              batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                              **options: Any) -> Dict[str, Any]:
        d = cv.doc_arg(document, self.sync.codec_options, "document")
        opts = _transfer._import_options(batch_size, stop_on_error, options)
        return cast(Dict[str, Any], await self._wrapper_op(
            lib.PM_OP_IMPORT_DOCUMENT, _report, name=_name(db), doc=d, json_opts=opts))


def _name(db: Optional[str]) -> Any:
    return None if db is None else _db_name(db)


def _report(c: Any) -> Dict[str, Any]:
    text = cstr(c.text)
    report = {} if text is None else json.loads(text)
    if c.code < 0:
        e = error_from(c.code, c.error)
        e.report = report  # type: ignore[attr-defined]
        raise e
    return cast(Dict[str, Any], report)


# ---- export and import through a pipe -------------------------------------------------------
# The library's export_file/import_file run on a library thread and open "/dev/fd/<n>": one end
# of a pipe whose other end the event loop serves. Our end of the library's side stays open until
# the operation has completed (so that the descriptor number cannot be reused under it).
_CHUNK = 1 << 16
# Ends a stream whose source failed: a line no import accepts, so the import stops there
# instead of taking a cut stream for a whole one.
_BROKEN = b"\n\x00 the source of this import failed\n"


async def _maybe(x: Any) -> Any:
    return await x if inspect.isawaitable(x) else x


def _sink(out: Any) -> Callable[[bytes], Awaitable[None]]:
    """What export chunks (bytes, whole lines or not) go to, as the blocking form treats
    ``out`` (binary or text file object, or a callable per line)."""
    mode = getattr(out, "mode", "")
    write = getattr(out, "write", None)
    if callable(write) and (isinstance(out, (io.RawIOBase, io.BufferedIOBase))
                            or (isinstance(mode, str) and "b" in mode)):
        async def binary(chunk: bytes) -> None:
            await _maybe(write(chunk))
        return binary
    if callable(write):
        decoder = codecs.getincrementaldecoder("utf-8")()

        async def text(chunk: bytes) -> None:
            await _maybe(write(decoder.decode(chunk)))
        return text
    if callable(out):
        rest = bytearray()

        async def lines(chunk: bytes) -> None:
            rest.extend(chunk)
            *whole, tail = bytes(rest).split(b"\n")
            rest[:] = tail
            for line in whole:
                await _maybe(out(line.decode("utf-8")))
        return lines
    raise TypeError("out must be a path, a writable file object or a callable(line)")


def _wait_fd(loop: asyncio.AbstractEventLoop, fd: int, writable: bool,
             done: "asyncio.Future[Any]") -> "asyncio.Future[None]":
    """A future set when ``fd`` is ready (or the operation ``done``)."""
    ready: "asyncio.Future[None]" = loop.create_future()

    def wake(*_: Any) -> None:
        if not ready.done():
            ready.set_result(None)

    (loop.add_writer if writable else loop.add_reader)(fd, wake)
    done.add_done_callback(wake)

    def clean(_: Any) -> None:
        (loop.remove_writer if writable else loop.remove_reader)(fd)
        done.remove_done_callback(wake)

    ready.add_done_callback(clean)
    return ready


def _sigpipe_ignored() -> bool:
    return signal.getsignal(signal.SIGPIPE) == signal.SIG_IGN


def _drain_later(loop: asyncio.AbstractEventLoop, fd: int, done: "asyncio.Future[Any]") -> None:
    """Reads and drops what the export still writes into the pipe at ``fd`` until it has
    completed, then closes ``fd`` (when a closed pipe would not fail its writes)."""
    def on_readable() -> None:
        try:
            while os.read(fd, _CHUNK):
                pass
        except BlockingIOError:
            return
        except OSError:
            pass

    def finish(_: Any) -> None:
        loop.remove_reader(fd)
        os.close(fd)

    loop.add_reader(fd, on_readable)
    done.add_done_callback(finish)


async def _pipe_export(client: "AsyncPolyMongo", name: Any,
                       sink: Callable[[bytes], Awaitable[None]]) -> None:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    try:
        os.set_blocking(r, False)
        done = client._wrapper_op(lib.PM_OP_EXPORT_FILE, AsyncPolyMongo._status, name=name,
                                  path=f"/dev/fd/{w}".encode())
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    done.add_done_callback(lambda f: _closed_after(f, w))
    reader_open = True
    try:
        while True:
            try:
                chunk = os.read(r, _CHUNK)
            except BlockingIOError:
                if done.done():
                    break  # all of it was read
                await _wait_fd(loop, r, False, done)
                continue
            if not chunk:
                break  # the end: the export completed and closed our write end too
            await sink(chunk)
        reader_open = False
        os.close(r)
        await asyncio.shield(done)  # (never cancelled: only its completion closes our end)
    except BaseException:
        # The sink failed, or the task was cancelled: the export must stop (a closed pipe
        # fails its next write) or be drained, never left blocked on a full pipe.
        if reader_open:
            if _sigpipe_ignored():
                os.close(r)
            else:
                _drain_later(loop, r, done)
        try:  # its end, which closes our write end; the first exception is the one raised
            await asyncio.shield(done)
        except BaseException:  # noqa: BLE001
            pass
        raise


async def _pipe_import(client: "AsyncPolyMongo", name: Any, read: Callable[[int], Any],
                       opts: Any) -> Dict[str, Any]:
    loop = asyncio.get_running_loop()
    r, w = os.pipe()
    try:
        os.set_blocking(w, False)
        done = client._wrapper_op(lib.PM_OP_IMPORT_FILE, _report, name=name,
                                  path=f"/dev/fd/{r}".encode(), json_opts=opts)
    except BaseException:
        os.close(r)
        os.close(w)
        raise
    done.add_done_callback(lambda f: _closed_after(f, r))

    async def put(data: bytes) -> bool:
        """Writes ``data`` into the pipe; False when the import ended before taking it."""
        view = memoryview(data)
        while view:
            if done.done():
                return False
            try:
                view = view[os.write(w, view):]
            except BlockingIOError:
                await _wait_fd(loop, w, True, done)
        return True

    failure: Optional[BaseException] = None
    try:
        while True:
            chunk = await _maybe(read(_CHUNK))
            if not chunk:
                break
            if not await put(chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)):
                break
    except BaseException as e:  # the source failed (or the task was cancelled): stop the import
        failure = e
        try:
            if isinstance(e, asyncio.CancelledError):
                os.write(w, _BROKEN)  # no waiting now: best effort (atomic, or not at all)
            else:
                await put(_BROKEN)
        except BaseException:  # noqa: BLE001 - the first failure is the one raised
            pass
    finally:
        os.close(w)
    if failure is not None:
        try:
            await asyncio.shield(done)
            report: Optional[Dict[str, Any]] = None
        except asyncio.CancelledError:
            raise failure from None
        except Exception as e:  # noqa: BLE001 - the source's exception is the one raised
            report = getattr(e, "report", None)
        try:
            failure.report = report  # type: ignore[attr-defined]
        except AttributeError:
            pass
        raise failure
    return cast(Dict[str, Any], await asyncio.shield(done))


def _closed_after(f: "asyncio.Future[Any]", fd: int) -> None:
    """The operation using the pipe's other end has completed: close ours, and take its
    outcome (raised to the awaiter, if any; never reported as unretrieved)."""
    os.close(fd)
    if not f.cancelled():
        f.exception()


def _watch_opts(options: Dict[str, Any], codec: CodecOptions[Any]) -> cv.Arg:
    o = dict(options)
    return _stream.watch_options(
        o.pop("full_document", None), o.pop("full_document_before_change", None),
        o.pop("resume_after", None), o.pop("start_after", None),
        o.pop("start_at_operation_time", None), o.pop("max_await_time_ms", None),
        o.pop("batch_size", None), o, codec)


class AsyncModel:
    """A collection definition; ``model.db("tenant_1")`` binds it to a database (no I/O)."""

    __slots__ = ("client", "sync")

    def __init__(self, client: AsyncPolyMongo, model: Model) -> None:
        self.client = client
        self.sync = model

    @property
    def collection(self) -> str:
        return self.sync.collection

    def db(self, name: Optional[str] = None) -> "AsyncDb":
        raw = ffi.NULL if name is None else _db_name(name)
        out = ffi.new("pm_db **")
        err = new_error()
        with self.sync._h as ptr:
            rc = lib.pm_model_db(ptr, raw, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return AsyncDb(self, _SubmittingDb(self.client, self.sync, out[0]))

    __getitem__ = db

    def __repr__(self) -> str:
        return f"<polymongo.AsyncModel {self.collection!r}>"


class _SubmittingDb(Db):
    """A :class:`Db` whose C calls are submissions: each mechanic returns a future instead of
    a value, so every public method of Db, unchanged, returns something to await."""

    __slots__ = ("aclient",)

    def __init__(self, aclient: AsyncPolyMongo, model: Model, ptr: Any,
                 session: Optional[Session] = None) -> None:
        super().__init__(model, ptr, session)
        self.aclient = aclient

    def _op(self, fn: Callable[..., int], args: Sequence[Any]) -> _Op:
        kind, layout = _DB_OPS[fn.__name__]
        op = _Op(kind)
        op.fill(layout, args)
        return op

    def _go(self, fn: Callable[..., int], args: Sequence[Any], decode: Decode, number: int = 0,
            session: Optional[Session] = None) -> Any:
        op = self._op(fn, args)
        op.op.number = number
        db = self if session is None else self._in(session)  # session=: the db bound to it
        with db._h as ptr:  # the C side takes its own reference to the db
            op.op.db = ptr
            held = [db.session._h] if db.session is not None else []
            return self.aclient._submit(op, decode, held)

    def _write(self, fn: Callable[..., int], args: Sequence[Any], kind: Type[_R],
               session: Optional[Session] = None, bulk: bool = False) -> _R:
        def decode(c: Any) -> Any:
            r, c.result = c.result, ffi.NULL
            result = self._take_result(r, kind)
            if c.code < 0:
                raise error_from(c.code, c.error, result, bulk)
            return result
        return cast(_R, self._go(fn, args, decode, session=session))

    def _buf_call(self, fn: Callable[..., int], args: Sequence[Any],
                  codec: Optional[CodecOptions[Any]] = None, session: Optional[Session] = None) -> Any:
        def decode(c: Any) -> Any:
            AsyncPolyMongo._status(c)
            if c.doc.data == ffi.NULL:
                return None
            return cv.decode(ffi.buffer(c.doc.data, c.doc.len)[:], codec or self._codec)
        return self._go(fn, args, decode, session=session)

    def _cursor_call(self, fn: Callable[..., int], args: Sequence[Any],
                     session: Optional[Session] = None) -> Cursor:
        in_session = self.session if session is None else session

        def decode(c: Any) -> AsyncCursor:
            AsyncPolyMongo._status(c)
            ptr, c.cursor = c.cursor, ffi.NULL
            cur = AsyncCursor(self.aclient, Cursor(ptr, self.model.client, self._codec, in_session))
            cur._take(c, _BATCH)
            return cur
        # The first batch comes with the cursor: a result that fits gives its connection back
        # within the same operation.
        return cast(Cursor, self._go(fn, args, decode, _BATCH, session=session))

    def _status_call(self, fn: Callable[..., int], args: Sequence[Any],
                     session: Optional[Session] = None) -> Any:
        return self._go(fn, args, AsyncPolyMongo._status, session=session)

    def _count_call(self, fn: Callable[..., int], args: Sequence[Any],
                    session: Optional[Session] = None) -> int:
        def decode(c: Any) -> int:
            AsyncPolyMongo._status(c)
            return int(c.count)
        return cast(int, self._go(fn, args, decode, session=session))

    def submit_create_index(self, keys: cv.KeySpec, name: Optional[str], unique: Optional[bool],
                            options: Dict[str, Any]) -> "asyncio.Future[Any]":
        k = self._doc(cv.key_spec(keys), "keys")
        o = self._opts({"name": name, "unique": unique}, options)

        def decode(c: Any) -> str:
            AsyncPolyMongo._status(c)
            return cstr(c.text) or ""
        return cast("asyncio.Future[Any]", self._go(lib.pm_db_create_index, (k.ptr, k.len, o.ptr, o.len), decode))

    def submit_watch(self, pipeline: Any, options: Dict[str, Any]) -> "asyncio.Future[Any]":
        p = _stream.pipeline_arg(pipeline, self._codec)
        o = _watch_opts(options, self._codec)
        return cast("asyncio.Future[Any]", self._go(lib.pm_db_watch, (p.ptr, p.len, o.ptr, o.len),
                                                    self.aclient._stream_decode(self._codec)))


async def _aw(x: Any) -> Any:
    return await cast(Awaitable[Any], x)


def _kw(options: Dict[str, Any]) -> Dict[str, Any]:
    """``session=`` as the blocking methods take it: an AsyncSession gives its Session."""
    s = options.get("session")
    if isinstance(s, AsyncSession):
        options = dict(options, session=s.sync)
    return options


class AsyncDb:
    """A model bound to one database, with every operation a coroutine. The arguments,
    options, results and errors are :class:`~polymongo.Db`'s (``await db.insert_one(doc)``
    returns an :class:`InsertOneResult`); ``find``/``aggregate``/``list_indexes`` return an
    :class:`AsyncCursor` (``async for doc in await db.find(...)`` or, without awaiting,
    ``async for doc in db.find(...)``)."""

    __slots__ = ("model", "sync")

    def __init__(self, model: AsyncModel, db: _SubmittingDb) -> None:
        self.model = model
        self.sync = db

    @property
    def name(self) -> str:
        return self.sync.name

    @property
    def collection_name(self) -> str:
        return self.sync.collection_name

    def __repr__(self) -> str:
        return f"<polymongo.AsyncDb {self.name}.{self.collection_name}>"

    def with_session(self, session: "AsyncSession") -> "AsyncDb":
        """This db with every operation in ``session`` (no I/O); see :meth:`Db.with_session`."""
        s = session.sync
        out = ffi.new("pm_db **")
        err = new_error()
        from ._ffi import in_flight
        with in_flight(self.sync._h) as ptr, in_flight(s._h) as sptr:
            rc = lib.pm_db_with_session(ptr, sptr, out, err)
        if rc < 0:
            raise error_from(rc, err)
        return AsyncDb(self.model, _SubmittingDb(self.model.client, self.sync.model, out[0], s))

    # writes
    async def insert_one(self, document: Any, **options: Any) -> InsertOneResult:
        return cast(InsertOneResult, await _aw(self.sync.insert_one(document, **_kw(options))))

    async def insert_many(self, documents: Any, **options: Any) -> InsertManyResult:
        return cast(InsertManyResult, await _aw(self.sync.insert_many(documents, **_kw(options))))

    async def update_one(self, filter: Any, update: Any, **options: Any) -> UpdateResult:
        return cast(UpdateResult, await _aw(self.sync.update_one(filter, update, **_kw(options))))

    async def update_many(self, filter: Any, update: Any, **options: Any) -> UpdateResult:
        return cast(UpdateResult, await _aw(self.sync.update_many(filter, update, **_kw(options))))

    async def replace_one(self, filter: Any, replacement: Any, **options: Any) -> UpdateResult:
        return cast(UpdateResult, await _aw(self.sync.replace_one(filter, replacement, **_kw(options))))

    async def delete_one(self, filter: Any, **options: Any) -> DeleteResult:
        return cast(DeleteResult, await _aw(self.sync.delete_one(filter, **_kw(options))))

    async def delete_many(self, filter: Any, **options: Any) -> DeleteResult:
        return cast(DeleteResult, await _aw(self.sync.delete_many(filter, **_kw(options))))

    async def bulk_write(self, requests: Any, **options: Any) -> BulkWriteResult:
        return cast(BulkWriteResult, await _aw(self.sync.bulk_write(requests, **_kw(options))))

    # reads
    def find(self, *args: Any, **kwargs: Any) -> "AsyncCursor":
        """An :class:`AsyncCursor`; the query is sent on the first ``await`` or iteration."""
        return AsyncCursor(self.model.client, None, lambda: self.sync.find(*args, **_kw(kwargs)))

    async def find_one(self, *args: Any, **kwargs: Any) -> Optional[Any]:
        return await _aw(self.sync.find_one(*args, **_kw(kwargs)))

    async def find_one_and_update(self, filter: Any, update: Any, **options: Any) -> Optional[Any]:
        return await _aw(self.sync.find_one_and_update(filter, update, **_kw(options)))

    async def find_one_and_replace(self, filter: Any, replacement: Any, **options: Any) -> Optional[Any]:
        return await _aw(self.sync.find_one_and_replace(filter, replacement, **_kw(options)))

    async def find_one_and_delete(self, filter: Any, **options: Any) -> Optional[Any]:
        return await _aw(self.sync.find_one_and_delete(filter, **_kw(options)))

    async def count_documents(self, filter: Any = None, **options: Any) -> int:
        return cast(int, await _aw(self.sync.count_documents(filter, **_kw(options))))

    async def estimated_document_count(self, **options: Any) -> int:
        return cast(int, await _aw(self.sync.estimated_document_count(**_kw(options))))

    async def distinct(self, key: str, filter: Any = None, **options: Any) -> List[Any]:
        k = cv.c_name(key, "key")
        f = self.sync._filter(filter)
        o = self.sync._opts(None, options)
        reply = await _aw(self.sync._buf_call(lib.pm_db_distinct, (k, f.ptr, f.len, o.ptr, o.len)))
        return list(reply.get("values", [])) if reply is not None else []

    def aggregate(self, pipeline: Any, **options: Any) -> "AsyncCursor":
        return AsyncCursor(self.model.client, None, lambda: self.sync.aggregate(pipeline, **_kw(options)))

    async def watch(self, pipeline: Optional[Any] = None, **options: Any) -> "AsyncChangeStream":
        """A change stream of this collection in this database (options as :meth:`Db.watch`)."""
        return cast(AsyncChangeStream, await self.sync.submit_watch(pipeline, options))

    # indexes and the collection
    async def create_index(self, keys: cv.KeySpec, *, name: Optional[str] = None,
                           unique: Optional[bool] = None, **options: Any) -> str:
        return cast(str, await self.sync.submit_create_index(keys, name, unique, options))

    def list_indexes(self) -> "AsyncCursor":
        return AsyncCursor(self.model.client, None, self.sync.list_indexes)

    async def index_information(self) -> Dict[str, Dict[str, Any]]:
        return {ix["name"]: ix async for ix in self.list_indexes()}

    async def drop_index(self, index: Union[str, cv.KeySpec]) -> None:
        if not isinstance(index, str) or index == "":
            index = _index_name(index)
        await _aw(self.sync._status_call(lib.pm_db_drop_index, (cv.c_name(index, "index"),)))

    async def drop(self) -> None:
        await _aw(self.sync._status_call(lib.pm_db_drop_collection, ()))

    async def command(self, command: Any, value: Any = 1, **kwargs: Any) -> Dict[str, Any]:
        return cast(Dict[str, Any], await _aw(self.sync.command(command, value, **kwargs)))


class AsyncCursor:
    """Query results: ``async for doc in cursor``, or ``await cursor.to_list()``. Documents come
    a batch per submission; a cursor holds one pooled connection until exhausted or closed
    (``close()``, or ``async with``)."""

    __slots__ = ("_client", "_sync", "_open", "_buf", "_done", "_next")

    def __init__(self, client: AsyncPolyMongo, cursor: Optional[Cursor],
                 open_: Optional[Callable[[], Any]] = None) -> None:
        self._client = client
        self._sync = cursor
        self._open = open_
        self._buf: Deque[Any] = deque()
        self._done = False
        self._next: Optional["asyncio.Future[Any]"] = None

    async def _cursor(self) -> Cursor:
        if self._sync is None:
            assert self._open is not None
            opened = cast(AsyncCursor, await _aw(self._open()))
            self._sync, self._buf, self._done = opened._sync, opened._buf, opened._done
            self._open = None
        assert self._sync is not None
        return self._sync

    def __await__(self) -> Any:  # ``await db.find(...)`` sends the query now
        async def opened() -> "AsyncCursor":
            await self._cursor()
            return self
        return opened().__await__()

    def __aiter__(self) -> "AsyncCursor":
        return self

    async def __anext__(self) -> Any:
        if not self._buf and not self._done:
            await self._fill()
        if self._buf:
            return self._buf.popleft()
        raise StopAsyncIteration

    def _take(self, c: Any, asked: int) -> None:
        """Decodes the documents of a completion (one after the other in c.doc); fewer than
        asked means the end."""
        assert self._sync is not None
        codec = self._sync._codec
        raw = ffi.buffer(c.doc.data, c.doc.len)[:] if c.count else b""
        off = 0
        for _ in range(int(c.count)):
            n = int.from_bytes(raw[off:off + 4], "little")
            self._buf.append(cv.decode(raw[off:off + n], codec))
            off += n
        if c.count < asked:
            self._done = True
            self._sync._exhausted = True
            self._sync.close()  # its connection went back already; free the handle now

    async def _fill(self) -> None:
        cur = await self._cursor()
        if self._done:
            return
        op = _Op(lib.PM_OP_CURSOR_NEXT)
        op.op.number = _BATCH

        def decode(c: Any) -> None:
            if c.code < 0:
                raise error_from(c.code, c.error)
            self._take(c, _BATCH)

        with cur._h as ptr:
            op.op.cursor = ptr
        await self._client._submit(op, decode, [cur._h])

    async def next(self) -> Any:
        return await self.__anext__()

    async def to_list(self, length: Optional[int] = None) -> List[Any]:
        """Up to ``length`` (default: all) remaining documents."""
        out: List[Any] = []
        async for doc in self:
            out.append(doc)
            if length is not None and len(out) >= length:
                break
        return out

    @property
    def alive(self) -> bool:
        return not self._done and (self._sync is None or self._sync.alive)

    async def close(self) -> None:
        if self._sync is not None:
            self._sync.close()
        self._done = True

    async def __aenter__(self) -> "AsyncCursor":
        await self._cursor()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncChangeStream:
    """A change stream: ``async for event in stream`` (ends when the stream is closed), or
    ``await stream.next(timeout)`` (None when none came in time). Each wait is a series of
    short waits on a library thread, so many streams share the executor."""

    __slots__ = ("_client", "sync")

    def __init__(self, client: AsyncPolyMongo, stream: ChangeStream) -> None:
        self._client = client
        self.sync = stream

    async def _next_once(self, timeout_ms: int) -> Optional[Any]:
        op = _Op(lib.PM_OP_STREAM_NEXT)
        op.op.number = timeout_ms
        codec = self.sync._codec

        def decode(c: Any) -> Optional[Any]:
            if c.code < 0:
                raise error_from(c.code, c.error)
            if c.code == 0:
                return None
            return cv.decode(ffi.buffer(c.doc.data, c.doc.len)[:], codec)

        with self.sync._h as ptr:
            op.op.stream = ptr
        return await self._client._submit(op, decode, [self.sync._h])

    async def next(self, timeout: Optional[float] = None) -> Optional[Any]:
        """The next event, or None when none came within ``timeout`` seconds (None: wait)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + max(0.0, timeout)
        while True:
            left = _STREAM_SLICE_MS if deadline is None else \
                max(0, min(_STREAM_SLICE_MS, int((deadline - loop.time()) * 1000)))
            event = await self._next_once(left)
            if event is not None or (deadline is not None and loop.time() >= deadline):
                return event

    async def try_next(self) -> Optional[Any]:
        return await self.next(0)

    def __aiter__(self) -> "AsyncChangeStream":
        return self

    async def __anext__(self) -> Any:
        try:
            event = await self.next()
        except Closed:
            raise StopAsyncIteration from None
        return event

    @property
    def resume_token(self) -> Optional[Dict[str, Any]]:
        return self.sync.resume_token  # no I/O

    async def close(self) -> None:
        self.sync.close()

    async def __aenter__(self) -> "AsyncChangeStream":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()


class AsyncTransaction:
    """``async with session.start_transaction():`` commits when the block ends normally and
    aborts when it raises (unless the block ended the transaction itself)."""

    __slots__ = ("session", "_options")

    def __init__(self, session: "AsyncSession", options: Dict[str, Any]) -> None:
        self.session = session
        self._options = options

    def __await__(self) -> Any:  # ``await session.start_transaction()`` starts it
        async def started() -> "AsyncTransaction":
            await self.session._start(self._options)
            return self
        return started().__await__()

    async def __aenter__(self) -> "AsyncSession":
        await self.session._start(self._options)
        return self.session

    async def __aexit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        s = self.session
        if not s.in_transaction:
            return
        if exc_type is None:
            await s.commit_transaction()
            return
        try:
            await s.abort_transaction()
        except Exception:
            pass  # the block's exception is the one that matters


class AsyncSession:
    """A session (native or compensating) whose transaction calls are coroutines. Bind dbs
    with :meth:`AsyncDb.with_session`; operations on one session run in submission order."""

    __slots__ = ("_client", "sync")

    def __init__(self, client: AsyncPolyMongo, session: Session) -> None:
        self._client = client
        self.sync = session

    @property
    def in_transaction(self) -> bool:
        return self.sync.in_transaction

    def _session_op(self, kind: int, opts: Optional[cv.Arg] = None) -> "asyncio.Future[Any]":
        op = _Op(kind)
        if opts is not None:
            op.op.opts, op.op.opts_len = opts.ptr, opts.len
            op.keep.append(opts)
        with self.sync._h as ptr:
            op.op.session = ptr
        return self._client._submit(op, AsyncPolyMongo._status, [self.sync._h])

    async def _start(self, options: Dict[str, Any]) -> None:
        o = self.sync._opts(transaction_options(
            options.pop("read_concern", None), options.pop("write_concern", None),
            options.pop("read_preference", None), options.pop("max_commit_time_ms", None),
            options))
        await self._session_op(lib.PM_OP_START_TRANSACTION, o)

    def start_transaction(self, **options: Any) -> AsyncTransaction:
        """``async with session.start_transaction():`` (or ``await`` it) starts a transaction."""
        return AsyncTransaction(self, dict(options))

    async def commit_transaction(self) -> None:
        await self._session_op(lib.PM_OP_COMMIT)

    async def abort_transaction(self) -> None:
        await self._session_op(lib.PM_OP_ABORT)

    async def with_transaction(self, callback: Callable[["AsyncSession"], Awaitable[_T]], *,
                               timeout: Optional[float] = None, **options: Any) -> _T:
        """Runs ``await callback(session)`` in a transaction and commits it; returns what the
        callback returned, with the rules of the blocking :meth:`Session.with_transaction`:
        an exception raised by the callback aborts the transaction and propagates, unless an
        operation of the session failed with a transient transaction error (a write
        conflict): then the whole transaction runs again, callback included, after a backoff
        (5 ms doubling up to 500 ms, with jitter); an unknown commit result retries the
        commit; both for up to ``timeout`` seconds (default 120). A callback that commits or
        aborts the transaction itself ends it there."""
        if not callable(callback):
            raise TypeError("callback must be callable (it receives the session)")
        if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, (int, float))):
            raise TypeError("timeout must be a number of seconds")
        if timeout is not None and timeout <= 0:
            raise ValueError("timeout must be > 0 seconds")
        loop = asyncio.get_running_loop()
        deadline = loop.time() + (120.0 if timeout is None else float(timeout))
        attempt = 0
        while True:
            if attempt:
                cap = min(0.5, 0.005 * (1 << min(attempt - 1, 7)))
                await asyncio.sleep(random.uniform(cap / 2, cap))
            attempt += 1
            await self._start(dict(options))
            try:
                value = await callback(self)
            except BaseException as e:
                transient = self._labels() & lib.PM_TXN_TRANSIENT
                if self.in_transaction:
                    try:
                        await self.abort_transaction()
                    except Exception:  # noqa: BLE001 - the callback's exception matters
                        pass
                if transient and isinstance(e, Exception) and loop.time() < deadline:
                    continue
                raise
            if not self.in_transaction:
                return value  # the callback committed or aborted itself
            if await self._commit_retrying(loop, deadline):
                return value

    async def _commit_retrying(self, loop: asyncio.AbstractEventLoop, deadline: float) -> bool:
        """Commits; True when committed, False to run the whole transaction again."""
        while True:
            try:
                await self.commit_transaction()
                return True
            except Exception:
                labels = self._labels()
                if labels & lib.PM_TXN_UNKNOWN_COMMIT and loop.time() < deadline:
                    continue
                if labels & lib.PM_TXN_TRANSIENT and loop.time() < deadline:
                    return False
                raise

    def _labels(self) -> int:
        """The labels the retries go by (pm_session_transaction_labels)."""
        with self.sync._h as ptr:
            return int(lib.pm_session_transaction_labels(ptr))

    async def close(self) -> None:
        self.sync.close()

    async def __aenter__(self) -> "AsyncSession":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()
