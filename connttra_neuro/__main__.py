"""``python -m connttra_neuro``: the command line, for an environment without the console script."""

import sys

from .cli import main

sys.exit(main())
