#!/usr/bin/env python3
"""tests/summary.py fails a run on a skip its list does not expect, and only then.

    summary_check.py BUILD_DIR

Feeds it a JUnit report (CTest's format) of two real tests of BUILD_DIR, one passed and one
skipped, first with an empty list of expected skips (it must exit 1 and call the skip
UNEXPECTED), then with a list naming that skip for its server (it must exit 0).
"""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SUMMARY = os.path.join(os.path.dirname(HERE), "summary.py")
JUNIT = """<?xml version="1.0" encoding="UTF-8"?>
<testsuite name="t" tests="2" failures="0" disabled="0" skipped="1">
  <testcase name="core.Fixture.BindingDoesNoIo" classname="core" time="0.1" status="run">
    <system-out>ok</system-out></testcase>
  <testcase name="core.Crud.UpdateWithArrayFilters" classname="core" time="0.1" status="run">
    <skipped message="skipped"/><system-out>Skipped
server lacks arrayFilters: not implemented</system-out></testcase>
</testsuite>
"""


def run(build: str, junit: str, expected: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, PM_EXPECTED_SKIPS=expected)
    env.pop("PM_TEST_URI", None)
    return subprocess.run([sys.executable, SUMMARY, build, junit], env=env, capture_output=True, text=True)


def main() -> int:
    build = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        junit, expected = os.path.join(d, "junit.xml"), os.path.join(d, "expected.txt")
        with open(junit, "w") as f:
            f.write(JUNIT)
        with open(expected, "w") as f:
            f.write("# nothing expected\n")
        r = run(build, junit, expected)
        print(r.stdout, r.stderr)
        if r.returncode != 1 or "UNEXPECTED" not in r.stdout or "1 passed, 0 failed, 1 skipped" not in r.stdout:
            print("FAIL: an unexpected skip did not fail the summary")
            return 1
        with open(expected, "w") as f:
            f.write("core.Crud.UpdateWith*\tferretdb\tlacks arrayFilters\n")
        r = run(build, junit, expected)
        print(r.stdout, r.stderr)
        if r.returncode != 0 or "[expected]" not in r.stdout:
            print("FAIL: a listed skip failed the summary")
            return 1
    print("the summary fails on an unexpected skip and accepts a listed one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
