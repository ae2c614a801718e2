#!/usr/bin/env python3
"""Builds the binding against a CMake build tree, into a directory outside the source tree.

    PKG_CONFIG_PATH=<cmake build>/pkgconfig-uninstalled \\
        python3 bindings/python/build_inplace.py <out dir>

copies the pure-Python package to <out dir>/polymongo/ and compiles the cffi extension
(polymongo/_libpolymongo.*.so) there, so that `PYTHONPATH=<out dir> python3 -c "import
polymongo"` works without installing anything. CTest runs this as its `python.build` step, so
that the Python tests test the library of the CMake build they belong to (sanitizer builds
included). Users install with `pip install ./bindings/python` instead (README.md).
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.join(HERE, "polymongo")


def main(argv: list) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    out = os.path.abspath(argv[1])
    missing = []
    for mod in ("cffi", "bson", "pytest", "setuptools"):
        try:
            __import__(mod)
        except ImportError:
            missing.append(mod)
    if missing:
        print(f"polymongo: missing Python packages {missing}; run scripts/bootstrap or "
              f"python3 -m pip install -r {HERE}/requirements-dev.txt", file=sys.stderr)
        return 1
    pkg = os.path.join(out, "polymongo")
    os.makedirs(pkg, exist_ok=True)
    # A fresh copy of the sources (stale modules removed, the compiled extension kept).
    for name in os.listdir(pkg):
        if name.endswith((".py", ".pyi", ".typed")):
            os.remove(os.path.join(pkg, name))
    for name in os.listdir(SRC):
        if name.endswith((".py", ".pyi")) or name == "py.typed":
            shutil.copy2(os.path.join(SRC, name), os.path.join(pkg, name))
    build = runpy.run_path(os.path.join(SRC, "_build.py"), run_name="polymongo_build")
    try:
        builder = build["make_ffibuilder"]()
    except build["BuildError"] as e:
        print(f"polymongo: {e}", file=sys.stderr)
        return 1
    target = builder.compile(tmpdir=out)
    print(f"polymongo: built {target}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
