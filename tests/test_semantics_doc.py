"""docs/semantics.md: every ``>>>`` example prints what the page says (run in order, sharing names)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "docs" / "semantics.md"
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_semantics_page_examples_hold() -> None:
    text = PAGE.read_text()
    blocks = [block for block in FENCE.findall(text) if ">>>" in block]
    assert len(blocks) >= 10  # one or more per section
    source = "\n".join(blocks)
    test = doctest.DocTestParser().get_doctest(source, {}, PAGE.name, str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted > 30 and results.failed == 0


def test_readme_links_the_semantics_page() -> None:
    readme = (PAGE.parent.parent / "README.md").read_text()
    assert "(docs/semantics.md)" in readme
