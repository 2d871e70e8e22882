"""``python -m optracr.cli``: the ``optracr`` command."""

import sys

from optracr.cli.main import main

sys.exit(main())
