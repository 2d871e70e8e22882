"""docs/certificate.md: every ``>>>`` example prints what the page says (run in order, sharing names)."""

from __future__ import annotations

import doctest
import re
from pathlib import Path

PAGE = Path(__file__).resolve().parents[2] / "docs" / "certificate.md"
FENCE = re.compile(r"```python\n(.*?)```", re.DOTALL)


def test_certificate_page_examples_hold() -> None:
    blocks = [block for block in FENCE.findall(PAGE.read_text()) if ">>>" in block]
    assert len(blocks) >= 3
    test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, PAGE.name, str(PAGE), 0)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    runner.run(test)
    results = runner.summarize(verbose=False)
    assert results.attempted >= 10 and results.failed == 0


def test_readme_links_the_certificate_page() -> None:
    assert "(docs/certificate.md)" in (PAGE.parent.parent / "README.md").read_text()
