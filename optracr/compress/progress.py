"""A plain-text progress bar on stderr: steps done, the current loss and the time spent."""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 30


class ProgressBar:
    """Redraws one line (a terminal) or prints a line every tenth of the run (a log file)."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.total = total
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._last_tenth = -1

    def update(self, step: int, loss: float) -> None:
        """Shows that ``step`` of ``total`` steps are done and the loss is ``loss``."""
        if not self.enabled:
            return
        interactive = self.stream.isatty()
        tenth = 10 * step // max(self.total, 1)
        if not interactive and tenth == self._last_tenth:
            return
        self._last_tenth = tenth
        filled = WIDTH * step // max(self.total, 1)
        bar = "#" * filled + "." * (WIDTH - filled)
        elapsed = time.perf_counter() - self.start
        line = f"{self.label} [{bar}] {step}/{self.total} loss {loss:.3e} {elapsed:.0f}s"
        self.stream.write(("\r" + line) if interactive else (line + "\n"))
        self.stream.flush()

    def close(self, note: str = "") -> None:
        """Ends the bar's line, with ``note`` (e.g. why training stopped) after it."""
        if not self.enabled:
            return
        if self.stream.isatty():
            self.stream.write("\n")
        if note:
            self.stream.write(f"{self.label} {note}\n")
        self.stream.flush()
