#!/usr/bin/env python3
"""Proves that scripts/bootstrap's Debian package list is complete.

    check_setup.py cmake BUILD_DIR    every file the configured build found (the absolute paths
                                      in BUILD_DIR/CMakeCache.txt, the .pc file of every
                                      pkg-config module) belongs to a listed package
    check_setup.py tools              every external program the scripts and tests call belongs
                                      to a listed package

"Belongs to a listed package" means: `dpkg -S` names, for the file (or the file its symlinks
resolve to), a package that scripts/bootstrap installs, or one those depend on (Depends and
Pre-Depends, followed through alternatives and virtual packages), or one every Debian system
has (Essential, Priority required, and apt: debootstrap's minimal base). A file outside Debian's
packages is allowed only when it belongs to a toolchain that scripts/bootstrap checks (Go, Rust)
or to the project's own Python environment and build tree. Anything else fails, naming the file
and the package that would have to be added.
"""
from __future__ import annotations

import collections
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
HOME = Path.home()
# Outside Debian's packages: the toolchains bootstrap checks, and what the project makes itself.
TOOLCHAIN_PREFIXES = [
    Path("/usr/local/go"), HOME / ".cargo", HOME / ".rustup", HOME / ".pyenv",
    Path(os.environ.get("PM_CACHE_DIR", HOME / ".cache" / "polymongo")), ROOT,
]
TOOLCHAIN_PROGRAMS = {"go", "gofmt", "cargo", "rustc", "rustup"}


def bootstrap_packages() -> list[str]:
    out = subprocess.run([str(ROOT / "scripts" / "bootstrap"), "--packages"], check=True,
                         capture_output=True, text=True).stdout
    return out.split()


def installed_packages() -> dict[str, dict[str, str]]:
    fmt = "${Package}\\t${Status}\\t${Essential}\\t${Priority}\\t${Depends}\\t${Pre-Depends}\\t${Provides}\\n"
    out = subprocess.run(["dpkg-query", "-W", "-f", fmt], check=True, capture_output=True,
                         text=True).stdout
    pkgs = {}
    for line in out.splitlines():
        name, status, essential, priority, depends, predepends, provides = line.split("\t")
        if "install ok installed" not in status:
            continue
        pkgs[name] = {"essential": essential, "priority": priority,
                      "depends": ", ".join(d for d in (depends, predepends) if d),
                      "provides": provides}
    return pkgs


def allowed_packages(listed: list[str], pkgs: dict[str, dict[str, str]]) -> dict[str, str]:
    """Every package that may own a file the project uses, with the reason it may."""
    providers: dict[str, list[str]] = {}
    for name, p in pkgs.items():
        for prov in filter(None, (x.strip().split(" ")[0] for x in p["provides"].split(","))):
            providers.setdefault(prov, []).append(name)

    def resolve(dep: str) -> list[str]:
        dep = dep.strip().split(" ")[0].split(":")[0]
        return [dep] if dep in pkgs else providers.get(dep, [])

    why: dict[str, str] = {}
    roots = [(p, "listed in scripts/bootstrap") for p in listed]
    # debootstrap's minimal base: the required packages and apt (which installs the rest).
    roots += [(n, "on every Debian system") for n, p in pkgs.items()
              if p["essential"] == "yes" or p["priority"] == "required" or n == "apt"]
    queue = collections.deque(roots)  # breadth first: the shortest reason wins
    while queue:
        name, reason = queue.popleft()
        if name in why or name not in pkgs:
            continue
        why[name] = reason
        for group in filter(None, (g.strip() for g in pkgs[name]["depends"].split(","))):
            for alt in group.split("|"):  # an installed alternative satisfies the group
                for real in resolve(alt):
                    queue.append((real, f"{reason} (via {name})"))
    return why


