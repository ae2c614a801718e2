"""MongoDB's BSON corpus through the CLI's export/import and the Python binding's, byte for byte.

pymongo (the independent client) writes every valid case of tests/bulk/bson-corpus, each as
{"_id": i} followed by the case's fields, and reads the copies back as raw BSON. Two paths:
`polymongo export` + `polymongo import` (NDJSON files), and the Python binding's
export_database + import_database (NDJSON through callbacks). Every case the server stores must
come back byte for byte; the cases a server refuses (or stores changed) must be exactly those
that tests/bulk/bson_corpus_refused.txt lists for it.

    bson_corpus_roundtrip.py CLI_PATH SERVER_NAME URI
        exits 0 when all match, 77 when no URI is given (SecantusDB did not start)
"""
import fnmatch
import glob
import json
import os
import subprocess
import sys
import tempfile
import uuid

import bson
from bson.codec_options import DatetimeConversion
from bson.raw_bson import RawBSONDocument
from pymongo import MongoClient

here = os.path.dirname(os.path.abspath(__file__))
cli, server, uri = sys.argv[1], sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else ""
if not uri:
    print(f"SKIPPED: no {server} server")
    sys.exit(77)


def load_cases():
    cases, seen = [], set()
    for path in sorted(glob.glob(os.path.join(here, "bson-corpus", "*.json"))):
        with open(path, encoding="utf-8") as f:
            spec = json.load(f)
        for case in spec.get("valid", []):
            name = f"{os.path.basename(path)}: {case['description']}"
            base, n = name, 2
            while name in seen:
                name, n = f"{base} #{n}", n + 1
            seen.add(name)
            cases.append((name, bytes.fromhex(case["canonical_bson"])))
        for case in spec.get("decodeErrors", []):  # names only, to number repeats as the C++ test
            name = f"{os.path.basename(path)}: {case['description']}"
            base, n = name, 2
            while name in seen:
                name, n = f"{base} #{n}", n + 1
            seen.add(name)
    return cases


def listed_refusals():
    out = {}
    with open(os.path.join(here, "bson_corpus_refused.txt"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            parts = line.split(" | ")
            if len(parts) >= 3 and parts[0] == server:
                out[" | ".join(parts[1:-1])] = parts[-1]
    return out


def has_id(raw):
    auto = bson.CodecOptions(datetime_conversion=DatetimeConversion.DATETIME_AUTO)
    return "_id" in bson.decode(raw, codec_options=auto)


def with_id(i, raw):
    # {"_id": i} (int32) followed by the fields of raw; a case with an _id of its own is kept
    # as it is, in a collection of its own (two cases share one _id).
    if has_id(raw):
        return RawBSONDocument(raw), f"corpus_{i}"
    body = b"\x10_id\x00" + i.to_bytes(4, "little", signed=True) + raw[4:]
    return RawBSONDocument((4 + len(body)).to_bytes(4, "little") + body), "corpus"


def read_raw(client, db):
    # Every document, by case number.
    opts = bson.CodecOptions(document_class=RawBSONDocument)
    out = {}
    for name in client[db].list_collection_names():
        for d in client[db].get_collection(name, codec_options=opts).find():
            out[int(name[len("corpus_"):]) if name != "corpus" else _id_of(d.raw)] = d.raw
    return out


def _id_of(raw):
    # The first field is "_id", an int32: 4 (length) + 1 (type) + 4 ("_id\0").
    assert raw[4:9] == b"\x10_id\x00", raw[:16]
    return int.from_bytes(raw[9:13], "little", signed=True)


cases = load_cases()
client = MongoClient(uri, serverSelectionTimeoutMS=5000)
suffix = uuid.uuid4().hex[:8]
src = f"corpus_py_src_{suffix}"
listed = listed_refusals()


def listed_as(name):
    return next((p for p in listed if fnmatch.fnmatchcase(name, p)), None)


# A group listed by pattern is tried with its first case only when the server refuses that one
# (FerretDB drops the connection on each Decimal128, 0.5 s apiece).
refused, sent, group_refused = {}, {}, {}
for i, (name, raw) in enumerate(cases):
    pattern = listed_as(name)
    group = pattern is not None and "*" in pattern
    if group and pattern in group_refused:
        refused[name] = group_refused[pattern]
        continue
    doc, coll = with_id(i, raw)
    try:
        client[src][coll].insert_one(doc)
        sent[i] = doc.raw
    except Exception as e:  # the server's refusal (pymongo sends raw documents as they are)
        refused[name] = str(e).split(", full error")[0]
        if group:
            group_refused[pattern] = refused[name]
stored = read_raw(client, src)
source_count = len(stored)
for i in list(stored):
    if i not in sent or stored[i] != sent[i]:
        refused[cases[i][0]] = "stored changed: " + stored[i].hex().upper()
        stored.pop(i)

failures = []
matched = set()
for name, why in sorted(refused.items()):
    pattern = listed_as(name)
    if pattern is None:
        failures.append(f"refused, not in the list: {server} | {name} | {why}")
    matched.add(pattern)
for pattern, why in sorted(listed.items()):
    if pattern not in matched:
        failures.append(f"listed as refused ({why}), but stored: {server} | {pattern}")
for i in stored:
    if listed_as(cases[i][0]) is not None:
        failures.append(f"listed as refused, but stored: {server} | {cases[i][0]}")


def compare(path, db):
    copy = read_raw(client, db)
    exact = 0
    for i, raw in stored.items():
        if copy.get(i) == raw:
            exact += 1
        else:
            failures.append(f"{path}: {cases[i][0]}\n  original {raw.hex().upper()}\n  copy     "
                            f"{copy[i].hex().upper() if i in copy else 'missing'}")
    if len(copy) != source_count:
        failures.append(f"{path}: {len(copy)} documents for {source_count}")
    print(f"{server}: {path}: {exact} of {len(stored)} stored cases byte for byte")
    client.drop_database(db)


env = dict(os.environ, MONGODB_URI=uri)
with tempfile.NamedTemporaryFile(suffix=".ndjson") as f:
    subprocess.run([cli, "export", src, "-o", f.name], check=True, env=env)
    r = subprocess.run([cli, "--json", "import", f"{src}_cli", "-i", f.name], env=env, capture_output=True, text=True)
    if r.returncode != 0:
        failures.append(f"polymongo import exited {r.returncode}: {r.stdout} {r.stderr}")
compare("CLI export + import", f"{src}_cli")

try:
    from polymongo import PolyMongo
except ImportError as e:  # the binding is built by the python.build test (fixture pm_python_build)
    failures.append(f"the Python binding cannot be imported: {e}")
else:
    lines = []
    with PolyMongo(uri) as pm:
        pm.export_database(src, lines.append)
        report = pm.import_database(f"{src}_py", ("\n".join(lines) + "\n").encode("utf-8"))
        if not report.get("ok"):
            failures.append(f"Python binding import report: {report}")
    compare("Python binding export_database + import_database", f"{src}_py")

client.drop_database(src)
print(f"{server}: {len(stored)} of {len(cases)} valid cases stored, {len(refused)} refused or changed by the server")
if failures:
    print("\n".join(failures))
    sys.exit(1)
