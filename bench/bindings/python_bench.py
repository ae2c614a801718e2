#!/usr/bin/env python3
"""Client CPU per operation: the polymongo Python binding against pymongo.

    PYTHONPATH=<dir with the built polymongo package> python3 python_bench.py URI OPS [ROUNDS]

One thread, one fresh collection (dropped first), small documents (~100 bytes: an integer _id,
a tenant string, an int, a 32-character string). Each operation is one insert_one or one
find_one by _id, alternating, so OPS = 2 x documents. Each round drops the collection, warms
up (WARMUP operations), then times OPS operations, measuring process CPU time (user + sys, all
threads: time.process_time) and wall time over the timed loop only. Every find must return the
document just inserted and the final count must equal the number inserted, so errors cannot be
measured as speed. The documents are made before the clock starts. The variants alternate round
by round; the median round of each is printed as one JSON object per line.
BINDBENCH_VARIANT=polymongo (or official) runs that variant alone, for profiling.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time

DB_NAME = "pm_bindbench_python"
COLL = "docs"
WARMUP = 200


def make_doc(i: int) -> dict:
    return {"_id": i, "tenant": f"tenant_{i % 1000:04d}", "qty": i * 7 % 100000,
            "payload": f"{i * 2654435761 % (1 << 128):032x}"}


def run_ops(coll, docs: list) -> None:
    """insert_one / find_one alternately, checking every result."""
    insert_one, find_one = coll.insert_one, coll.find_one
    for doc in docs:
        i = doc["_id"]
        res = insert_one(doc)
        if res.inserted_id != i:
            raise RuntimeError(f"insert_one({i}) returned inserted_id {res.inserted_id!r}")
        got = find_one({"_id": i})
        if got != doc:
            raise RuntimeError(f"find_one({i}) returned {got!r}, expected {doc!r}")


def one_round(coll, ops: int) -> tuple:
    coll.drop()
    run_ops(coll, [make_doc(i) for i in range(1_000_000, 1_000_000 + WARMUP // 2)])
    docs = [make_doc(i) for i in range(ops // 2)]  # made before the clock starts
    c0, w0 = time.process_time(), time.perf_counter()
    run_ops(coll, docs)
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    expected = WARMUP // 2 + ops // 2
    n = coll.count_documents({})
    if n != expected:
        raise RuntimeError(f"count_documents returned {n}, expected {expected}")
    return cpu, wall


def main(argv: list) -> int:
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    uri, ops = argv[1], int(argv[2])
    rounds = int(argv[3]) if len(argv) == 4 else 3
    if ops < 2 or ops % 2:
        print("OPS must be a positive even number", file=sys.stderr)
        return 2

    import polymongo
    import pymongo

    pm = polymongo.PolyMongo(uri)
    official = pymongo.MongoClient(uri)
    variants = {
        "polymongo": pm.model(COLL).db(DB_NAME),
        "official": official[DB_NAME][COLL],
    }
    only = os.environ.get("BINDBENCH_VARIANT")
    if only:
        variants = {only: variants[only]}
    samples: dict = {name: [] for name in variants}
    try:
        for r in range(rounds):
            order = list(variants) if r % 2 == 0 else list(reversed(variants))
            for name in order:
                cpu, wall = one_round(variants[name], ops)
                samples[name].append((cpu, wall))
                print(f"python {name} round {r + 1}: {cpu / ops * 1e6:.1f} us CPU/op, "
                      f"{ops / wall:.0f} ops/s", file=sys.stderr)
        next(iter(variants.values())).drop()
    finally:
        pm.close()
        official.close()
    for name, runs in samples.items():
        print(json.dumps({
            "language": "python",
            "variant": name,
            "client_cpu_us_per_op": round(statistics.median(c for c, _ in runs) / ops * 1e6, 2),
            "ops_per_s": round(ops / statistics.median(w for _, w in runs), 1),
            "ops": ops,
        }), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
