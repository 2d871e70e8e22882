"""generate: seeded random RASP programs the frontend accepts, for property tests, datasets and benchmarks
(module ``random_programs``: ``generate(seed, num_sops=...)`` returns a ``GeneratedProgram``)."""

from optracr.generate import random_programs
from optracr.generate.random_programs import GeneratedProgram, generate

__all__ = ["GeneratedProgram", "generate"]
