"""The training progress bar: a tqdm bar on stderr with the steps done and the current loss."""

from __future__ import annotations

import sys
from typing import TextIO

import tqdm


class ProgressBar:
    """Steps of one training run; tqdm redraws it on a terminal and prints a line every tenth in a log file."""

    def __init__(self, label: str, total: int, *, enabled: bool = True, stream: TextIO | None = None) -> None:
        self.label = label
        self.stream = stream if stream is not None else sys.stderr
        interactive = self.stream.isatty()
        self._bar = tqdm.tqdm(
            total=total, desc=label, unit=" steps", file=self.stream, disable=not enabled, dynamic_ncols=interactive,
            mininterval=0.1 if interactive else 0.0, miniters=None if interactive else max(1, total // 10),
            ascii=not interactive,
        )

    def update(self, step: int, loss: float) -> None:
        """Shows that ``step`` of the total steps are done and the loss is ``loss``."""
        self._bar.set_postfix_str(f"loss {loss:.3e}", refresh=False)
        self._bar.update(step - self._bar.n)

    def close(self, note: str = "") -> None:
        """Ends the bar, with ``note`` (e.g. why training stopped) on a line after it."""
        disabled = self._bar.disable
        self._bar.close()
        if note and not disabled:
            self.stream.write(f"{self.label} {note}\n")
            self.stream.flush()