def owners(path: Path) -> list[str]:
    """The packages dpkg says own `path` (or what its symlinks resolve to), usr-merge aware."""
    candidates = [path, path.resolve()]
    for c in list(candidates):
        s = str(c)
        if s.startswith("/usr/"):
            candidates.append(Path(s[4:]))
        elif s.startswith(("/bin/", "/sbin/", "/lib/", "/lib64/")):
            candidates.append(Path("/usr" + s))
    found: list[str] = []
    for c in candidates:
        r = subprocess.run(["dpkg", "-S", str(c)], capture_output=True, text=True)
        if r.returncode == 0:
            for line in r.stdout.splitlines():
                if line.startswith("diversion by"):
                    continue
                pkgs_part = line.rsplit(": ", 1)[0]
                found += [p.strip().split(":")[0] for p in pkgs_part.split(",")]
    return found


def outside_debian(path: Path) -> bool:
    for p in (path, path.resolve()):
        if any(p == t or t in p.parents for t in TOOLCHAIN_PREFIXES):
            return True
    return False


class Checker:
    def __init__(self) -> None:
        self.listed = bootstrap_packages()
        self.pkgs = installed_packages()
        missing = [p for p in self.listed if p not in self.pkgs]
        if missing:
            sys.exit(f"FAIL: packages listed in scripts/bootstrap are not installed: {missing} "
                     "(run scripts/bootstrap)")
        self.why = allowed_packages(self.listed, self.pkgs)
        self.failures: list[str] = []
        self.checked = 0

    def check(self, what: str, path: Path) -> None:
        self.checked += 1
        if outside_debian(path):
            print(f"  ok  {what}: {path} (toolchain or project, outside Debian's packages)")
            return
        own = owners(path)
        ok = sorted((o for o in own if o in self.why), key=lambda o: len(self.why[o]))
        if ok:
            print(f"  ok  {what}: {path} -> {ok[0]} ({self.why[ok[0]]})")
        elif own:
            self.failures.append(f"{what}: {path} belongs to {', '.join(sorted(set(own)))}, "
                                 "which scripts/bootstrap neither lists nor depends on")
        else:
            self.failures.append(f"{what}: {path} belongs to no Debian package and to no "
                                 "toolchain bootstrap checks")

    def finish(self, label: str) -> int:
        for f in self.failures:
            print(f"FAIL {f}")
        if self.checked == 0:
            print(f"FAIL {label}: nothing was checked")
            return 1
        print(f"{label}: {self.checked} checked, {len(self.failures)} not covered by scripts/bootstrap")
        return 1 if self.failures else 0


def check_cmake(build: Path) -> int:
    c = Checker()
    cache = (build / "CMakeCache.txt").read_text()
    seen: set[str] = set()
    for m in re.finditer(r"^([A-Za-z0-9_.+-]+):(FILEPATH|PATH|STRING|INTERNAL)=(.*)$", cache, re.M):
        key, value = m.group(1), m.group(3)
        if key.startswith(("CMAKE_INSTALL_", "_GNUInstallDirs")) or key == "CMAKE_INSTALL_PREFIX":
            continue  # where things would be installed, not what the build found
        for v in value.split(";"):
            if v.startswith("/") and v not in seen and os.path.exists(v):
                seen.add(v)
                c.check(f"CMakeCache {key}", Path(v))
    for module in re.findall(r"^[A-Za-z0-9_]+_MODULE_NAME:INTERNAL=(.+)$", cache, re.M):
        r = subprocess.run(["pkg-config", "--path", module], capture_output=True, text=True)
        if r.returncode != 0:
            c.failures.append(f"pkg-config module {module}: not found")
            continue
        c.check(f"pkg-config {module}", Path(r.stdout.strip()))
    return c.finish("cmake")


# Where a program is called: a shell word in command position; a Python subprocess argument
# list's first string; a C++ std::system or sh("...") string's first word.
SHELL_FILES = ["scripts/*", ".ci/run", "tests/**/*.sh", "go/scripts/*.sh"]
PY_FILES = ["bench/run", "bench/bindings/run", "tests/**/*.py"]
CXX_FILES = ["tests/**/*.cpp"]
CMAKE_FILES = ["CMakeLists.txt", "**/CMakeLists.txt", "**/ctest.cmake"]
SHELL_KEYWORDS = {"if", "then", "else", "elif", "fi", "for", "in", "do", "done", "while", "until",
                  "case", "esac", "function", "return", "local", "export", "set", "shift",
                  "trap", "exit", "echo", "printf", "read", "cd", "source", "exec", "eval", "wait",
                  "true", "false", "test", "command", "type", "break", "continue", "declare",
                  "unset", "readonly", "let", "builtin", "time", "select", "coproc", "pwd", "kill"}


