"""Cursors: iterators of decoded documents over a ``pm_cursor``."""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Iterator, List, Optional

from bson.codec_options import CodecOptions

from ._convert import decode
from ._ffi import Handle, ffi, lib, new_error
from .errors import error_from

if TYPE_CHECKING:
    from .client import PolyMongo
    from .session import Session

__all__ = ["Cursor"]


class Cursor(Iterator[Any]):
    """The results of :meth:`Db.find`, :meth:`Db.aggregate` or :meth:`Db.list_indexes`.

    Iterate it (``for doc in cursor``) to get documents (dicts by default). A cursor holds one
    pooled connection until it is exhausted or closed; ``close()``, or leaving a ``with`` block,
    releases it early and kills the server-side cursor. The garbage collector closes forgotten
    cursors too, but a long-lived unreferenced-yet-not-collected cursor keeps its connection, so
    prefer ``with``.

    A cursor may be used from one thread at a time; concurrent ``next()`` calls are serialised
    (for a db bound to a session, with every other use of that session).
    Iterating a cursor that was closed (or whose PolyMongo was closed) raises
    :class:`~polymongo.errors.Closed`; an exhausted cursor just stops.
    """

    __slots__ = ("_h", "_codec", "_lock", "_exhausted", "_data", "_len", "_err", "_root",
                 "__weakref__")

    def __init__(self, ptr: Any, root: "PolyMongo", codec: CodecOptions[Any],
                 session: Optional["Session"] = None) -> None:
        self._root = root
        if session is None:
            self._h = Handle(ptr, lib.pm_cursor_free, "cursor")
            self._lock: Any = threading.Lock()
        else:
            # A cursor of a session-bound db runs on the session's connection: it takes the
            # session's lock (one lock, so no lock-order inversion with the session's calls).
            self._h = session._adopt(ptr, lib.pm_cursor_free, "cursor")
            self._lock = session._lock
        self._codec = codec
        self._exhausted = False
        self._data = ffi.new("const uint8_t **")
        self._len = ffi.new("size_t *")
        self._err = new_error()

    def __iter__(self) -> "Cursor":
        return self

    def __next__(self) -> Any:
        with self._lock:
            if self._exhausted:
                raise StopIteration
            with self._h as ptr:
                rc = lib.pm_cursor_next(ptr, self._data, self._len, self._err)
                if rc == 1:
                    raw = ffi.buffer(self._data[0], self._len[0])[:]  # borrowed until next call
            if rc == 1:
                return decode(raw, self._codec)
            if rc == 0:
                self._exhausted = True
                self._h.close()  # give the connection back now
                raise StopIteration
            raise error_from(rc, self._err)

    def next(self) -> Any:
        return self.__next__()

    def to_list(self, length: Optional[int] = None) -> List[Any]:
        """Up to ``length`` (default: all) remaining documents."""
        out: List[Any] = []
        for doc in self:
            out.append(doc)
            if length is not None and len(out) >= length:
                break
        return out

    @property
    def cursor_id(self) -> int:
        """The server-side cursor id: 0 once the server has no more results for it."""
        if self._exhausted:
            return 0
        with self._h as ptr:
            return int(lib.pm_cursor_id(ptr))

    @property
    def alive(self) -> bool:
        """False once exhausted or closed."""
        return not (self._exhausted or self._h.closed)

    def close(self) -> None:
        """Releases the cursor's connection and kills the server-side cursor. Idempotent."""
        self._h.close()

    def __enter__(self) -> "Cursor":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "exhausted" if self._exhausted else ("closed" if self._h.closed else "open")
        return f"<polymongo.Cursor {state}>"
