"""cli: the ``optracr`` command (``main``), how it reads tokens typed on the command line (``tokens``) and how it
loads a user's own program from ``file.py:NAME`` or ``module:NAME`` (``user_programs``).

Run it as ``optracr ...`` or ``python -m optracr.cli ...``.
"""

from optracr.cli.main import main

__all__ = ["main"]
