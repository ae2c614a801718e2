"""Whole databases: export, import, copy, in-memory form, drop (bulk.h), read back with pymongo."""

from __future__ import annotations

import datetime
import io
import json
import uuid
from typing import List, Optional, Tuple

import pymongo
import pytest
from bson import Int64
from bson.binary import Binary
from bson.codec_options import CodecOptions
from bson.raw_bson import RawBSONDocument
from conftest import second_server_uri, unique_db

from polymongo import InvalidArgument, InvalidDatabaseName, PolyMongo, WriteError
from polymongo._ffi import lib

WHEN = datetime.datetime(2024, 5, 17, 8, 30, 1, 123000, tzinfo=datetime.timezone.utc)


def _seed(pm: PolyMongo, name: str, n: int) -> None:
    people = pm.model("people", indexes=[{"key": {"email": 1}, "unique": True}]).db(name)
    people.insert_many([{"_id": i, "email": f"p{i}@example.com", "big": Int64(2**40 + i),
                         "ratio": i / 8, "when": WHEN, "id": uuid.UUID(int=i),
                         "bin": Binary(bytes([i % 256]) * 3, 128), "tags": ["a", {"n": i}],
                         "none": None, "ok": i % 2 == 0} for i in range(n)])
    pm.model("notes").db(name).insert_one({"_id": "only", "text": "héllo"})


def _same_database(checker: pymongo.MongoClient, a: str, b: str,
                   other: Optional[pymongo.MongoClient] = None) -> None:
    """The same documents, byte for byte (every BSON type kept), and the unique index."""
    other = other or checker
    raw = CodecOptions(document_class=RawBSONDocument)
    for coll in ("people", "notes"):
        left = [d.raw for d in checker[a].get_collection(coll, codec_options=raw).find(sort=[("_id", 1)])]
        right = [d.raw for d in other[b].get_collection(coll, codec_options=raw).find(sort=[("_id", 1)])]
        assert left == right and left, coll
    names = {ix["name"]: ix.get("unique", False) for ix in other[b]["people"].list_indexes()}
    assert names.get("email_1") is True, names


def test_export_and_import_round_trip_every_type_and_index(pm, checker, tmp_path):
    src, via_file, via_text, via_bytes = (unique_db(p) for p in ("xsrc", "xfile", "xtext", "xbytes"))
    _seed(pm, src, 2345)
    progress: List[Tuple[int, int]] = []
    path = tmp_path / "export.ndjson"
    totals = pm.export_database(src, path, progress=lambda d, b: progress.append((d, b)))
    assert totals["documents"] == 2346 and totals["bytes"] > 0
    assert [d for d, _ in progress] == [1000, 2000, 2346], "every 1,000 documents and at the end"
    lines = path.read_text("utf-8").splitlines()
    meta = json.loads(lines[0])
    assert meta["type"] == "meta" and meta["format"] == "polymongo-export" and meta["database"] == src
    assert sum(1 for ln in lines if json.loads(ln)["type"] == "document") == 2346
    # The same export into a text file object, a binary one and a callable.
    text, binary, seen = io.StringIO(), io.BytesIO(), []
    pm.export_database(src, text)
    pm.export_database(src, binary)
    pm.export_database(src, seen.append)
    assert len(text.getvalue().splitlines()) == len(lines) == len(seen)
    # (the first line, "meta", has the time of the export)
    assert binary.getvalue().decode("utf-8").splitlines()[1:] == text.getvalue().splitlines()[1:]
    assert seen[1:] == lines[1:]

    report = pm.import_database(via_file, path, batch_size=250)
    assert report["ok"] is True and report["documents"] == 2346 and report["failures"] == 0
    assert {c["name"]: c["documents"] for c in report["collections"]} == {"people": 2345, "notes": 1}
    assert pm.import_database(via_text, io.StringIO(text.getvalue()))["documents"] == 2346
    assert pm.import_database(via_bytes, binary.getvalue())["documents"] == 2346
    for copy in (via_file, via_text, via_bytes):
        _same_database(checker, src, copy)


def test_import_failures_raise_with_the_report(pm, checker, tmp_path):
    src, dst, bad = unique_db("xerr_src"), unique_db("xerr_dst"), unique_db("xerr_bad")
    _seed(pm, src, 20)
    export = io.BytesIO()
    pm.export_database(src, export)
    pm.import_database(dst, export.getvalue())
    # Importing again: every document is a duplicate key -> WriteError with the report.
    with pytest.raises(WriteError) as info:
        pm.import_database(dst, export.getvalue())
    e = info.value
    assert e.pm_code == lib.PM_EWRITE
    assert e.report["failures"] == 21 and e.report["documents"] == 0
    people = next(c for c in e.report["collections"] if c["name"] == "people")
    assert people["failures"] == 20 and people["errors"]
    # stop_on_error stops at the first refused batch.
    with pytest.raises(WriteError) as stopped:
        pm.import_database(dst, export.getvalue(), batch_size=5, stop_on_error=True)
    assert stopped.value.report.get("stopped") is True
    assert stopped.value.report["failures"] < 21
    assert checker[dst]["people"].count_documents({}) == 20
    # A malformed line: InvalidArgument naming it; what came before it was written.
    good = export.getvalue().decode().splitlines()
    broken = "\n".join(good[:5] + ["{not json"] + good[5:]).encode()
    with pytest.raises(InvalidArgument) as malformed:
        pm.import_database(bad, broken)
    assert "line 6" in malformed.value.message
    assert malformed.value.report["ok"] is False and "line 6" in malformed.value.report["error"]
    # Wrong arguments.
    with pytest.raises(TypeError):
        pm.import_database(bad, 42)
    with pytest.raises(TypeError):
        pm.export_database(src, 42)
    with pytest.raises(TypeError):
        pm.import_database(bad, b"", batch_size="big")
    with pytest.raises(InvalidArgument):
        pm.import_database(bad, b"", colour=1)
    with pytest.raises(InvalidDatabaseName):
        pm.export_database("bad name", io.StringIO())
    with pytest.raises(InvalidArgument):
        pm.import_database(bad, tmp_path / "no-such-file.ndjson")


