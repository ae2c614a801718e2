"""Python values to and from what the C API takes: BSON bytes, option documents, key specs."""

from __future__ import annotations

import datetime
import re
from collections.abc import Mapping
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import bson
from bson.binary import UuidRepresentation
from bson.codec_options import CodecOptions, DatetimeConversion
from bson.errors import BSONError
from bson.raw_bson import RawBSONDocument

from ._ffi import ffi
from .errors import InvalidArgument

# Decoding keeps every BSON type distinct so that a document read and written back is the same
# BSON: int64 stays bson.Int64 (int32 stays int), binary subtype 4 <-> uuid.UUID, other binary
# subtypes stay Binary, dates are timezone-aware UTC datetimes (and DatetimeMS when outside
# Python's range instead of an error), Decimal128, Regex, Timestamp, Code, MinKey/MaxKey stay
# themselves.
DEFAULT_CODEC_OPTIONS: CodecOptions[Any] = CodecOptions(
    document_class=dict,
    tz_aware=True,
    tzinfo=datetime.timezone.utc,
    uuid_representation=UuidRepresentation.STANDARD,
    datetime_conversion=DatetimeConversion.DATETIME_AUTO,
)

# What a document argument may be: a mapping, a RawBSONDocument, or BSON bytes as they are.
Document = Union[Mapping[str, Any], RawBSONDocument, bytes, bytearray, memoryview]
# Sort and index keys: "field", [("a", 1), ("b", -1)] or {"a": 1, "b": -1}.
KeySpec = Union[str, Sequence[Tuple[str, Any]], Mapping[str, Any]]


def encode(doc: Any, codec: CodecOptions[Any], what: str = "document") -> bytes:
    """BSON bytes for a document argument."""
    if isinstance(doc, RawBSONDocument):
        return bytes(doc.raw)
    if isinstance(doc, (bytes, bytearray, memoryview)):
        return bytes(doc)
    if not isinstance(doc, Mapping):
        raise TypeError(f"{what} must be a mapping such as a dict, not {type(doc).__name__}")
    try:
        return bson.encode(doc, codec_options=codec)
    except (BSONError, OverflowError, ValueError) as e:
        raise InvalidArgument(f"{what} cannot be encoded as BSON: {e}") from e
    except TypeError as e:
        raise TypeError(f"{what} cannot be encoded as BSON: {e}") from e


def decode(data: bytes, codec: CodecOptions[Any]) -> Any:
    return bson.decode(data, codec_options=codec)


class Arg:
    """A document argument ready for a ``(const void *, size_t)`` pair; keeps its bytes alive."""

    __slots__ = ("data", "ptr", "len")

    def __init__(self, data: Optional[bytes]) -> None:
        self.data = data
        if data is None:
            self.ptr, self.len = ffi.NULL, 0
        else:
            self.ptr, self.len = ffi.from_buffer(data), len(data)


def doc_arg(doc: Any, codec: CodecOptions[Any], what: str) -> Arg:
    return Arg(encode(doc, codec, what))


def opt_arg(doc: Optional[Any], codec: CodecOptions[Any], what: str = "options") -> Arg:
    """None (or an empty options mapping) becomes NULL."""
    if doc is None or (isinstance(doc, Mapping) and not doc):
        return Arg(None)
    return Arg(encode(doc, codec, what))


class DocArray:
    """A list of documents as parallel ``const void *[]`` / ``size_t[]`` arrays."""

    __slots__ = ("data", "bufs", "ptrs", "lens", "n")

    def __init__(self, docs: Iterable[Any], codec: CodecOptions[Any], what: str) -> None:
        if isinstance(docs, (Mapping, str, bytes, bytearray, RawBSONDocument)):
            raise TypeError(f"{what} must be a list of documents, not a single {type(docs).__name__}")
        try:
            items = list(docs)
        except TypeError:
            raise TypeError(f"{what} must be an iterable of documents, not {type(docs).__name__}") from None
        self.data = [encode(d, codec, f"{what}[{i}]") for i, d in enumerate(items)]
        self.n = len(self.data)
        self.bufs = [ffi.from_buffer(b) for b in self.data]  # kept alive for the call
        self.ptrs = ffi.new("const void *[]", self.bufs) if self.n else ffi.NULL
        self.lens = ffi.new("size_t[]", [len(b) for b in self.data]) if self.n else ffi.NULL


_SNAKE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
_UPPER = {"uri": "URI", "db": "DB", "ms": "MS"}


def camel(name: str) -> str:
    """snake_case option names to the C API's camelCase: max_time_ms -> maxTimeMS,
    mongo_uri -> mongoURI, default_db -> defaultDB, db_specific -> dbSpecific. Names that are
    not snake_case (already camelCase, "_id", "$x") are kept."""
    if not _SNAKE.fullmatch(name):
        return name
    first, *rest = name.split("_")
    return first + "".join(_UPPER.get(p, p[:1].upper() + p[1:]) for p in rest)


def options(explicit: Optional[Mapping[str, Any]] = None, extra: Optional[Mapping[str, Any]] = None) -> Dict[str, Any]:
    """An options document: keys camel-cased, None values dropped."""
    out: Dict[str, Any] = {}
    for src in (explicit or {}), (extra or {}):
        for k, v in src.items():
            if v is not None:
                out[camel(k)] = v
    return out


def key_spec(spec: Any, what: str = "keys") -> Dict[str, Any]:
    """"a" -> {"a": 1}; [("a", 1), ("b", -1)] -> {"a": 1, "b": -1}; mappings as they are."""
    if isinstance(spec, str):
        return {spec: 1}
    if isinstance(spec, Mapping):
        return dict(spec)
    if isinstance(spec, (list, tuple)):
        out: Dict[str, Any] = {}
        for item in spec:
            if isinstance(item, str):
                out[item] = 1
            elif isinstance(item, (list, tuple)) and len(item) == 2 and isinstance(item[0], str):
                out[item[0]] = item[1]
            else:
                raise TypeError(f"{what}: expected (field, direction) pairs, got {item!r}")
        return out
    raise TypeError(f"{what} must be a field name, a list of (field, direction) pairs or a mapping, "
                    f"not {type(spec).__name__}")


def projection_spec(spec: Any) -> Any:
    """A list of field names means {field: 1, ...} (as in pymongo)."""
    if isinstance(spec, (list, tuple)) and all(isinstance(f, str) for f in spec):
        return {f: 1 for f in spec}
    if isinstance(spec, Mapping):
        return spec
    raise TypeError(f"projection must be a mapping or a list of field names, not {type(spec).__name__}")


def c_name(value: Any, what: str) -> bytes:
    """A str argument for a ``const char *``."""
    if not isinstance(value, str):
        raise TypeError(f"{what} must be a str, not {type(value).__name__}")
    if "\0" in value:
        raise InvalidArgument(f"{what} must not contain NUL characters")
    return value.encode("utf-8")