def shell_commands(text: str) -> set[str]:
    funcs = set(re.findall(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*\(\)", text, re.M))
    words: set[str] = set()
    for line in text.splitlines():
        line = re.sub(r"(^|\s)#.*$", "", line)  # comments
        line = re.sub(r"'[^']*'", "''", line)  # single-quoted text is data
        for seg in re.split(r"\|\||&&|[|;(]|\$\(|`|\bthen\b|\bdo\b|\belse\b|\bexec\b|\bsetsid\b|\bnice\b|\bxargs\b|\btimeout\s+\S+|\bsudo_cmd\"?\s*|\$sudo_cmd", line):
            seg = seg.strip().lstrip("!{ ").strip()
            seg = re.sub(r"^(?:[A-Za-z_][A-Za-z0-9_]*=(?:\"[^\"]*\"|\S*)\s+)+", "", seg)  # VAR=x cmd
            if seg.startswith("env "):
                seg = re.sub(r"^env\s+(?:[A-Za-z_][A-Za-z0-9_]*=\S*\s+)*", "", seg)
            m = re.match(r"([A-Za-z][A-Za-z0-9_.+-]*)([\s);]|$)", seg)
            if m:
                words.add(m.group(1))
    return {w for w in words if w not in SHELL_KEYWORDS and w not in funcs}


def program_calls() -> dict[str, set[str]]:
    calls: dict[str, set[str]] = {}

    def add(word: str, where: Path) -> None:
        calls.setdefault(word, set()).add(str(where.relative_to(ROOT)))

    def files(patterns: list[str]) -> set[Path]:
        return {p for pat in patterns for p in ROOT.glob(pat)
                if p.is_file() and "build" not in p.relative_to(ROOT).parts[0]}

    for f in files(SHELL_FILES):
        text = f.read_text(errors="replace")
        if f.suffix in ("", ".sh") and (text.startswith("#!/usr/bin/env bash") or
                                        text.startswith("#!/bin/sh") or f.suffix == ".sh"):
            for w in shell_commands(text):
                add(w, f)
    for f in files(PY_FILES):
        text = f.read_text(errors="replace")
        for w in re.findall(r"""(?:run|Popen|check_output|check_call|call)\(\s*\[\s*["']([A-Za-z][\w.+-]*)["']""", text):
            add(w, f)
        for w in re.findall(r"""which\(\s*["']([A-Za-z][\w.+-]*)["']""", text):
            add(w, f)
    for f in files(CXX_FILES):
        for w in re.findall(r"""(?:std::system|\bsh)\(\s*\(?\s*"([A-Za-z][\w.+-]*)""",
                            f.read_text(errors="replace")):
            add(w, f)
    for f in files(CMAKE_FILES):
        text = f.read_text(errors="replace")
        for w in re.findall(r"COMMAND\s+([A-Za-z][\w.+-]*)\s", text):
            add(w, f)
        for w in re.findall(r"find_program\(\s*\S+\s+(?:NAMES\s+)?([A-Za-z][\w.+-]*)", text):
            add(w, f)
    return calls


def check_tools() -> int:
    c = Checker()
    for word, where in sorted(program_calls().items()):
        path = shutil.which(word)
        if path is None:
            continue  # not a program here: a function, a variable's value, a word of data
        if word in TOOLCHAIN_PROGRAMS:
            c.checked += 1
            print(f"  ok  {word}: {path} (a toolchain scripts/bootstrap checks)")
            continue
        c.check(f"{word} (called in {', '.join(sorted(where))})", Path(path))
    return c.finish("tools")


def main() -> int:
    if shutil.which("dpkg") is None:
        print("SKIPPED: not a Debian system (no dpkg): scripts/bootstrap's package list does not apply")
        return 77
    if len(sys.argv) == 3 and sys.argv[1] == "cmake":
        return check_cmake(Path(sys.argv[2]))
    if len(sys.argv) == 2 and sys.argv[1] == "tools":
        return check_tools()
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
