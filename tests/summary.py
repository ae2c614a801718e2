#!/usr/bin/env python3
"""The summary scripts/test prints after each suite, and the check of its skips.

    summary.py BUILD_DIR JUNIT_XML...

Counts passed, failed and skipped tests per label and per server, lists every skip with its
reason, and fails (exit 1) on a skip that tests/expected-skips.txt does not list for that test and
server. The servers are the ones the run used: `ferretdb` (the main server and the second
cluster) and `secantusdb` (transactions and change streams) when the CTest fixture started them,
or `PM_TEST_URI` / `PM_TEST_TXN_URI` when the user gave them; skips on a server the user gave are
listed but not checked (what a server lacks is the user's to know). A test runs on the
transaction server when its label is txn or stream, on no server when its label is setup, lint, abi,
fixture or fuzz, and on the main server otherwise (the bindings' suites, which use both, count under the main
one; their transaction and stream tests name SecantusDB in their skip reasons when it is not there).
With PM_TEST_NO_TXN_SERVER=1 (a user's opt-out; CI never sets it) skips on the transaction server
are listed as opted out.
"""
from __future__ import annotations

import fnmatch
import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path

HERE = Path(__file__).resolve().parent
EXPECTED = Path(os.environ.get("PM_EXPECTED_SKIPS", HERE / "expected-skips.txt"))


def servers() -> dict[str, str]:
    return {
        "main": "PM_TEST_URI" if os.environ.get("PM_TEST_URI") else "ferretdb",
        "txn": "PM_TEST_TXN_URI" if os.environ.get("PM_TEST_TXN_URI") else "secantusdb",
        "none": "none",
    }


def labels_of(build: str) -> dict[str, list[str]]:
    out = subprocess.run(["ctest", "--show-only=json-v1"], cwd=build, check=True,
                         capture_output=True, text=True).stdout
    result = {}
    for t in json.loads(out)["tests"]:
        labels = []
        for p in t.get("properties", []):
            if p["name"] == "LABELS":
                labels = p["value"]
        result[t["name"]] = labels
    return result


def server_role(labels: list[str]) -> str:
    if {"txn", "stream"} & set(labels):
        return "txn"
    if {"setup", "fuzz", "fixture", "lint", "abi"} & set(labels) or not labels:
        return "none"
    return "main"


SKIP_PATTERNS = [
    re.compile(r"SKIPPED \[\d+\] [^:]+:\d+: (.+)"),   # pytest -rs
    re.compile(r"SKIPPED: (.+)"),                      # Rust tests, scripts
    re.compile(r"^\s*\S+_test\.go:\d+: (.+)$", re.M),  # go test: the t.Skip line
    re.compile(r"Skipped\n(.+)"),                      # GoogleTest's GTEST_SKIP() << reason
    re.compile(r"\[  SKIPPED \] .*\n?(.*)"),
]


def skip_reason(output: str) -> str:
    for pattern in SKIP_PATTERNS:
        m = pattern.search(output)
        if m and m.group(1).strip():
            return m.group(1).strip()
    lines = [l for l in output.splitlines() if l.strip()]
    return lines[-1].strip() if lines else "(no reason printed)"


def expected_skips() -> list[tuple[str, str, str]]:
    entries = []
    for line in EXPECTED.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        test, server, reason = (f.strip() for f in line.split("\t", 2))
        entries.append((test, server, reason))
    return entries


def main() -> int:
    build, junits = sys.argv[1], sys.argv[2:]
    labels = labels_of(build)
    names = servers()
    counts: dict[str, Counter] = defaultdict(Counter)
    by_server: dict[str, Counter] = defaultdict(Counter)
    skips = []
    for junit in junits:
        if not os.path.exists(junit):
            continue
        for case in ET.parse(junit).getroot().iter("testcase"):
            name = case.get("name", "")
            status = case.get("status", "")
            out = (case.findtext("system-out") or "")
            if case.find("skipped") is not None or status == "disabled":
                outcome = "skipped"
            elif status == "run" and case.find("failure") is None:
                outcome = "passed"
            else:
                outcome = "failed"
            test_labels = labels.get(name, [])
            server = names[server_role(test_labels)]
            for label in test_labels or ["(none)"]:
                counts[label][outcome] += 1
            by_server[server][outcome] += 1
            if outcome == "skipped":
                skips.append((name, server, skip_reason(out)))

    print(f"polymongo: summary of {build}")
    for title, table in (("label", counts), ("server", by_server)):
        for key in sorted(table):
            c = table[key]
            print(f"  {title} {key:<12} {c['passed']:5d} passed, {c['failed']:3d} failed, "
                  f"{c['skipped']:3d} skipped")
    expected = expected_skips()
    unexpected = []
    opted_out = os.environ.get("PM_TEST_NO_TXN_SERVER") == "1"
    for name, server, reason in sorted(skips):
        if server in ("PM_TEST_URI", "PM_TEST_TXN_URI"):
            verdict = "on a server you gave"
        elif opted_out and server == "secantusdb":
            verdict = "opted out (PM_TEST_NO_TXN_SERVER=1)"
        elif any(fnmatch.fnmatchcase(name, t) and s == server and r in reason
                 for t, s, r in expected):
            verdict = "expected"
        else:
            verdict = "UNEXPECTED"
            unexpected.append(name)
        print(f"  skipped [{verdict}] {name} on {server}: {reason}")
    total = Counter()
    for c in by_server.values():
        total.update(c)
    print(f"summary: {total['passed']} passed, {total['failed']} failed, {total['skipped']} skipped")
    if unexpected:
        print(f"polymongo: {len(unexpected)} skip(s) not listed in {EXPECTED}"
              f" for their server: a skip must be expected, with its reason")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
