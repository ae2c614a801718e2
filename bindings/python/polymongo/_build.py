"""Builds the ``polymongo._libpolymongo`` extension with cffi in out-of-line API mode.

Nothing here is hand-copied from the C header: the cdef is generated at build time by running
the C preprocessor over ``polymongo.h`` (found with ``pkg-config polymongo``), with the system
headers it includes replaced by empty files and the export macro neutralised. Integer macros
named ``PM_*`` become ``#define PM_X ...`` (their values are taken from the real header by the
compiler), string macros become ``static const char *const`` constants. Because the module is
compiled against the real header, cffi checks every declaration, struct layout and constant at
build time. New functions in the header therefore appear in ``lib`` with no change here.

Used three ways:
  * by the wheel build (``pip install ./bindings/python``; bindings/python/CMakeLists.txt):
    ``python _build.py --emit-c <out.c> -I <dir>...`` writes the extension's C source, which
    CMake compiles (Py_LIMITED_API, abi3) and links to libpolymongo;
  * by ``build_inplace.py`` (CTest), which compiles into a directory of its choice against the
    library that ``pkg-config polymongo`` finds (``make_ffibuilder()``);
  * ``python _build.py --print-cdef [-I <dir>...]`` shows the generated declarations.

Environment: ``PKG_CONFIG_PATH`` (e.g. ``<build>/pkgconfig-uninstalled``), ``PKG_CONFIG``,
``CC`` (the preprocessor to use; default ``cc``). With ``-I`` no pkg-config is run.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import subprocess
import sys
import tempfile
from typing import Dict, List, Optional, Tuple

from cffi import FFI

MODULE_NAME = "polymongo._libpolymongo"
PACKAGE = "polymongo"

# Declarations the binding adds on top of the generated ones: the Python functions that C
# calls back (cffi `extern "Python"`, see polymongo/events.py and polymongo/session.py). Only
# things that are not in the header belong here. cffi checks at each call that their types
# are the header's callback types (pm_event_fn, pm_transaction_fn, pm_progress_fn,
# pm_write_fn, pm_read_fn, pm_placement_fn).
EXTRA_CDEF = """
extern "Python" void _pm_py_event(const pm_event *event, void *user_data);
extern "Python" void _pm_py_free_user_data(void *user_data);
extern "Python" int _pm_py_transaction(pm_session *session, void *user_data);
extern "Python" void _pm_py_progress(uint64_t documents, uint64_t bytes, void *user_data);
extern "Python" int _pm_py_write(const char *line, size_t len, void *user_data);
extern "Python" long _pm_py_read(char *buf, size_t cap, void *user_data);
extern "Python" int _pm_py_placement(const char *db, const char *clusters_json, char *cluster, size_t cap,
                                     void *user_data);
