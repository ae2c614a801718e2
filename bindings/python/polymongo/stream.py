"""Change streams (stream.h): :class:`ChangeStream`, returned by :meth:`Db.watch`,
:meth:`PolyMongo.watch_database`, :meth:`PolyMongo.watch_cluster` and
:meth:`PolyMongo.subscribe_stream`."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ContextManager, Dict, Iterator, Optional, Sequence

from bson.codec_options import CodecOptions

from . import _convert as cv
from ._ffi import Handle, ffi, lib, new_error
from .errors import Closed, error_from

if TYPE_CHECKING:
    from .client import PolyMongo

__all__ = ["ChangeStream"]

# While waiting without a deadline, one C call waits at most this long, so that Ctrl-C and
# close() are noticed between calls.
_SLICE_MS = 500


def pipeline_arg(pipeline: Optional[Any], codec: CodecOptions[Any]) -> cv.Arg:
    """None, a list of stages, or ``{"pipeline": [...]}`` as the C API's pipeline argument."""
    if pipeline is None:
        return cv.Arg(None)
    if isinstance(pipeline, (str, bytes)) or not isinstance(pipeline, (list, tuple, Mapping)):
        raise TypeError(f"pipeline must be a list of stages, not {type(pipeline).__name__}")
    doc = pipeline if isinstance(pipeline, Mapping) else {"pipeline": list(pipeline)}
    return cv.doc_arg(doc, codec, "pipeline")


def watch_options(full_document: Optional[str], full_document_before_change: Optional[str],
                  resume_after: Any, start_after: Any, start_at_operation_time: Any,
                  max_await_time_ms: Optional[int], batch_size: Optional[int],
                  extra: Mapping[str, Any], codec: CodecOptions[Any]) -> cv.Arg:
    return cv.opt_arg(cv.options(
        {"fullDocument": full_document, "fullDocumentBeforeChange": full_document_before_change,
         "resumeAfter": resume_after, "startAfter": start_after,
         "startAtOperationTime": start_at_operation_time, "maxAwaitTimeMS": max_await_time_ms,
         "batchSize": batch_size},
        extra), codec, "watch options")


def _timeout_ms(timeout: Optional[float]) -> Optional[int]:
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, (int, float)):
        raise TypeError(f"timeout must be a number of seconds or None, not {type(timeout).__name__}")
    if timeout < 0:
        raise ValueError("timeout must not be negative")
    return int(timeout * 1000)


class ChangeStream(Iterator[Any]):
    """A change stream: ``next(timeout)`` returns the next change event (a dict by default),
    or None when none came within ``timeout`` seconds (None: wait for one).

    Iterating (``for event in stream``) waits for each event and stops when the stream is
    closed, here or by :meth:`PolyMongo.close_streams` / :meth:`PolyMongo.drop_database`;
    ``next()`` on a closed stream raises :class:`~polymongo.errors.Closed` instead.
    ``resume_token`` is the token to pass back as ``resume_after=`` or ``start_after=``.

    A stream holds one pooled connection (or, for subscribers, a share of one) until
    ``close()``, the end of a ``with`` block, or garbage collection. Use it from one thread at a
    time (concurrent calls are serialised); :meth:`PolyMongo.close_streams` may close it from
    any thread.
    """

    __slots__ = ("_h", "_codec", "_lock", "_data", "_len", "_err", "_root", "__weakref__")

    def __init__(self, ptr: Any, root: "PolyMongo", codec: CodecOptions[Any]) -> None:
        self._root = root
        self._h = Handle(ptr, lib.pm_stream_free, "change stream")
        self._codec = codec
        self._lock = threading.Lock()
        self._data = ffi.new("const uint8_t **")
        self._len = ffi.new("size_t *")
        self._err = new_error()

    def _next_once(self, timeout_ms: int) -> Optional[Any]:
        with self._h as ptr:
            rc = lib.pm_stream_next(ptr, timeout_ms, self._data, self._len, self._err)
            if rc == 1:
                raw = ffi.buffer(self._data[0], self._len[0])[:]  # borrowed until next call
        if rc == 1:
            return cv.decode(raw, self._codec)
        if rc == 0:
            return None
        raise error_from(rc, self._err)

    def next(self, timeout: Optional[float] = None) -> Optional[Any]:
        """The next event, or None when none came within ``timeout`` seconds (None: wait until
        one comes). Raises :class:`Closed` once the stream is closed."""
        ms = _timeout_ms(timeout)
        with self._lock:
            if ms is not None:
                return self._next_once(ms)
            while True:
                event = self._next_once(_SLICE_MS)
                if event is not None:
                    return event

    def try_next(self) -> Optional[Any]:
        """The next event if one is already there (or comes within one round trip), else None."""
        return self.next(0)

    def __iter__(self) -> "ChangeStream":
        return self

    def __next__(self) -> Any:
        try:
            event = self.next()
        except Closed:
            raise StopIteration from None
        assert event is not None
        return event

    @property
    def resume_token(self) -> Optional[Dict[str, Any]]:
        """The token to resume after the last event returned (None before the first one when
        the server gave none)."""
        buf = ffi.new("pm_buf *")
        err = new_error()
        try:
            with self._lock, self._h as ptr:
                rc = lib.pm_stream_resume_token(ptr, buf, err)
            if rc < 0:
                raise error_from(rc, err)
            if buf.data == ffi.NULL or buf.len == 0:
                return None
            token = cv.decode(ffi.buffer(buf.data, buf.len)[:], cv.DEFAULT_CODEC_OPTIONS)
            return token or None
        finally:
            lib.pm_buf_free(buf)

    @property
    def alive(self) -> bool:
        """False once closed here (a stream closed by close_streams shows it on next())."""
        return not self._h.closed

    def close(self) -> None:
        """Closes the stream and gives its connection back. Idempotent."""
        self._h.close()

    def __enter__(self) -> "ChangeStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<polymongo.ChangeStream {'closed' if self._h.closed else 'open'}>"


def open_stream(root: "PolyMongo", fn: Any, handle: ContextManager[Any], args: Sequence[Any],
                codec: CodecOptions[Any]) -> ChangeStream:
    """Calls ``fn(handle, *args, &out, err)`` and wraps the new stream."""
    out = ffi.new("pm_stream **")
    err = new_error()
    with handle as ptr:
        rc = fn(ptr, *args, out, err)
    if rc < 0:
        lib.pm_stream_free(out[0])  # NULL-safe; a failed call leaves NULL
        raise error_from(rc, err)
    return ChangeStream(out[0], root, codec)
