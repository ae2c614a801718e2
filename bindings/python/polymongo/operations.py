"""Write models for :meth:`polymongo.Db.bulk_write`.

``bulk_write`` takes pymongo's write models (``pymongo.InsertOne``, ``UpdateOne``,
``UpdateMany``, ``ReplaceOne``, ``DeleteOne``, ``DeleteMany``), these classes of the same names
and arguments, or plain dicts in the C API's shape, with camelCase or snake_case names::

    {"insertOne": {"document": {...}}}
    {"update_one": {"filter": {...}, "update": {...}, "upsert": True, "array_filters": [...]}}
    {"replaceOne": {"filter": {...}, "replacement": {...}}}
    {"deleteMany": {"filter": {...}}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Dict, List, Optional

import pymongo.operations as _pm_ops

from ._convert import camel, key_spec

__all__ = ["InsertOne", "UpdateOne", "UpdateMany", "ReplaceOne", "DeleteOne", "DeleteMany",
           "write_model"]

_KINDS = ("insertOne", "updateOne", "updateMany", "replaceOne", "deleteOne", "deleteMany")


class _WriteModel:
    _kind = ""
    __slots__ = ("_spec",)

    def __init__(self, **spec: Any) -> None:
        self._spec = {camel(k): v for k, v in spec.items() if v is not None}

    def to_dict(self) -> Dict[str, Any]:
        return {self._kind: dict(self._spec)}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._spec!r})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._spec == self._spec

    __hash__ = None  # type: ignore[assignment]


class InsertOne(_WriteModel):
    _kind = "insertOne"
    __slots__ = ()

    def __init__(self, document: Any) -> None:
        super().__init__(document=document)


class UpdateOne(_WriteModel):
    _kind = "updateOne"
    __slots__ = ()

    def __init__(self, filter: Any, update: Any, upsert: Optional[bool] = None,
                 array_filters: Optional[List[Any]] = None, collation: Optional[Any] = None,
                 hint: Optional[Any] = None) -> None:
        super().__init__(filter=filter, update=update, upsert=upsert, array_filters=array_filters,
                         collation=collation, hint=hint)


class UpdateMany(UpdateOne):
    _kind = "updateMany"
    __slots__ = ()


class ReplaceOne(_WriteModel):
    _kind = "replaceOne"
    __slots__ = ()

    def __init__(self, filter: Any, replacement: Any, upsert: Optional[bool] = None,
                 collation: Optional[Any] = None, hint: Optional[Any] = None) -> None:
        super().__init__(filter=filter, replacement=replacement, upsert=upsert,
                         collation=collation, hint=hint)


class DeleteOne(_WriteModel):
    _kind = "deleteOne"
    __slots__ = ()

    def __init__(self, filter: Any, collation: Optional[Any] = None, hint: Optional[Any] = None) -> None:
        super().__init__(filter=filter, collation=collation, hint=hint)


class DeleteMany(DeleteOne):
    _kind = "deleteMany"
    __slots__ = ()


# pymongo's write models: their kind, and (attribute, C API name) of each field they keep.
_FILTER_ETC = (("_collation", "collation"), ("_hint", "hint"))
_PYMONGO_MODELS: Dict[type, Any] = {
    _pm_ops.InsertOne: ("insertOne", (("_doc", "document"),)),
    _pm_ops.UpdateOne: ("updateOne", (("_filter", "filter"), ("_doc", "update"), ("_upsert", "upsert"),
                                      ("_array_filters", "arrayFilters"), ("_sort", "sort")) + _FILTER_ETC),
    _pm_ops.UpdateMany: ("updateMany", (("_filter", "filter"), ("_doc", "update"), ("_upsert", "upsert"),
                                        ("_array_filters", "arrayFilters")) + _FILTER_ETC),
    _pm_ops.ReplaceOne: ("replaceOne", (("_filter", "filter"), ("_doc", "replacement"), ("_upsert", "upsert"),
                                        ("_sort", "sort")) + _FILTER_ETC),
    _pm_ops.DeleteOne: ("deleteOne", (("_filter", "filter"),) + _FILTER_ETC),
    _pm_ops.DeleteMany: ("deleteMany", (("_filter", "filter"),) + _FILTER_ETC),
}


def _from_pymongo(op: Any, kind: str, fields: Any, index: int) -> Dict[str, Any]:
    if getattr(op, "_namespace", None) is not None:
        raise TypeError(f"requests[{index}]: a namespace is for MongoClient.bulk_write; this "
                        "bulk_write writes to this db's collection (leave namespace out)")
    spec: Dict[str, Any] = {}
    for attr, name in fields:
        value = getattr(op, attr, None)
        if value is None:
            continue
        if name == "collation" and hasattr(value, "document"):
            value = value.document  # pymongo.collation.Collation
        elif name == "hint" and isinstance(value, (list, tuple)):
            value = key_spec(value, f"requests[{index}].hint")
        spec[name] = value
    return {kind: spec}


def write_model(op: Any, index: int) -> Dict[str, Any]:
    """One request of a bulk write as the C API's document."""
    if isinstance(op, _WriteModel):
        return op.to_dict()
    pm_model = _PYMONGO_MODELS.get(type(op))
    if pm_model is not None:
        return _from_pymongo(op, pm_model[0], pm_model[1], index)
    if not isinstance(op, Mapping):
        raise TypeError(f"requests[{index}] must be a write model or a dict, not {type(op).__name__}")
    if len(op) != 1:
        raise TypeError(f"requests[{index}] must have exactly one key (one of {', '.join(_KINDS)})")
    ((kind, spec),) = op.items()
    kind = camel(kind) if isinstance(kind, str) else kind
    if isinstance(spec, Mapping):
        spec = {camel(k) if isinstance(k, str) else k: v for k, v in spec.items()}
    # Unknown kinds and missing fields are left for the C API to refuse (InvalidArgument,
    # naming the request's index), so that the rules live in one place.
    return {kind: spec}
