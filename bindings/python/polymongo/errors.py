"""Exceptions: one class per ``pm_code``, all under :class:`PolyMongoError`.

=================  ===================================================  ======================
C code             exception                                            also a
=================  ===================================================  ======================
PM_EINVAL          :class:`InvalidArgument`                             ``ValueError``
PM_EDBNAME         :class:`InvalidDatabaseName` (an InvalidArgument)    ``ValueError``
PM_ECONNECT        :class:`ConnectionFailure`                           ``ConnectionError``
PM_ETIMEOUT        :class:`Timeout`                                     ``TimeoutError``
PM_EAUTH           :class:`AuthenticationError`
PM_EDUPKEY         :class:`DuplicateKeyError` (a WriteError)
PM_ESERVER         :class:`ServerError`
PM_ECLOSED         :class:`Closed`
PM_ENOTSUP         :class:`NotSupported`
PM_EINTERNAL       :class:`InternalError`
PM_EWRITE          :class:`WriteError`
PM_ETHROTTLED      :class:`Throttled` (retryable)
PM_EMOVING         :class:`Moving` (retryable)
=================  ===================================================  ======================

Every exception carries ``code`` (the negative ``pm_code``), ``code_name`` ("PM_EDUPKEY"),
``server_code`` (the server's error code, 0 when the server gave none) and ``message``.
A :class:`WriteError` (and so a :class:`DuplicateKeyError` raised by a write) also carries
``result``, the partial result of the write (what was applied), and ``write_errors``, a list of
``{"index": i, "code": c, "errmsg": "..."}`` naming the failed operations of the request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Optional, Type

from ._ffi import cstr, ffi, lib

if TYPE_CHECKING:
    from .results import _WriteResultBase

__all__ = [
    "PolyMongoError",
    "InvalidArgument",
    "InvalidDatabaseName",
    "ConnectionFailure",
    "Timeout",
    "AuthenticationError",
    "ServerError",
    "Closed",
    "NotSupported",
    "InternalError",
    "WriteError",
    "DuplicateKeyError",
    "Throttled",
    "Moving",
]


class PolyMongoError(Exception):
    """Base class of every polymongo error."""

    code: int
    server_code: int
    message: str

    def __init__(self, message: str = "", *, code: Optional[int] = None, server_code: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.code = _DEFAULT_CODES.get(type(self), lib.PM_EINTERNAL) if code is None else code
        self.server_code = server_code

    @property
    def code_name(self) -> str:
        return cstr(lib.pm_code_name(self.code)) or str(self.code)

    @property
    def retryable(self) -> bool:
        """Whether the same call may simply be tried again later: nothing reached the server
        (``pm_code_is_retryable``; true for :class:`Throttled`)."""
        return bool(lib.pm_code_is_retryable(self.code))

    def __str__(self) -> str:
        extra = f", server code {self.server_code}" if self.server_code else ""
        return f"{self.message} [{self.code_name}{extra}]"


class InvalidArgument(PolyMongoError, ValueError):
    """An argument or option was invalid; nothing was sent."""


class InvalidDatabaseName(InvalidArgument):
    """A database name breaks MongoDB's rules or names a refused system database."""


class ConnectionFailure(PolyMongoError, ConnectionError):
    """No server could be reached, or the connection broke."""


class Timeout(PolyMongoError, TimeoutError):
    """A bounded wait ran out: pool checkout, server selection, socket, maxTimeMS."""


class AuthenticationError(PolyMongoError):
    """Authentication failed (never retried)."""


class ServerError(PolyMongoError):
    """Any other error reported by the server; see ``server_code``."""


class Closed(PolyMongoError):
    """The PolyMongo instance, or this handle, is closed."""


class NotSupported(PolyMongoError):
    """The server or build cannot do this."""


class InternalError(PolyMongoError):
    """A bug or resource exhaustion inside polymongo."""


class WriteError(PolyMongoError):
    """Some writes of a request failed. ``result`` says what was applied; ``write_errors``
    lists the failed operations by index."""

    result: Optional["_WriteResultBase"]
    write_errors: List[Dict[str, Any]]

    def __init__(
        self,
        message: str = "",
        *,
        code: Optional[int] = None,
        server_code: int = 0,
        result: Optional["_WriteResultBase"] = None,
        write_errors: Optional[List[Dict[str, Any]]] = None,
    ) -> None:
        super().__init__(message, code=code, server_code=server_code)
        self.result = result
        self.write_errors = list(write_errors or [])


class DuplicateKeyError(WriteError):
    """A write hit a unique index (server codes 11000, 11001, 12582)."""


class Throttled(PolyMongoError):
    """The database's tenant limits (its rate or its concurrent operations) refused the
    operation, at once or after their ``maxWaitMS``. Nothing was sent: retry later."""


class Moving(PolyMongoError):
    """The database is moving between clusters and a move's fence held the write past its
    bound. Nothing was sent: retry later."""


_BY_CODE: Dict[int, Type[PolyMongoError]] = {
    lib.PM_EINVAL: InvalidArgument,
    lib.PM_EDBNAME: InvalidDatabaseName,
    lib.PM_ECONNECT: ConnectionFailure,
    lib.PM_ETIMEOUT: Timeout,
    lib.PM_EAUTH: AuthenticationError,
    lib.PM_EDUPKEY: DuplicateKeyError,
    lib.PM_ESERVER: ServerError,
    lib.PM_ECLOSED: Closed,
    lib.PM_ENOTSUP: NotSupported,
    lib.PM_EINTERNAL: InternalError,
    lib.PM_EWRITE: WriteError,
    lib.PM_ETHROTTLED: Throttled,
    lib.PM_EMOVING: Moving,
}
_DEFAULT_CODES: Dict[type, int] = {cls: code for code, cls in _BY_CODE.items()}
_DEFAULT_CODES[PolyMongoError] = lib.PM_EINTERNAL


def error_from(rc: int, err: Any, result: Optional["_WriteResultBase"] = None) -> PolyMongoError:
    """The exception for a failed call's return code and filled ``pm_error``."""
    cls = _BY_CODE.get(rc, PolyMongoError)
    code = err.code if err.code else rc
    message = ffi.string(err.message).decode("utf-8", "replace") or (cstr(lib.pm_code_name(rc)) or "")
    if issubclass(cls, WriteError):
        write_errors = list(result.write_errors) if result is not None else []
        return cls(message, code=code, server_code=err.server_code, result=result,
                   write_errors=write_errors)
    return cls(message, code=code, server_code=err.server_code)


def check(rc: int, err: Any) -> None:
    """Raises the mapped exception when ``rc`` is an error code."""
    if rc < 0:
        raise error_from(rc, err)
