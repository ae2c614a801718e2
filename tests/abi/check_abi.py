#!/usr/bin/env python3
"""The ABI checks (CTest label abi). Each subcommand is one test:

  exports LIB INCLUDE...      the library exports exactly the functions the headers declare with
                              PM_EXTERN, each under the version node POLYMONGO_<abi version>,
                              and its SONAME is libpolymongo.so.<abi version>
  abidiff LIB BASELINE INCLUDE...
                              libabigail's abidiff against the checked-in baseline: an
                              incompatible change fails unless the version was bumped (and then
                              the baseline must be regenerated: scripts/abi-baseline)
  version SOURCE_DIR          the version is written once, in CMakeLists.txt: no other tracked
                              file holds it, except the Rust workspace manifest (Cargo cannot read
                              it from elsewhere; scripts/set-version writes it), which must agree

ABI VERSION is major.minor before 1.0 and major from 1.0 (CMakeLists.txt, PM_ABI_VERSION).
"""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

# abidiff's exit status is a bit set (libabigail's abidiff documentation).
ABIDIFF_ERROR, ABIDIFF_USAGE_ERROR, ABIDIFF_ABI_CHANGE, ABIDIFF_ABI_INCOMPATIBLE_CHANGE = 1, 2, 4, 8


def fail(msg: str) -> None:
    print(f"FAIL: {msg}")
    sys.exit(1)


def run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False)


def project_version(source_dir: Path) -> tuple[int, int, int]:
    text = (source_dir / "CMakeLists.txt").read_text()
    m = re.search(r"^project\(polymongo VERSION (\d+)\.(\d+)\.(\d+)", text, re.M)
    if not m:
        fail("CMakeLists.txt has no `project(polymongo VERSION x.y.z` line")
    return int(m[1]), int(m[2]), int(m[3])


def abi_version(major: int, minor: int) -> str:
    return f"{major}.{minor}" if major == 0 else f"{major}"


def soname(lib: Path) -> str:
    out = run("readelf", "-d", str(lib)).stdout
    m = re.search(r"Library soname: \[([^\]]+)\]", out)
    return m[1] if m else ""


def declared_functions(include_dirs: list[Path]) -> set[str]:
    names: set[str] = set()
    for inc in include_dirs:
        for header in sorted(inc.rglob("*.h")):
            text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
            for m in re.finditer(r"^PM_EXTERN\b[^;(]*?\b(pm_\w+)\s*\(", text, re.M):
                names.add(m[1])
    return names


def exports(lib: Path, include_dirs: list[Path]) -> None:
    version = soname(lib).removeprefix("libpolymongo.so.")
    # The SONAME's version, from the library itself, must be the one the headers state.
    header = (include_dirs[-1] / "polymongo" / "version.h").read_text()
    hv = {k: int(v) for k, v in re.findall(r"#define PM_VERSION_(MAJOR|MINOR|PATCH) (\d+)", header)}
    want = abi_version(hv["MAJOR"], hv["MINOR"])
    if version != want:
        fail(f"SONAME is {soname(lib)!r}, want libpolymongo.so.{want} (the header says "
             f"{hv['MAJOR']}.{hv['MINOR']}.{hv['PATCH']})")
    out = run("nm", "-D", "--defined-only", "--with-symbol-versions", str(lib)).stdout
    exported: dict[str, str] = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) != 3 or parts[1] == "A":  # "A" is the version node itself
            continue
        name, _, node = parts[2].partition("@@")
        exported[name] = node
    declared = declared_functions(include_dirs)
    if not declared:
        fail(f"no PM_EXTERN declarations found under {include_dirs}")
    problems = []
    for name in sorted(set(exported) - declared):
        problems.append(f"exported but not declared in a public header: {name}")
    for name in sorted(declared - set(exported)):
        problems.append(f"declared but not exported: {name}")
    node = f"POLYMONGO_{want}"
    for name, got in sorted(exported.items()):
        if got != node:
            problems.append(f"{name} has version node {got or '(none)'!r}, want {node!r}")
    if problems:
        fail("\n  " + "\n  ".join(problems))
    print(f"ok: {len(exported)} functions, all declared, all at {node}, SONAME {soname(lib)}")


def abidw(lib: Path, include_dirs: list[Path]) -> list[str]:
    """The one abidw command line; scripts/abi-baseline uses it too."""
    cmd = ["abidw", "--exported-interfaces-only", "--drop-private-types", "--no-corpus-path",
           "--no-comp-dir-path", "--no-show-locs", "--type-id-style", "hash"]
    for inc in include_dirs:
        cmd += ["--headers-dir", str(inc)]
    return cmd + [str(lib)]


