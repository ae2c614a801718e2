"""Exceptions: one class per ``pm_code``, all under :class:`PolyMongoError`, each also the
matching class of ``pymongo.errors`` so that code written for pymongo catches them.

=================  ===================================================  ==========================================
C code             exception                                            also a
=================  ===================================================  ==========================================
PM_EINVAL          :class:`InvalidArgument`                             ``ValueError``
PM_EDBNAME         :class:`InvalidDatabaseName` (an InvalidArgument)    ``ValueError``, ``pymongo.errors.InvalidName``
PM_ECONNECT        :class:`ConnectionFailure`                           ``ConnectionError``, ``ServerSelectionTimeoutError``
                                                                        (so ``AutoReconnect``, ``ConnectionFailure``)
PM_ETIMEOUT        :class:`Timeout`                                     ``TimeoutError``; raised as one of:
                   :class:`NetworkTimeout` (no server code: pool        ``NetworkTimeout``, ``WaitQueueTimeoutError``
                   checkout, socket)                                    (so ``ConnectionFailure``)
                   :class:`ExecutionTimeout` (maxTimeMS: server code    ``pymongo.errors.ExecutionTimeout``
                   50 or 262)                                           (so ``OperationFailure``)
PM_EAUTH           :class:`AuthenticationError`                         ``OperationFailure``
PM_EDUPKEY         :class:`DuplicateKeyError` (a WriteError)            ``pymongo.errors.DuplicateKeyError``
PM_ESERVER         :class:`ServerError`                                 ``OperationFailure``
PM_ECLOSED         :class:`Closed`                                      ``InvalidOperation``
PM_ENOTSUP         :class:`NotSupported`                                ``OperationFailure``
PM_EINTERNAL       :class:`InternalError`                               ``PyMongoError``
PM_EWRITE          :class:`WriteError`                                  ``pymongo.errors.WriteError``
PM_ETHROTTLED      :class:`Throttled` (retryable)                       ``PyMongoError``
PM_EMOVING         :class:`Moving` (retryable)                          ``PyMongoError``
=================  ===================================================  ===================================
A write of many documents (``insert_many``, ``bulk_write``) that fails raises, as pymongo does,
a ``pymongo.errors.BulkWriteError``: :class:`BulkWriteError` (a :class:`WriteError`) or, when
every failure is a duplicate key, :class:`BulkDuplicateKeyError` (a :class:`DuplicateKeyError`
and a :class:`BulkWriteError`).

As in pymongo, ``code`` is the server's error code (None when the server gave none) and
``details`` the server's error document where there is one: for a write, the failed
operation's ``{"index", "code", "errmsg"}``; for a bulk write, pymongo's summary
(``{"writeErrors", "writeConcernErrors", "nInserted", "nUpserted", "nMatched", "nModified",
"nRemoved", "upserted"}``); for other server errors ``{"ok": 0, "errmsg", "code"}``.
polymongo's own code is ``pm_code`` (the negative ``pm_code``), ``code_name`` its name
("PM_EDUPKEY"); ``server_code`` is the server's code as an int (0 when none), and ``message``
the message. A :class:`WriteError` also carries ``result``, the partial result of the write
(what was applied), and ``write_errors``, a list of ``{"index": i, "code": c, "errmsg": "..."}``
naming the failed operations of the request. ``timeout`` is true for a :class:`Timeout`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Mapping, Optional, Tuple, Type

import pymongo.errors as _pe

from ._ffi import cstr, ffi, lib

if TYPE_CHECKING:
    from .results import _WriteResultBase

__all__ = [
    "PolyMongoError",
    "InvalidArgument",
    "InvalidDatabaseName",
    "ConnectionFailure",
    "Timeout",
    "NetworkTimeout",
    "ExecutionTimeout",
    "AuthenticationError",
    "ServerError",
    "Closed",
    "NotSupported",
    "InternalError",
    "WriteError",
    "DuplicateKeyError",
    "BulkWriteError",
    "BulkDuplicateKeyError",
    "Throttled",
    "Moving",
]


def _restore(cls: Type["PolyMongoError"], message: str, pm_code: int, server_code: int) -> "PolyMongoError":
    return cls(message, pm_code=pm_code, server_code=server_code)


class PolyMongoError(_pe.PyMongoError):
    """Base class of every polymongo error (a ``pymongo.errors.PyMongoError``)."""

    pm_code: int
    server_code: int
    message: str

    def __init__(self, message: str = "", *, pm_code: Optional[int] = None,
                 server_code: int = 0, code: Optional[int] = None) -> None:
        # pymongo's base only: the pymongo classes further down the MRO take other arguments,
        # and every attribute they define is answered here.
        _pe.PyMongoError.__init__(self, message)
        if pm_code is None:
            pm_code = code  # the keyword's earlier name, still accepted
        self.message = message
        self.pm_code = _DEFAULT_CODES.get(type(self), lib.PM_EINTERNAL) if pm_code is None else pm_code
        self.server_code = server_code

    @property
    def code(self) -> Optional[int]:
        """The server's error code, as pymongo's ``OperationFailure.code``; None when the
        server gave none (polymongo's own code is :attr:`pm_code`)."""
        return self.server_code or None

    @property
    def details(self) -> Optional[Mapping[str, Any]]:
        """The server's error document, as pymongo's ``OperationFailure.details``: ``{"ok": 0,
        "errmsg", "code"}``; None when the server gave no error code."""
        if not self.server_code:
            return None
        return {"ok": 0.0, "errmsg": self.message, "code": self.server_code}

    @property
    def timeout(self) -> bool:
        """True when a bounded wait ran out (pymongo's ``PyMongoError.timeout``)."""
        return bool(self.pm_code == lib.PM_ETIMEOUT)

    @property
    def code_name(self) -> str:
        return cstr(lib.pm_code_name(self.pm_code)) or str(self.pm_code)

    @property
    def retryable(self) -> bool:
        """Whether the same call may simply be tried again later: nothing reached the server
        (``pm_code_is_retryable``; true for :class:`Throttled`)."""
        return bool(lib.pm_code_is_retryable(self.pm_code))

    def __str__(self) -> str:
        extra = f", server code {self.server_code}" if self.server_code else ""
        return f"{self.message} [{self.code_name}{extra}]"

    def __reduce__(self) -> Tuple[Any, ...]:
        return (_restore, (type(self), self.message, self.pm_code, self.server_code))


class InvalidArgument(PolyMongoError, ValueError):
    """An argument or option was invalid; nothing was sent."""


class InvalidDatabaseName(InvalidArgument, _pe.InvalidName):
    """A database name breaks MongoDB's rules or names a refused system database."""


class ConnectionFailure(PolyMongoError, _pe.ServerSelectionTimeoutError, ConnectionError):  # type: ignore[misc]
    """No server could be reached, or the connection broke. Also pymongo's
    ``ServerSelectionTimeoutError`` (and so ``AutoReconnect`` and ``ConnectionFailure``):
    polymongo does not tell a server it could not select from a connection that broke."""

    @property
    def errors(self) -> Any:  # type: ignore[override]
        """pymongo's ``AutoReconnect.errors``: the same as :attr:`details`."""
        return self.details


class Timeout(PolyMongoError, TimeoutError):
    """A bounded wait ran out: pool checkout, server selection, socket, maxTimeMS. Raised as
    :class:`NetworkTimeout` or :class:`ExecutionTimeout`."""


class NetworkTimeout(Timeout, _pe.NetworkTimeout, _pe.WaitQueueTimeoutError):  # type: ignore[misc]
    """A wait on the client's side ran out (a pool checkout, a socket): pymongo's
    ``NetworkTimeout`` and ``WaitQueueTimeoutError``, both ``ConnectionFailure``."""

    @property
    def errors(self) -> Any:  # type: ignore[override]
        return self.details


class ExecutionTimeout(Timeout, _pe.ExecutionTimeout):
    """The server stopped the operation at its time limit (maxTimeMS: server code 50 or 262):
    pymongo's ``ExecutionTimeout``, an ``OperationFailure``."""


class AuthenticationError(PolyMongoError, _pe.OperationFailure):
    """Authentication failed (never retried)."""


class ServerError(PolyMongoError, _pe.OperationFailure):
    """Any other error reported by the server; see ``code``."""


class Closed(PolyMongoError, _pe.InvalidOperation):
    """The PolyMongo instance, or this handle, is closed."""


class NotSupported(PolyMongoError, _pe.OperationFailure):
    """The server or build cannot do this."""


class InternalError(PolyMongoError):
    """A bug or resource exhaustion inside polymongo."""


class WriteError(PolyMongoError, _pe.WriteError):
    """Some writes of a request failed. ``result`` says what was applied; ``write_errors``
    lists the failed operations by index."""

    result: Optional["_WriteResultBase"]
    write_errors: List[Dict[str, Any]]

    def __init__(
        self,
        message: str = "",
        *,
        pm_code: Optional[int] = None,
        server_code: int = 0,
        result: Optional["_WriteResultBase"] = None,
        write_errors: Optional[List[Dict[str, Any]]] = None,
        code: Optional[int] = None,
    ) -> None:
        super().__init__(message, pm_code=pm_code, server_code=server_code, code=code)
        self.result = result
        self.write_errors = list(write_errors or [])

    @property
    def details(self) -> Optional[Mapping[str, Any]]:
        """The first failed write, as pymongo's ``WriteError.details``: ``{"index", "code",
        "errmsg"}``."""
        if self.write_errors:
            return dict(self.write_errors[0])
        return super().details


class DuplicateKeyError(WriteError, _pe.DuplicateKeyError):
    """A write hit a unique index (server codes 11000, 11001, 12582)."""


class BulkWriteError(WriteError, _pe.BulkWriteError):
    """Writes of ``insert_many`` or ``bulk_write`` failed: pymongo's ``BulkWriteError``, whose
    ``details`` is pymongo's summary of the batch."""

    @property
    def details(self) -> Dict[str, Any]:  # type: ignore[override]
        raw: Mapping[str, Any] = self.result.raw_result if self.result is not None else {}
        upserted = raw.get("upsertedIds") or {}
        return {
            "writeErrors": [dict(e) for e in self.write_errors],
            "writeConcernErrors": list(raw.get("writeConcernErrors") or []),
            "nInserted": int(raw.get("insertedCount") or 0),
            "nUpserted": int(raw.get("upsertedCount") or 0),
            "nMatched": int(raw.get("matchedCount") or 0),
            "nModified": int(raw.get("modifiedCount") or 0),
            "nRemoved": int(raw.get("deletedCount") or 0),
            "upserted": [{"index": int(i), "_id": v} for i, v in upserted.items()],
        }

    @property
    def timeout(self) -> bool:
        return any(e.get("code") in (50, 262) for e in self.write_errors)


class BulkDuplicateKeyError(DuplicateKeyError, BulkWriteError):
    """Writes of ``insert_many`` or ``bulk_write`` failed, each on a unique index: both a
    :class:`DuplicateKeyError` and a :class:`BulkWriteError`."""


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
    lib.PM_ETIMEOUT: NetworkTimeout,
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
_DEFAULT_CODES.update({PolyMongoError: lib.PM_EINTERNAL, Timeout: lib.PM_ETIMEOUT,
                       ExecutionTimeout: lib.PM_ETIMEOUT, BulkWriteError: lib.PM_EWRITE,
                       BulkDuplicateKeyError: lib.PM_EDUPKEY})
_BULK: Dict[type, Type[WriteError]] = {WriteError: BulkWriteError,
                                       DuplicateKeyError: BulkDuplicateKeyError}
_EXECUTION_TIMEOUT_CODES = (50, 262)  # MaxTimeMSExpired, ExceededTimeLimit


def error_from(rc: int, err: Any, result: Optional["_WriteResultBase"] = None,
               bulk: bool = False) -> PolyMongoError:
    """The exception for a failed call's return code and filled ``pm_error``; ``bulk`` for a
    write of many documents (``insert_many``, ``bulk_write``), which pymongo reports as a
    ``BulkWriteError``."""
    cls = _BY_CODE.get(rc, PolyMongoError)
    code = err.code if err.code else rc
    server_code = int(err.server_code)
    message = ffi.string(err.message).decode("utf-8", "replace") or (cstr(lib.pm_code_name(rc)) or "")
    if cls is NetworkTimeout and server_code in _EXECUTION_TIMEOUT_CODES:
        cls = ExecutionTimeout
    if issubclass(cls, WriteError):
        wcls: Type[WriteError] = _BULK.get(cls, cls) if bulk else cls
        write_errors = list(result.write_errors) if result is not None else []
        return wcls(message, pm_code=code, server_code=server_code, result=result,
                   write_errors=write_errors)
    return cls(message, pm_code=code, server_code=server_code)


def check(rc: int, err: Any) -> None:
    """Raises the mapped exception when ``rc`` is an error code."""
    if rc < 0:
        raise error_from(rc, err)
