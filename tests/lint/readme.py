#!/usr/bin/env python3
"""lint.readme: README.md stays a page for users: under 250 lines, and every link it makes
into the repository (docs/, the binding READMEs, images) points at a file that exists. Links
outside the repository are refused: a user's copy of the README must not depend on them."""
from __future__ import annotations

import re
import sys
from pathlib import Path

MAX_LINES = 250


def main() -> int:
    root = Path(sys.argv[1])
    readme = root / "README.md"
    text = readme.read_text(encoding="utf-8")
    problems = []
    lines = text.count("\n")
    if lines >= MAX_LINES:
        problems.append(f"README.md has {lines} lines; keep it under {MAX_LINES} (details go to docs/)")
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if target.startswith("#"):
            continue
        if re.match(r"^[a-z]+://", target):
            problems.append(f"README.md links outside the repository: {target}")
            continue
        path = target.split("#", 1)[0]
        if not (root / path).exists():
            problems.append(f"README.md links to {target}, which does not exist")
    for p in problems:
        print(p)
    print(f"README.md: {lines} lines, {'ok' if not problems else 'FAILED'}")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
