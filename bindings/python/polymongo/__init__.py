"""polymongo: many MongoDB databases over a few pooled connections.

    from polymongo import PolyMongo

    with PolyMongo("mongodb://localhost:27017", max_pool_size=10) as pm:
        users = pm.model("users", indexes=[{"key": {"email": 1}, "unique": True}])
        tenant = users.db("tenant_1")            # no I/O; validates the name
        tenant.insert_one({"email": "a@example.com"})
        for doc in tenant.find({}, sort=[("email", 1)], limit=10):
            print(doc)
        with pm.start_session("tenant_1") as s:       # transactions need a replica set
            s.with_transaction(lambda s: tenant.with_session(s).insert_one({"n": 1}))

A Python binding (cffi, API mode) of the polymongo C library. Documents are encoded and decoded
with pymongo's ``bson`` package and cross the C API as BSON bytes, so every BSON type is kept.
"""

from __future__ import annotations

from ._convert import DEFAULT_CODEC_OPTIONS
from ._ffi import HEADER_VERSION_STRING, LIBRARY_VERSION_STRING
from .client import (
    ConnectionState,
    Db,
    Model,
    PolyMongo,
    ReturnDocument,
    bson_to_json,
    json_to_bson,
    version,
)
from .cursor import Cursor
from .errors import (
    AuthenticationError,
    Closed,
    ConnectionFailure,
    BulkDuplicateKeyError,
    BulkWriteError,
    DuplicateKeyError,
    ExecutionTimeout,
    InternalError,
    InvalidArgument,
    InvalidDatabaseName,
    NetworkTimeout,
    NotSupported,
    PolyMongoError,
    ServerError,
    Throttled,
    Moving,
    Timeout,
    WriteError,
)
from .events import Event, EventType, Subscription
from .session import Session, Transaction
from .stream import ChangeStream
from .operations import DeleteMany, DeleteOne, InsertOne, ReplaceOne, UpdateMany, UpdateOne
from .results import (
    BulkWriteResult,
    DeleteResult,
    InsertManyResult,
    InsertOneResult,
    UpdateResult,
)


def _package_version() -> str:
    """The installed distribution's version (the C library's, from CMakeLists.txt); run from
    a build directory (PYTHONPATH), the version of the header the module was compiled with."""
    from importlib.metadata import PackageNotFoundError, version as dist_version

    try:
        return dist_version("polymongo")
    except PackageNotFoundError:
        return HEADER_VERSION_STRING


__version__ = _package_version()

__all__ = [
    "PolyMongo", "Model", "Db", "Cursor", "ChangeStream", "Session", "Transaction", "ReturnDocument",
    "ConnectionState",
    "Event", "EventType", "Subscription",
    "InsertOne", "UpdateOne", "UpdateMany", "ReplaceOne", "DeleteOne", "DeleteMany",
    "InsertOneResult", "InsertManyResult", "UpdateResult", "DeleteResult", "BulkWriteResult",
    "PolyMongoError", "InvalidArgument", "InvalidDatabaseName", "ConnectionFailure", "Timeout",
    "AuthenticationError", "DuplicateKeyError", "ServerError", "Closed", "NotSupported",
    "InternalError", "WriteError", "Throttled", "NetworkTimeout", "ExecutionTimeout",
    "BulkWriteError", "BulkDuplicateKeyError", "Moving",
    "DEFAULT_CODEC_OPTIONS", "version", "json_to_bson", "bson_to_json",
    "HEADER_VERSION_STRING", "LIBRARY_VERSION_STRING", "__version__",
]

# The async form (polymongo/aio.py): AsyncPolyMongo and what it makes.
from .aio import (  # noqa: E402
    AsyncChangeStream,
    AsyncCursor,
    AsyncDb,
    AsyncModel,
    AsyncPolyMongo,
    AsyncSession,
    AsyncTransaction,
)

__all__ += ["AsyncPolyMongo", "AsyncModel", "AsyncDb", "AsyncCursor", "AsyncChangeStream",
            "AsyncSession", "AsyncTransaction"]