def abidiff(lib: Path, baseline: Path, include_dirs: list[Path]) -> None:
    if not baseline.exists():
        fail(f"no baseline at {baseline}: run scripts/abi-baseline")
    base_text = baseline.read_text()
    m = re.search(r"soname='([^']*)'", base_text)
    base_soname = m[1] if m else ""
    if base_soname != soname(lib):
        fail(f"the baseline is of {base_soname}, the library is {soname(lib)}: the version was "
             "bumped, so regenerate the baseline (scripts/abi-baseline) and commit it")
    # No --headers-dir here: abidw kept only the public types when it wrote either side.
    r = run("abidiff", "--no-show-locs", str(baseline), str(lib))
    print(r.stdout + r.stderr)
    if r.returncode & (ABIDIFF_ERROR | ABIDIFF_USAGE_ERROR):
        fail(f"abidiff could not compare (status {r.returncode}); is the library built with "
             "debug information (RelWithDebInfo or Debug)?")
    # abidiff flags only some breaks as incompatible (a removed function); a changed type, such
    # as a struct that grew, is a plain "change". Compatible means additions only.
    counts = {kind: 0 for kind in ("Removed", "Changed")}
    for line in r.stdout.splitlines():
        if "changes summary:" in line:  # "Functions changes summary: 0 Removed, 1 Changed ..."
            for m in re.finditer(r"(\d+) (Removed|Changed)\b", line):
                counts[m[2]] += int(m[1])
    if r.returncode & ABIDIFF_ABI_INCOMPATIBLE_CHANGE or counts["Removed"] or counts["Changed"]:
        fail(f"an incompatible ABI change against {baseline.name} ({base_soname}): "
             f"{counts['Removed']} removed, {counts['Changed']} changed; bump the version in "
             "CMakeLists.txt (the minor before 1.0, the major after), then run scripts/abi-baseline")
    if r.returncode & ABIDIFF_ABI_CHANGE:
        print(f"ok: compatible changes only (additions) against {base_soname}")
    else:
        print(f"ok: no ABI change against {base_soname}")


def version(source_dir: Path) -> None:
    major, minor, patch = project_version(source_dir)
    text_version = f"{major}.{minor}.{patch}"
    files = run("git", "-C", str(source_dir), "ls-files").stdout.split()
    # Cargo cannot take a version from another file: the workspace manifest (which both crates
    # inherit from) is written by scripts/set-version and must agree. CHANGELOG.md names versions
    # as history; lock files and go.sum name other packages' versions.
    manifest = "rust/Cargo.toml"
    allowed = {"CMakeLists.txt", "CHANGELOG.md", manifest}
    problems = []
    text = (source_dir / manifest).read_text()
    ws = re.search(r'^\[workspace\.package\][^\[]*?^version\s*=\s*"([^"]+)"', text, re.M | re.S)
    sys_dep = re.search(r'^polymongo-sys\s*=\s*\{[^}]*version\s*=\s*"=?([^"]+)"', text, re.M)
    for what, got in (("[workspace.package] version", ws), ("the polymongo-sys dependency", sys_dep)):
        if not got or got[1] != text_version:
            problems.append(f"{manifest}: {what} is {got[1] if got else '(none)'}, CMakeLists.txt "
                            f"says {text_version}: run scripts/set-version {text_version}")
    pattern = re.compile(re.escape(text_version).join([r"(?<![\d.])", r"(?![\d.])"]))
    for rel in files:
        if (rel in allowed or rel.endswith((".lock", "go.sum"))
                or rel.startswith("tests/bulk/bson-corpus/")):
            continue
        path = source_dir / rel
        if path.is_symlink():  # rust/polymongo-sys/polymongo/*: links to the sources, not copies
            continue
        try:
            text = path.read_text()
        except (UnicodeDecodeError, IsADirectoryError, FileNotFoundError):
            continue
        for n, line in enumerate(text.splitlines(), 1):
            if pattern.search(line):
                problems.append(f"{rel}:{n}: holds the version {text_version}: {line.strip()}")
    if problems:
        fail("the version must be written once (CMakeLists.txt):\n  " + "\n  ".join(problems))
    print(f"ok: {text_version} is written in CMakeLists.txt only (the Cargo manifests agree)")


def main() -> None:
    if len(sys.argv) < 3:
        print(__doc__)
        sys.exit(2)
    cmd, args = sys.argv[1], [Path(a) for a in sys.argv[2:]]
    if cmd == "exports":
        exports(args[0], args[1:])
    elif cmd == "abidiff":
        abidiff(args[0], args[1], args[2:])
    elif cmd == "abidw":  # used by scripts/abi-baseline
        print(" ".join(abidw(args[0], args[1:])))
    elif cmd == "version":
        version(args[0])
    else:
        print(__doc__)
        sys.exit(2)


if __name__ == "__main__":
    main()
