"""The docs, the code's comments and docstrings point only at what a user can open: files in the repository
or public links, never an internal tracker ("issue 11") or a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
USER_FACING = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md")),
               *sorted((ROOT / "optracr").rglob("*.py"))]
UNREACHABLE = re.compile(r"issues? [0-9]|shared/|PAPER\.md|DESIGN\.md")
ISSUE_MENTION = re.compile(r"issue #(\d+)")


def test_nothing_points_outside_the_repository() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in USER_FACING
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if UNREACHABLE.search(line)
    ]
    assert not found, "\n".join(found)


def test_a_numbered_issue_is_a_link_to_the_references_tracker() -> None:
    for path in USER_FACING:
        text = path.read_text()
        for mention in ISSUE_MENTION.finditer(text):
            link = f"https://github.com/google-deepmind/tracr/issues/{mention.group(1)}"
            assert link in text[mention.start(): mention.end() + 120], f"{path.relative_to(ROOT)}: {mention.group()}"
