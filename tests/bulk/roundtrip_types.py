"""Every BSON type the server stores survives `polymongo export` + `polymongo import` exactly.

An independent client (pymongo) writes one document per type, the polymongo CLI exports the
database and imports it under another name, and pymongo reads the copy back as raw BSON: each
document must be byte-for-byte the original (same values, same types, same field order).

    roundtrip_types.py CLI_PATH URI      exits 0 when equal, 77 when no server is given
"""
import datetime
import os
import subprocess
import sys
import tempfile
import uuid

import bson
from bson import Binary, Code, Decimal128, Int64, MaxKey, MinKey, ObjectId, Regex, Timestamp
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

cli, uri = sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else ""
if not uri:
    print("SKIPPED: no server with every BSON type (SecantusDB did not start)")
    sys.exit(77)

values = {
    "objectid": ObjectId(),
    "date": datetime.datetime(2024, 5, 6, 7, 8, 9, 123000),
    "decimal128": Decimal128("1234.5678901234567890"),
    "int32": 2147483647,
    "int64": Int64(9007199254740993),
    "double": 3.141592653589793,
    "double_special": float("-inf"),
    "binary_generic": Binary(b"\x00\x01\xff", 0),
    "binary_function": Binary(b"fn", 1),
    "binary_uuid": Binary(uuid.UUID("12345678-1234-5678-1234-567812345678").bytes, 4),
    "binary_md5": Binary(b"0123456789abcdef", 5),
    "binary_user": Binary(b"custom", 128),
    "regex": Regex("^a.*z$", "im"),
    "timestamp": Timestamp(1700000000, 7),
    "minkey": MinKey(),
    "maxkey": MaxKey(),
    "nested": {"a": {"b": [1, {"c": "d"}, [2, 3]]}, "empty": {}, "list": []},
    "unicode": "Grüße, 世界, 🙂, \u0000-free",
    "boolean": True,
    "null": None,
    "code": Code("function () { return 1; }"),
}

client = MongoClient(uri, serverSelectionTimeoutMS=5000)
suffix = uuid.uuid4().hex[:8]
src, dst = f"types_src_{suffix}", f"types_dst_{suffix}"
coll = client[src]["types"]
for i, (name, value) in enumerate(values.items()):
    coll.insert_one({"_id": i, "name": name, "value": value, "also": [value, {"v": value}]})

env = dict(os.environ, MONGODB_URI=uri)
with tempfile.NamedTemporaryFile(suffix=".ndjson") as f:
    subprocess.run([cli, "export", src, "-o", f.name], check=True, env=env)
    subprocess.run([cli, "import", dst, "-i", f.name], check=True, env=env)

raw = bson.CodecOptions(document_class=RawBSONDocument)
original = {d["_id"]: d.raw for d in client[src].get_collection("types", codec_options=raw).find()}
copied = {d["_id"]: d.raw for d in client[dst].get_collection("types", codec_options=raw).find()}
failures = []
for i, name in enumerate(values):
    if original.get(i) != copied.get(i):
        failures.append(f"{name}: {bson.decode(original[i]) if i in original else None!r} -> "
                        f"{bson.decode(copied[i]) if i in copied else None!r}")
client.drop_database(src)
client.drop_database(dst)
if failures:
    print("differences:\n" + "\n".join(failures))
    sys.exit(1)
print(f"{len(values)} BSON types round-tripped byte for byte")
