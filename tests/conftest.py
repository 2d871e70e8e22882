"""Shared test set-up: the scripts of benchmarks/ (not a package) are importable by name."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))
