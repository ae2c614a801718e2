"""Export, import, copy and drop of whole databases (bulk.h).

    pm.export_database("tenant_1", "tenant_1.ndjson")            # a path, or a file object
    report = pm.import_database("tenant_1_restored", "tenant_1.ndjson", batch_size=500)
    report = pm.copy_database("tenant_1", "tenant_1_copy")       # any pool or cluster
    doc = pm.export_document("tenant_1")                          # in memory, and back:
    pm.import_document("tenant_1_again", doc)

The file format is NDJSON with canonical Extended JSON documents (every BSON type round-trips).
File objects and callbacks are driven from C on the calling thread: an exception raised by
one (a write that fails, a progress callback that raises) stops the transfer and is raised
again, as it was, once C has returned.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Callable, Dict, Optional, Tuple

from . import _convert as cv
from ._ffi import cstr, ffi, lib, new_error
from .errors import error_from

if TYPE_CHECKING:
    from .client import PolyMongo

__all__ = ["export_database", "import_database", "copy_database", "export_document",
           "import_document", "drop_database"]

Progress = Optional[Callable[[int, int], Any]]


class _Transfer:
    """What the C callbacks of one call need: the Python endpoint, the progress callback, the
    last counts, the first exception (after which every callback asks C to stop)."""

    __slots__ = ("write", "read", "progress", "documents", "bytes", "exc", "pending", "eof")

    def __init__(self, progress: Progress) -> None:
        if progress is not None and not callable(progress):
            raise TypeError("progress must be callable(documents, bytes)")
        self.progress = progress
        self.write: Optional[Callable[[str], Any]] = None
        self.read: Optional[Callable[[int], Any]] = None
        self.documents = 0
        self.bytes = 0
        self.exc: Optional[BaseException] = None
        self.pending = b""
        self.eof = False

    def counts(self) -> Dict[str, int]:
        return {"documents": self.documents, "bytes": self.bytes}

    def raise_stored(self) -> None:
        exc, self.exc = self.exc, None
        if exc is not None:
            try:
                raise exc
            finally:
                del exc


@ffi.def_extern()
def _pm_py_progress(documents: int, nbytes: int, user_data: Any) -> None:
    t: _Transfer = ffi.from_handle(user_data)
    t.documents, t.bytes = int(documents), int(nbytes)
    if t.progress is None or t.exc is not None:
        return
    try:
        t.progress(t.documents, t.bytes)
    except BaseException as e:  # noqa: BLE001 - the next read/write stops the transfer
        t.exc = e


@ffi.def_extern(error=1)
def _pm_py_write(line: Any, length: int, user_data: Any) -> int:
    t: _Transfer = ffi.from_handle(user_data)
    if t.exc is not None:
        return 1
    try:
        assert t.write is not None
        t.write(ffi.unpack(line, length).decode("utf-8"))
    except BaseException as e:  # noqa: BLE001 - raised again after C returns
        t.exc = e
        return 1
    return 0


@ffi.def_extern(error=-1)
def _pm_py_read(buf: Any, cap: int, user_data: Any) -> int:
    t: _Transfer = ffi.from_handle(user_data)
    if t.exc is not None:
        return -1
    try:
        assert t.read is not None
        while len(t.pending) < cap and not t.eof:
            chunk = t.read(cap)
            if not chunk:
                t.eof = True
            else:
                t.pending += chunk.encode("utf-8") if isinstance(chunk, str) else bytes(chunk)
        n = min(cap, len(t.pending))
        ffi.memmove(buf, t.pending[:n], n)
        t.pending = t.pending[n:]
        return n
    except BaseException as e:  # noqa: BLE001 - raised again after C returns
        t.exc = e
        return -1


def _db(name: Optional[str]) -> Any:
    from .client import _db_name

    return ffi.NULL if name is None else _db_name(name)


def _is_path(x: Any) -> bool:
    return isinstance(x, (str, os.PathLike))


def _path(x: Any) -> bytes:
    return cv.c_name(os.fspath(x), "path")


def _import_options(batch_size: Optional[int], stop_on_error: Optional[bool],
                    extra: Mapping[str, Any]) -> Any:
    if batch_size is not None and (not isinstance(batch_size, int) or isinstance(batch_size, bool)):
        raise TypeError("batch_size must be an int")
    opts = cv.options({"batchSize": batch_size, "stopOnError": stop_on_error}, extra)
    return json.dumps(opts).encode("utf-8") if opts else ffi.NULL


def _take_report(out: Any) -> Optional[Dict[str, Any]]:
    try:
        text = cstr(out[0])
        return None if text is None else json.loads(text)
    finally:
        lib.pm_free(out[0])


def _report_call(client: "PolyMongo", t: Optional[_Transfer], fn: Callable[..., int],
                 *args: Any) -> Dict[str, Any]:
    """Runs an import-like call; returns its report, or raises (the stored Python exception
    first) with the report, when there is one, as ``exc.report``."""
    out = ffi.new("char **")
    err = new_error()
    assert client._h is not None
    with client._h as ptr:
        rc = fn(ptr, *args, out, err)
    report = _take_report(out)
    if t is not None and t.exc is not None:
        try:
            t.exc.report = report  # type: ignore[attr-defined]
        except AttributeError:
            pass
        t.raise_stored()
    if rc < 0:
        e = error_from(rc, err)
        e.report = report  # type: ignore[attr-defined]
        raise e
    return report if report is not None else {}


def _progress_args(handle: Any) -> Tuple[Any, Any]:
    # Always passed, also without a Python progress callback: its final call gives the totals
    # that export_database returns.
    return lib._pm_py_progress, handle


def export_database(client: "PolyMongo", db: Optional[str], out: Any,
                    progress: Progress = None) -> Dict[str, int]:
    """Writes database ``db`` as NDJSON to ``out``: a path ("-": standard output), a file
    object opened for writing (text or binary), or a callable receiving each line (a str
    without its newline). Returns ``{"documents", "bytes"}``."""
    t = _Transfer(progress)
    handle = ffi.new_handle(t)
    raw = _db(db)
    err = new_error()
    if _is_path(out):
        path = _path(out)
        assert client._h is not None
        with client._h as ptr:
            rc = lib.pm_wrapper_export_file(ptr, raw, path, *_progress_args(handle), err)
    else:
        mode = getattr(out, "mode", "")
        if isinstance(out, (io.RawIOBase, io.BufferedIOBase)) or (isinstance(mode, str) and "b" in mode):
            t.write = lambda line, w=out.write: w(line.encode("utf-8") + b"\n")
        elif hasattr(out, "write"):
            t.write = lambda line, w=out.write: w(line + "\n")
        elif callable(out):
            t.write = out
        else:
            raise TypeError("out must be a path, a writable file object or a callable(line)")
        assert client._h is not None
        with client._h as ptr:
            rc = lib.pm_wrapper_export(ptr, raw, lib._pm_py_write, handle,
                                       *_progress_args(handle), err)
    t.raise_stored()
    if rc < 0:
        raise error_from(rc, err)
    return t.counts()


def import_database(client: "PolyMongo", db: Optional[str], src: Any, *,
                    batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                    progress: Progress = None, **options: Any) -> Dict[str, Any]:
    """Reads NDJSON into database ``db`` from ``src``: a path ("-": standard input), a file
    object opened for reading (text or binary), or the content as bytes. Returns the report
    (``{"database", "lines", "documents", "failures", "collections": [...], "ok", ...}``).
    Refused documents raise :class:`WriteError` and a malformed line
    :class:`InvalidArgument`, each with the report as ``exc.report``."""
    opts = _import_options(batch_size, stop_on_error, options)
    t = _Transfer(progress)
    handle = ffi.new_handle(t)
    raw = _db(db)
    if _is_path(src):
        return _report_call(client, t, lib.pm_wrapper_import_file, raw, _path(src), opts,
                            *_progress_args(handle))
    if isinstance(src, (bytes, bytearray, memoryview)):
        src = io.BytesIO(bytes(src))
    if not hasattr(src, "read"):
        raise TypeError("src must be a path, a readable file object or bytes")
    t.read = src.read
    return _report_call(client, t, lib.pm_wrapper_import, raw, lib._pm_py_read, handle, opts,
                        *_progress_args(handle))


def copy_database(client: "PolyMongo", from_db: str, to_db: str, *,
                  batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                  progress: Progress = None, **options: Any) -> Dict[str, Any]:
    """Copies database ``from_db`` into ``to_db`` (served by any pool or cluster), streaming.
    Returns the import report."""
    opts = _import_options(batch_size, stop_on_error, options)
    t = _Transfer(progress)
    handle = ffi.new_handle(t)
    return _report_call(client, t, lib.pm_wrapper_copy_database, _db(from_db), _db(to_db), opts,
                        *_progress_args(handle))


def export_document(client: "PolyMongo", db: Optional[str]) -> Dict[str, Any]:
    """Database ``db`` in memory: ``{"database", "exportedAt", "collections": {name:
    {"options", "indexes", "documents"}}}`` (documents decoded with the codec options)."""
    buf = ffi.new("pm_buf *")
    err = new_error()
    try:
        assert client._h is not None
        with client._h as ptr:
            rc = lib.pm_wrapper_export_document(ptr, _db(db), buf, err)
        if rc < 0:
            raise error_from(rc, err)
        doc: Dict[str, Any] = cv.decode(ffi.buffer(buf.data, buf.len)[:],
                                        client.codec_options.with_options(document_class=dict))
        return doc
    finally:
        lib.pm_buf_free(buf)


def import_document(client: "PolyMongo", db: Optional[str], document: Any, *,
                    batch_size: Optional[int] = None, stop_on_error: Optional[bool] = None,
                    **options: Any) -> Dict[str, Any]:
    """Imports the in-memory form (as :func:`export_document` returns) into ``db``; returns the
    report."""
    d = cv.doc_arg(document, client.codec_options, "document")
    opts = _import_options(batch_size, stop_on_error, options)
    return _report_call(client, None, lib.pm_wrapper_import_document, _db(db), d.ptr, d.len, opts)


def drop_database(client: "PolyMongo", db: str) -> None:
    """Drops database ``db``; models apply their indexes there again on next use."""
    if db is None:
        raise TypeError("drop_database needs a database name")
    client._status(lib.pm_wrapper_drop_database, _db(db))