"""


class BuildError(RuntimeError):
    pass


def _run(cmd: List[str]) -> str:
    try:
        proc = subprocess.run(cmd, check=False, capture_output=True, text=True)
    except FileNotFoundError as e:
        raise BuildError(f"cannot run {cmd[0]!r}: {e}") from e
    if proc.returncode != 0:
        raise BuildError(f"{shlex.join(cmd)} failed ({proc.returncode}):\n{proc.stderr.strip()}")
    return proc.stdout


def pkg_config() -> Dict[str, List[str]]:
    """The compiler and linker flags of the polymongo package, split by kind."""
    exe = os.environ.get("PKG_CONFIG", "pkg-config")
    try:
        _run([exe, "--exists", "--print-errors", PACKAGE])
    except BuildError as e:
        raise BuildError(
            f"{e}\npkg-config cannot find polymongo. Install the C library, or build it and set "
            "PKG_CONFIG_PATH=<cmake build dir>/pkgconfig-uninstalled."
        ) from None

    def flags(*what: str) -> List[str]:
        return shlex.split(_run([exe, *what, PACKAGE]))

    return {
        "include_dirs": [f[2:] for f in flags("--cflags-only-I")],
        "cflags_other": flags("--cflags-only-other"),
        "library_dirs": [f[2:] for f in flags("--libs-only-L")],
        "libraries": [f[2:] for f in flags("--libs-only-l")],
        "ldflags_other": flags("--libs-only-other"),
        "version": [_run([exe, "--modversion", PACKAGE]).strip()],
    }


def find_header(include_dirs: List[str]) -> str:
    for d in [*include_dirs, "/usr/local/include", "/usr/include"]:
        path = os.path.join(d, "polymongo.h")
        if os.path.isfile(path):
            return path
    raise BuildError(f"polymongo.h not found in {include_dirs} (from pkg-config) or /usr/include")


def _module_headers(header: str) -> List[str]:
    """The umbrella header and every header it includes from its own directory tree."""
    seen: List[str] = []
    todo = [header]
    while todo:
        path = todo.pop()
        if path in seen or not os.path.isfile(path):
            continue
        seen.append(path)
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for inc in re.findall(r'^\s*#\s*include\s*"([^"]+)"', text, re.M):
            todo.append(os.path.normpath(os.path.join(os.path.dirname(path), inc)))
    return seen


def generate_cdef(header: str, include_dirs: List[str]) -> Tuple[str, List[str]]:
    """Preprocesses the public header into cffi declarations.

    Returns (cdef text, list of the headers read)."""
    cc = shlex.split(os.environ.get("CC", "cc"))
    headers = _module_headers(header)
    system: set[str] = set()
    for h in headers:
        with open(h, encoding="utf-8") as f:
            system.update(re.findall(r"^\s*#\s*include\s*<([^>]+)>", f.read(), re.M))
    with tempfile.TemporaryDirectory(prefix="pm-cdef-") as fake:
        # System headers become empty files: cffi knows size_t, int32_t, bool, ... itself, and
        # glibc's own declarations are not ours to bind.
        for name in system:
            path = os.path.join(fake, name)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
        base = [*cc, "-E", "-nostdinc", "-I", fake, "-DPM_STATIC", "-D__attribute__(x)=",
                "-D__declspec(x)="]
        base += [f"-I{d}" for d in include_dirs] + ["-I", os.path.dirname(header)]
        decls = _run([*base, "-P", header])
        macros = _run([*base, "-dM", header])

    # Things cffi's parser does not take, should the header ever grow them.
    decls = re.sub(r"_Static_assert\s*\([^;]*\)\s*;", "", decls)
    decls = re.sub(r"\n\s*\n+", "\n", decls).strip()

    consts: List[str] = []
    for line in sorted(macros.splitlines()):
        m = re.match(r"#define (PM_[A-Z0-9_]+) (.+)$", line)
        if not m or m.group(1) in ("PM_EXTERN", "PM_STATIC"):
            continue  # function-like macros have "(" right after the name and do not match
        name, value = m.group(1), m.group(2).strip()
        if value.startswith('"'):
            consts.append(f"static const char *const {name};")
        elif re.fullmatch(r"[\w\s()<>|&+\-*~^]+", value) and "." not in value:
            consts.append(f"#define {name} ...")
    return decls + "\n" + "\n".join(consts) + "\n" + EXTRA_CDEF, headers


def _include_dirs_from_pkg_config() -> Tuple[List[str], Dict[str, List[str]]]:
    cfg = pkg_config()
    return cfg["include_dirs"], cfg


def make_ffibuilder(include_dirs: Optional[List[str]] = None) -> FFI:
    """The cffi builder of ``polymongo._libpolymongo``.

    With ``include_dirs`` (the wheel build), only the source is set: the caller compiles and
    links it. Without, the include and link flags come from ``pkg-config polymongo`` and the
    builder can compile the module itself (``builder.compile()``, see build_inplace.py)."""
    cfg: Dict[str, List[str]] = {}
    if include_dirs is None:
        include_dirs, cfg = _include_dirs_from_pkg_config()
    header = find_header(include_dirs)
    cdef, _ = generate_cdef(header, include_dirs)
    builder = FFI()
    builder.cdef(cdef)
    builder.set_source(
        MODULE_NAME,
        "#include <polymongo.h>\n",
        include_dirs=include_dirs,
        library_dirs=cfg.get("library_dirs", []),
        libraries=cfg.get("libraries", []),
        # An rpath to each -L directory, so that a build-tree or /opt install is found at run
        # time without LD_LIBRARY_PATH (the build tree's .pc adds one as well).
        runtime_library_dirs=cfg.get("library_dirs", []),
        extra_compile_args=cfg.get("cflags_other", []),
        extra_link_args=cfg.get("ldflags_other", []),
    )
    return builder


def main(argv: List[str]) -> int:
    ap = argparse.ArgumentParser(description="Generates polymongo's cffi extension.")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--emit-c", metavar="OUT", help="write the extension's C source to OUT")
    what.add_argument("--print-cdef", action="store_true", help="print the generated cdef")
    what.add_argument("--compile", action="store_true",
                      help="compile the extension here against pkg-config polymongo")
    ap.add_argument("-I", dest="include_dirs", action="append", metavar="DIR",
                    help="an include directory of polymongo.h (default: pkg-config's)")
    args = ap.parse_args(argv)
    try:
        if args.print_cdef:
            dirs = args.include_dirs or _include_dirs_from_pkg_config()[0]
            print(generate_cdef(find_header(dirs), dirs)[0])
        elif args.emit_c:
            builder = make_ffibuilder(args.include_dirs or None)
            tmp = args.emit_c + ".tmp"
            builder.emit_c_code(tmp)
            os.replace(tmp, args.emit_c)  # only a complete file replaces the old one
        else:
            make_ffibuilder(args.include_dirs or None).compile(verbose=True)
    except BuildError as e:
        print(f"polymongo: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
