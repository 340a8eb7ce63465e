"""``python -m optimlab.experiments``: see :mod:`optimlab.experiments.cli`."""

import sys

from .cli import main

sys.exit(main())
