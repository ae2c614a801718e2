#!/usr/bin/env python3
"""The async section: many concurrent tasks over many tenant databases, on one event loop.

    PYTHONPATH=<dir with the built polymongo package> python3 async_bench.py URI
        [--tasks 80] [--dbs 100] [--seconds 3] [--rounds 3] [--pool 16] [--variants V,...]

Each of TASKS tasks loops until the round's deadline: insert_one of a small document into
tenant database (task + k) % DBS, then find_one by that _id (which must return it: errors
cannot be measured as speed). Three variants, interleaved round by round, median round kept:

  polymongo_async  polymongo.AsyncPolyMongo (completions through the eventfd, loop.add_reader)
  to_thread        the blocking polymongo.PolyMongo through asyncio.to_thread
  official_async   pymongo's AsyncMongoClient
  idle_loop        no client: the ticker alone on an otherwise idle loop, for reference. Its
                   lag is the machine's (the scheduler's delay in running a thread that woke),
                   which on a loaded machine is part of every variant's lag too.

Each with a pool of POOL connections. Client CPU is the process's user + sys time (all its
threads: the library's executor, to_thread's workers) per operation; loop lag is how late a
1 ms ticker task wakes, its p99 over the round. Prints one JSON object per variant:
{"language": "python", "variant", "ops_per_s", "client_cpu_us_per_op", "loop_lag_p99_ms",
"rounds", "tasks", "databases"}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import time
from typing import Any, Callable, Dict, List

import pymongo
from pymongo import AsyncMongoClient

import polymongo

COLL = "docs"


def db_names(variant: str, n: int) -> List[str]:
    return [f"pmab_{variant}_{os.getpid() % 100000}_{i}" for i in range(n)]


async def ticker(lags: List[float], stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    while not stop.is_set():
        t = loop.time()
        await asyncio.sleep(0.001)
        lags.append((loop.time() - t - 0.001) * 1000)


async def run_round(make_ops: Callable[[str], Any], names: List[str], tasks: int, seconds: float,
                    seq: List[int]) -> Dict[str, float]:
    """make_ops(db_name) -> (insert(doc), find(id)) coroutine functions for that database."""
    ops = [make_ops(n) for n in names]
    count = [0]
    deadline = time.monotonic() + seconds

    async def worker(t: int) -> None:
        k = 0
        while time.monotonic() < deadline:
            insert, find = ops[(t + k) % len(ops)]
            seq[0] += 1
            _id = seq[0]
            await insert({"_id": _id, "tenant": t, "n": k, "s": "x" * 32})
            got = await find({"_id": _id})
            if got is None or got["_id"] != _id:
                raise RuntimeError(f"find_one did not return the document just inserted ({_id})")
            count[0] += 2
            k += 1

    lags: List[float] = []
    stop = asyncio.Event()
    tick = asyncio.ensure_future(ticker(lags, stop))
    cpu0, t0 = time.process_time(), time.monotonic()
    await asyncio.gather(*(worker(t) for t in range(tasks)))
    cpu, wall = time.process_time() - cpu0, time.monotonic() - t0
    stop.set()
    await tick
    return {"ops_per_s": count[0] / wall, "client_cpu_us_per_op": cpu / count[0] * 1e6,
            "loop_lag_p99_ms": statistics.quantiles(lags, n=100)[98] if len(lags) >= 100 else max(lags)}


async def idle_round(seconds: float) -> Dict[str, float]:
    lags: List[float] = []
    stop = asyncio.Event()
    tick = asyncio.ensure_future(ticker(lags, stop))
    await asyncio.sleep(seconds)
    stop.set()
    await tick
    return {"ops_per_s": 0.0, "client_cpu_us_per_op": 0.0,
            "loop_lag_p99_ms": statistics.quantiles(lags, n=100)[98] if len(lags) >= 100 else max(lags)}


async def variant_round(variant: str, uri: str, args: argparse.Namespace, seq: List[int]) -> Dict[str, float]:
    if variant == "idle_loop":
        return await idle_round(args.seconds)
    names = db_names(variant, args.dbs)
    if variant == "polymongo_async":
        async with polymongo.AsyncPolyMongo(uri, max_pool_size=args.pool) as pm:
            model = pm.model(COLL)

            def make(n: str) -> Any:
                db = model.db(n)
                return db.insert_one, db.find_one
            return await run_round(make, names, args.tasks, args.seconds, seq)
    if variant == "to_thread":
        with polymongo.PolyMongo(uri, max_pool_size=args.pool) as pm:
            model = pm.model(COLL)

            def make(n: str) -> Any:
                db = model.db(n)

                async def insert(d: Any) -> Any:
                    return await asyncio.to_thread(db.insert_one, d)

                async def find(f: Any) -> Any:
                    return await asyncio.to_thread(db.find_one, f)
                return insert, find
            return await run_round(make, names, args.tasks, args.seconds, seq)
    client: AsyncMongoClient = AsyncMongoClient(uri, maxPoolSize=args.pool)
    try:
        def make(n: str) -> Any:
            coll = client[n][COLL]
            return coll.insert_one, coll.find_one
        return await run_round(make, names, args.tasks, args.seconds, seq)
    finally:
        await client.close()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("uri")
    ap.add_argument("--tasks", type=int, default=80)
    ap.add_argument("--dbs", type=int, default=100)
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--pool", type=int, default=16)
    ap.add_argument("--variants", default="polymongo_async,to_thread,official_async,idle_loop",
                    help="comma-separated subset, in the order they take turns (for profiling one)")
    args = ap.parse_args()
    variants = args.variants.split(",")
    results: Dict[str, List[Dict[str, float]]] = {v: [] for v in variants}
    seq = [int(time.time() * 1000) % 10_000_000 * 1000]
    sync = pymongo.MongoClient(args.uri)
    try:
        for r in range(args.rounds):
            for v in variants:
                for n in db_names(v, args.dbs) if v != "idle_loop" else []:  # each round starts from a one-document collection
                    sync[n][COLL].drop()        # that exists already: creating 100 databases on
                    sync[n][COLL].insert_one({"_id": -1})  # the server is not what is measured
                results[v].append(asyncio.run(variant_round(v, args.uri, args, seq)))
        for v in variants:
            rs = results[v]
            print(json.dumps({"language": "python", "variant": v, "rounds": len(rs), "tasks": args.tasks,
                              "databases": args.dbs,
                              **{k: round(statistics.median(x[k] for x in rs), 3)
                                 for k in ("ops_per_s", "client_cpu_us_per_op", "loop_lag_p99_ms")}}))
    finally:
        for v in variants:
            for n in db_names(v, args.dbs) if v != "idle_loop" else []:
                sync.drop_database(n)
        sync.close()


if __name__ == "__main__":
    main()
