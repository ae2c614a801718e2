"""The compiled cffi module, the version guard, and the owner of every C handle.

Every C call is made as ``lib.pm_...(...)``; cffi (API mode) releases the GIL for the duration
of each call, so a thread blocked in I/O or waiting for a pooled connection never stops the
others.
"""

from __future__ import annotations

import threading
from typing import Any, Callable, Optional

try:
    from ._libpolymongo import ffi as ffi, lib as lib  # re-exported to the other modules
except ImportError as _e:  # pragma: no cover - depends on the installation
    # One line that says what to do (no chained traceback): the compiled module is missing
    # (a source checkout on sys.path) or cannot load libpolymongo.
    _why = str(_e) if not isinstance(_e, ModuleNotFoundError) else "the compiled module is missing"
    raise ImportError(
        f"polymongo cannot load its C library ({_why}): install the package with "
        "`pip install ./bindings/python` (it builds libpolymongo), or for a CMake build tree "
        "run `ctest -R python.build` and put <build>/bindings/python on PYTHONPATH"
    ) from None

HEADER_VERSION_STRING: str = ffi.string(lib.PM_VERSION_STRING).decode()
LIBRARY_VERSION: int = lib.pm_version_num()
LIBRARY_VERSION_STRING: str = ffi.string(lib.pm_version()).decode()

# The one compatibility policy of every binding (common.h): can the loaded library serve a
# module compiled against this header version?
if not lib.pm_check_version(lib.PM_VERSION_MAJOR, lib.PM_VERSION_MINOR, lib.PM_VERSION_PATCH):
    raise ImportError(
        f"polymongo: compiled against libpolymongo {HEADER_VERSION_STRING} but loaded "
        f"{LIBRARY_VERSION_STRING}, which cannot serve it (pm_check_version); reinstall the "
        "package or rebuild the binding"
    )


def new_error() -> Any:
    """A zeroed ``pm_error`` to pass as the last argument."""
    return ffi.new("pm_error *")


def cstr(p: Any) -> Optional[str]:
    """A borrowed ``const char *`` as a str (None for NULL)."""
    if p == ffi.NULL:
        return None
    text: str = ffi.string(p).decode("utf-8", "replace")
    return text


class Handle:
    """Owns one C handle; frees it exactly once, never while a call is using it.

    Closing the PolyMongo is the C library's business (``pm_wrapper_close`` makes every
    descendant handle fail with PM_ECLOSED), so no handle here tracks its parent. What stays is
    memory safety: ``pm_*_free`` under a C call running on the same handle on another thread
    would free memory that call is using, which C cannot guard against; hence the count of
    calls in flight, and the free deferred to the last one.

    ``with handle as ptr:`` raises :class:`~polymongo.errors.Closed` once the handle is closed;
    otherwise it yields the pointer and counts the call as in flight. ``close()`` from any thread
    marks the handle closed and frees it immediately, or when the last in-flight call returns, so
    closing never frees memory under a running C call. Garbage collection frees it as well
    (``ffi.gc``); the C handles keep their parents alive, so the order does not matter.
    """

    __slots__ = ("_ptr", "_lock", "_users", "_closed", "_what", "__weakref__")

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str) -> None:
        self._ptr = ffi.gc(ptr, free)
        self._lock = threading.Lock()
        self._users = 0
        self._closed = False
        self._what = what

    @property
    def closed(self) -> bool:
        return self._closed

    def __enter__(self) -> Any:
        with self._lock:
            if self._closed:
                from .errors import Closed

                raise Closed(f"this {self._what} is closed", pm_code=lib.PM_ECLOSED)
            self._users += 1
            return self._ptr

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._users -= 1
            release = self._closed and self._users == 0
        if release:
            self._release()

    def close(self) -> None:
        with self._lock:
            if self._closed:
                return
            self._closed = True
            release = self._users == 0
        if release:
            self._release()

    def _release(self) -> None:
        ptr, self._ptr = self._ptr, None
        if ptr is not None:
            ffi.release(ptr)  # runs the ffi.gc destructor (pm_*_free) now


class LockedHandle(Handle):
    """A :class:`Handle` whose every use, and its free, holds ``lock``.

    The handles of one session (the session itself, the dbs bound to it, their cursors) share
    one ``threading.RLock``: the C session is for one thread at a time, and so is everything
    that runs on its connection. A second thread waits (with the GIL released) instead of using
    the session concurrently; the owning thread may re-enter (an operation inside a
    ``with_transaction`` callback, a cursor freed by the garbage collector in between).
    """

    __slots__ = ("_outer",)

    def __init__(self, ptr: Any, free: Callable[[Any], None], what: str, lock: Any) -> None:
        def locked_free(p: Any, free: Callable[[Any], None] = free, lock: Any = lock) -> None:
            with lock:
                free(p)

        super().__init__(ptr, locked_free, what)
        self._outer = lock

    def __enter__(self) -> Any:
        self._outer.acquire()
        try:
            return super().__enter__()
        except BaseException:
            self._outer.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            super().__exit__(*exc)
        finally:
            self._outer.release()


class in_flight:
    """``with in_flight(handle) as ptr``: the handle's pointer, counted as in flight, without
    the outer lock of a :class:`LockedHandle` (for calls that only copy references)."""

    __slots__ = ("_h",)

    def __init__(self, handle: Handle) -> None:
        self._h = handle

    def __enter__(self) -> Any:
        return Handle.__enter__(self._h)

    def __exit__(self, *exc: object) -> None:
        Handle.__exit__(self._h)
