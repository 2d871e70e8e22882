"""The docs, the code's comments and docstrings point only at what a user can open: files in the repository
or public links, never an internal tracker (an issue number) or a document outside the repository."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", ROOT / "benchmarks" / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
USER_FACING = [*DOCS, *sorted((ROOT / "optracr").rglob("*.py")),
               *sorted((ROOT / "tests").rglob("*.py"))]
UNREACHABLE = re.compile(r"issues? [0-9]|shared[/]|PAPER\.md|DESIGN\.md")  # "[/]": no match on itself
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


MARKDOWN_LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")
REPOSITORY_PATH = re.compile(r"`((?:optracr|tests|docs|benchmarks)/[\w/.-]+\.(?:py|md|png|json))`")


def test_every_relative_link_in_the_docs_opens_a_file_of_the_repository() -> None:
    broken = [
        f"{doc.relative_to(ROOT)}: {target}"
        for doc in DOCS
        for target in MARKDOWN_LINK.findall(doc.read_text())
        if "://" not in target and not (doc.parent / target).exists()
    ]
    assert not broken, "\n".join(broken)


def test_every_file_the_docs_name_exists() -> None:
    missing = [
        f"{doc.relative_to(ROOT)}: {path}"
        for doc in DOCS
        for path in REPOSITORY_PATH.findall(doc.read_text())
        if not (ROOT / path).exists()
    ]
    assert not missing, "\n".join(missing)


def test_the_readme_links_the_design() -> None:
    assert "(docs/design.md)" in (ROOT / "README.md").read_text()
    design = (ROOT / "docs" / "design.md").read_text()
    assert "(artefacts.md)" in design and "tests/test_architecture.py" in design