def test_exceptions_in_callbacks_stop_the_transfer_and_propagate(pm, checker):
    src, dst = unique_db("xcb_src"), unique_db("xcb_dst")
    _seed(pm, src, 3000)
    stop = KeyError("enough")

    def progress(documents: int, nbytes: int) -> None:
        raise stop

    lines: List[str] = []
    with pytest.raises(KeyError) as info:
        pm.export_database(src, lines.append, progress=progress)
    assert info.value is stop
    assert 1000 <= len(lines) < 3000, "stopped at the next line after the first progress call"

    def full(line: str) -> None:
        if len(lines) > 10:
            raise OSError("disk full")
        lines.append(line)

    lines.clear()
    with pytest.raises(OSError, match="disk full"):
        pm.export_database(src, full)
    assert len(lines) == 11

    class Failing(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def read(self, n: int = -1) -> bytes:
            if self.data.tell() > 100_000:
                raise ValueError("connection reset")
            return self.data.read(min(n, 4096))

    export = io.BytesIO()
    pm.export_database(src, export)
    with pytest.raises(ValueError, match="connection reset"):
        pm.import_database(dst, Failing(export.getvalue()))
    written = checker[dst]["people"].count_documents({})
    assert written < 3000, "stopped early"


def test_closed_file_objects_raise_and_lose_nothing(pm, checker):
    src, dst = unique_db("xclosed_src"), unique_db("xclosed_dst")
    _seed(pm, src, 50)
    closed = io.BytesIO()
    closed.close()
    with pytest.raises(ValueError, match="closed file"):
        pm.export_database(src, closed)
    with pytest.raises(ValueError, match="closed file"):
        pm.import_database(dst, closed)
    assert dst not in checker.list_database_names(), "nothing imported"
    # A BytesIO round trip, type-exact, and the source untouched.
    out = io.BytesIO()
    pm.export_database(src, out)
    assert pm.import_database(dst, io.BytesIO(out.getvalue()))["documents"] == 51
    _same_database(checker, src, dst)

def test_copy_database_in_memory_form_and_drop(uri, checker):
    src, near, away, mem = (unique_db(p) for p in ("xcp_src", "xcp_near", "xcp_away", "xcp_mem"))
    away_uri = second_server_uri()
    with PolyMongo(uri, db_specific=[{"db_name": away, "mongo_uri": away_uri}]) as pm, \
            pymongo.MongoClient(away_uri, serverSelectionTimeoutMS=5000) as away_checker:
        _seed(pm, src, 50)
        assert pm.copy_database(src, near)["documents"] == 51
        calls: List[int] = []
        report = pm.copy_database(src, away, batch_size=7, progress=lambda d, b: calls.append(d))
        assert report["documents"] == 51 and calls and calls[-1] == 51
        _same_database(checker, src, near)
        _same_database(checker, src, away, away_checker)

        doc = pm.export_document(src)
        assert doc["database"] == src and set(doc["collections"]) == {"people", "notes"}
        people = doc["collections"]["people"]
        assert len(people["documents"]) == 50
        first = min(people["documents"], key=lambda d: d["_id"])
        assert first["big"] == Int64(2**40) and isinstance(first["big"], Int64)
        assert first["id"] == uuid.UUID(int=0) and first["when"] == WHEN
        assert any(ix["name"] == "email_1" and ix.get("unique") for ix in people["indexes"])
        assert pm.import_document(mem, doc)["documents"] == 51
        _same_database(checker, src, mem)

        # Dropped, and the model's indexes come back on next use.
        users = pm.model("people", indexes=[{"key": {"email": 1}, "unique": True}])
        users.db(near).insert_one({"email": "new@example.com"})
        pm.drop_database(near)
        assert near not in checker.list_database_names()
        users.db(near).insert_one({"email": "again@example.com"})
        assert "email_1" in {ix["name"] for ix in checker[near]["people"].list_indexes()}
        with pytest.raises(TypeError):
            pm.drop_database(None)  # type: ignore[arg-type]
        with pytest.raises(InvalidDatabaseName):
            pm.drop_database("bad/name")
