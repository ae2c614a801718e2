#!/usr/bin/env python3
"""lint.api_docs: the API reference is complete.

    api_docs.py DOXYGEN DOXYFILE INCLUDE_DIR WORK_DIR

Runs Doxygen with the configured docs/api/Doxyfile (the one `cmake --build build --target docs`
uses), writing its output and XML into WORK_DIR, and fails when:
  - Doxygen gives any warning: an undocumented function, type, enum value, struct member or
    macro; an undocumented parameter or return value (WARN_NO_PARAMDOC); a documented parameter
    that does not exist, a broken reference (WARN_IF_DOC_ERROR);
  - a function declared with PM_EXTERN in INCLUDE_DIR's headers is missing from Doxygen's output (a header
    without a @file comment, or a declaration Doxygen misread, would hide it silently);
  - a function's documentation has no "Thread-safety" paragraph (@par Thread-safety);
  - a function that hands out memory or a pointer (returns a pointer, or has a `**` or pm_buf
    out-parameter; the pm_*_free functions aside) does not say who frees it or how long it lives: its documentation must name
    a free function or say "borrowed", "owned" or "static".
"""
from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

OWNERSHIP_WORDS = re.compile(r"pm_\w*free|borrowed|owned|static string", re.I)


def fail_all(problems: list[str]) -> int:
    for p in problems:
        print(f"FAIL: {p}")
    print(f"lint.api_docs: {len(problems)} problem(s)" if problems else "lint.api_docs: ok")
    return 1 if problems else 0


def declared_functions(include_dir: Path) -> set[str]:
    """The PM_EXTERN functions, read as tests/abi/check_abi.py reads them."""
    names: set[str] = set()
    for header in sorted(include_dir.rglob("*.h")):
        text = re.sub(r"/\*.*?\*/", "", header.read_text(), flags=re.S)
        for m in re.finditer(r"^PM_EXTERN\b[^;(]*?\b(pm_\w+)\s*\(", text, re.M):
            names.add(m[1])
    return names


def text_of(node: ET.Element | None) -> str:
    return "" if node is None else " ".join("".join(node.itertext()).split())


def main() -> int:
    doxygen, doxyfile, include_dir, work = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    work.mkdir(parents=True, exist_ok=True)
    log = work / "warnings.log"
    log.unlink(missing_ok=True)
    # The same configuration, with XML output too, into WORK_DIR (later settings win). The HTML
    # stays on: Doxygen 1.9 checks parameter documentation only while writing it.
    config = doxyfile.read_text() + f"""
OUTPUT_DIRECTORY = "{work}"
WARN_LOGFILE     = "{log}"
WARN_AS_ERROR    = NO
GENERATE_XML     = YES
XML_PROGRAMLISTING = NO
"""
    run = subprocess.run([doxygen, "-"], input=config, text=True, capture_output=True, check=False)
    problems: list[str] = []
    if run.returncode != 0:
        problems.append(f"doxygen exited with {run.returncode}: {run.stderr.strip()}")
    warnings = log.read_text().strip() if log.exists() else ""
    if warnings:
        print(warnings)
        problems.append(f"doxygen gave {len(warnings.splitlines())} warning line(s) (above)")
    if run.returncode != 0:
        return fail_all(problems)

    documented: dict[str, ET.Element] = {}
    for xml in sorted((work / "xml").glob("*_8h.xml")):
        for member in ET.parse(xml).getroot().iter("memberdef"):
            if member.get("kind") == "function":
                documented[text_of(member.find("name"))] = member

    declared = declared_functions(include_dir)
    if not declared:
        problems.append(f"no PM_EXTERN declarations found under {include_dir}")
    for name in sorted(declared - documented.keys()):
        problems.append(f"{name}: declared with PM_EXTERN but absent from the reference")

    for name in sorted(declared & documented.keys()):
        member = documented[name]
        detailed = member.find("detaileddescription")
        titles = [text_of(s.find("title")) for s in member.iter("simplesect") if s.get("kind") == "par"]
        if "Thread-safety" not in titles:
            problems.append(f"{name}: no '@par Thread-safety' paragraph")
        ret = text_of(member.find("type"))
        out_params = [text_of(p.find("declname")) for p in member.iter("param")
                      if "**" in text_of(p.find("type")) or text_of(p.find("type")) == "pm_buf *"]
        if ("*" in ret or out_params) and not name.endswith("_free"):
            doc = text_of(member.find("briefdescription")) + " " + text_of(detailed)
            if not OWNERSHIP_WORDS.search(doc):
                what = f"returns {ret}" if "*" in ret else f"hands out {', '.join(out_params)}"
                problems.append(f"{name}: {what} but its documentation says neither who frees it "
                                "nor that it is borrowed")
    print(f"lint.api_docs: {len(declared)} functions declared, {len(documented)} in the reference")
    return fail_all(problems)


if __name__ == "__main__":
    sys.exit(main())
