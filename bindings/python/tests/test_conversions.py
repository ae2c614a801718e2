"""BSON <-> Extended JSON through the C library, codec options, raw BSON documents."""

from __future__ import annotations

import datetime
import uuid

import bson
import pytest
from bson import Int64, ObjectId
from bson.code import Code
from bson.codec_options import CodecOptions
from bson.decimal128 import Decimal128
from bson.max_key import MaxKey
from bson.min_key import MinKey
from bson.raw_bson import RawBSONDocument
from bson.son import SON
from conftest import unique_db

import polymongo
from polymongo import PolyMongo, bson_to_json, json_to_bson


def test_json_conversions_keep_every_bson_type():
    # Types the test server cannot store (Decimal128, Code, MinKey, MaxKey) still make the round
    # trip through the C library: Python -> BSON -> canonical JSON (libbson) -> BSON -> Python.
    doc = {"i32": 1, "i64": Int64(2), "dbl": 1.5, "dec": Decimal128("1.10"), "code": Code("x=1"),
           "min": MinKey(), "max": MaxKey(), "oid": ObjectId("5f0000000000000000000001"),
           "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
           "dt": datetime.datetime(2023, 11, 14, 22, 13, 20, tzinfo=datetime.timezone.utc)}
    text = bson_to_json(doc, canonical=True)
    for frag in ('"$numberInt" : "1"', '"$numberLong" : "2"', '"$numberDecimal" : "1.10"',
                 '"$code" : "x=1"', '"$minKey" : 1', '"subType" : "04"', '"$oid"'):
        assert frag in text, (frag, text)
    back = bson.decode(json_to_bson(text), codec_options=polymongo.DEFAULT_CODEC_OPTIONS)
    assert back == doc
    assert all(type(back[k]) is type(v) for k, v in doc.items())
    relaxed = bson_to_json(bson.encode({"n": 3, "s": "x"}))
    assert relaxed == '{ "n" : 3, "s" : "x" }'
    assert bson.decode(json_to_bson('{"a": {"$numberLong": "5"}}'))["a"] == 5
    with pytest.raises(polymongo.InvalidArgument):
        json_to_bson("{not json")
    with pytest.raises(polymongo.InvalidArgument):
        bson_to_json(b"xx")


def test_codec_options_and_raw_bson_documents(uri, checker):
    name = unique_db("codec")
    raw_codec = CodecOptions(document_class=RawBSONDocument)
    with PolyMongo(uri, codec_options=raw_codec) as pm:
        db = pm.model("raw").db(name)
        payload = bson.encode({"_id": 1, "k": Int64(9), "nested": {"a": [1, 2]}})
        db.insert_one(payload)                       # BSON bytes go through untouched
        db.insert_one(RawBSONDocument(bson.encode({"_id": 2})))
        got = db.find_one({"_id": 1})
        assert isinstance(got, RawBSONDocument) and got.raw == payload
        assert [d["_id"] for d in db.find(sort="_id")] == [1, 2]
        assert db.insert_one({"_id": 3}).inserted_id == 3  # results stay dicts
    with PolyMongo(uri, codec_options=CodecOptions(document_class=SON)) as pm:
        doc = pm.model("raw").db(name).find_one({"_id": 1})
        assert isinstance(doc, SON) and list(doc.keys()) == ["_id", "k", "nested"]
    assert checker[name]["raw"].count_documents({}) == 3
