#!/usr/bin/env python3
"""What ``model.db(name)`` costs in the Python binding, measured with timeit.

    PYTHONPATH=<dir with the built polymongo package> python3 python_db_lookup.py URI [NAMES]

No I/O: ``model.db`` only binds a name. Rows, each the best of 7 timeit repeats, in ns per
call:

- ``cached_ns``: one name seen before, again and again (a request handler's ``users.db(tenant)``);
- ``cached_across_ns``: NAMES names seen before, in turn (default 1,000);
- ``uncached_ns``: a new binding every call, what every call cost before the binding kept its
  dbs (the C call, a handle, a Db object): the baseline of the same run;
- ``c_call_ns``: ``pm_model_db`` + ``pm_db_free`` through cffi alone.

Prints one JSON object.
"""

from __future__ import annotations

import json
import sys
import timeit


def best_ns(stmt, number: int) -> float:
    return min(timeit.repeat(stmt, number=number, repeat=7)) / number * 1e9


def main(argv: list) -> int:
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    uri, n_names = argv[1], int(argv[2]) if len(argv) == 3 else 1000

    import polymongo
    from polymongo._ffi import ffi, lib, new_error

    with polymongo.PolyMongo(uri, default_db="pm_bench_db_lookup") as pm:
        users = pm.model("users")
        names = [f"tenant_{i:05d}" for i in range(n_names)]
        for name in names:
            users.db(name)  # seen before
        one = names[0]
        db = users.db
        cached = best_ns(lambda: db(one), 200_000)
        it = iter(names * 10_000)
        across = best_ns(lambda: db(next(it)), min(100_000, n_names * 100))
        make = users._make_db
        uncached = best_ns(lambda: make(one), 20_000)
        out = ffi.new("pm_db **")
        err = new_error()
        raw = one.encode()
        with users._h as model_ptr:
            def c_call() -> None:
                lib.pm_model_db(model_ptr, raw, out, err)
                lib.pm_db_free(out[0])
            c_ns = best_ns(c_call, 200_000)
        if users.db(one) is not users.db(one) or users.db(one).name != one:
            raise RuntimeError("model.db did not return the cached db")
    print(json.dumps({"cached_ns": round(cached, 1), "cached_across_ns": round(across, 1),
                      "names": n_names, "uncached_ns": round(uncached, 1),
                      "c_call_ns": round(c_ns, 1),
                      "uncached_over_cached": round(uncached / cached, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
