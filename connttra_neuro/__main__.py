"""``python -m connttra_neuro``: the command line, for an environment without the console script."""

import sys

from .cli import main

if __name__ == "__main__":  # importing this module (a spawned process may) runs nothing
    sys.exit(main())
