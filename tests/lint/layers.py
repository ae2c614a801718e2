#!/usr/bin/env python3
"""lint.layers: the core's layers, as its folders, include only downwards.

    base      documents, names, errors, clocks: no other layer
    observe   logging, events, usage counts
    exec      the executor (work that completes later) and the completion queue
              (one rank with observe: neither includes the other)
    config    the options
    pool      pools and the router
    ops       models, databases, cursors, write results: the operations
    txn, stream, transfer
              sessions and transactions; change streams; export, import, copy
              (one rank: none of the three includes another)
    fleet     the tenant directory, placement (above transfer, which moves use)
    (top)     wrapper.*, stats.*, signals.*: the composition root, which may include all;
              admin/ (the admin endpoint) is part of the top: the wrapper owns it, it reads
              the whole wrapper

A file may include headers of its own folder and of lower ranks only. The C shims (src/capi)
sit above the core; nothing in the core includes them or the public headers' internals.
src/core/README.md describes the same table; this file is the rule.
"""
from __future__ import annotations

import re
import sys
from pathlib import Path

RANKS = {"base": 0, "observe": 1, "exec": 1, "config": 2, "pool": 3, "ops": 4,
         "txn": 5, "stream": 5, "transfer": 5, "fleet": 6,
         "": 7, "admin": 7}
# Folders of the top layer: they include each other freely (the wrapper owns the admin endpoint).
TOP = {"", "admin"}


def layer_of(core: Path, path: Path) -> str:
    rel = path.relative_to(core)
    return rel.parts[0] if len(rel.parts) > 1 else ""


def main() -> int:
    core = Path(sys.argv[1]).resolve() / "src" / "core"
    problems: list[str] = []
    files = sorted(p for p in core.rglob("*") if p.suffix in (".hpp", ".cpp"))
    for path in files:
        layer = layer_of(core, path)
        if layer not in RANKS:
            problems.append(f"{path.relative_to(core)}: folder {layer!r} is not a layer (add it to "
                            "tests/lint/layers.py and src/core/README.md)")
            continue
        for n, line in enumerate(path.read_text().splitlines(), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            target = (core / m[1]).resolve()
            if "capi" in Path(m[1]).parts or not target.is_relative_to(core):
                problems.append(f"{path.relative_to(core)}:{n}: includes {m[1]!r}, outside the core")
                continue
            if not target.exists():
                problems.append(f"{path.relative_to(core)}:{n}: includes {m[1]!r}, which is not a "
                                "path from src/core")
                continue
            other = layer_of(core, target)
            if other == layer or (other in TOP and layer in TOP):
                continue
            if RANKS[other] >= RANKS[layer]:
                problems.append(f"{path.relative_to(core)}:{n}: {layer or 'top'} (rank "
                                f"{RANKS[layer]}) includes {m[1]} of {other or 'top'} (rank "
                                f"{RANKS[other]})")
    if problems:
        print("FAIL: the core's layers include upwards or sideways:\n  " + "\n  ".join(problems))
        return 1
    print(f"ok: {len(files)} files of src/core include only downwards")
    return 0


if __name__ == "__main__":
    sys.exit(main())
