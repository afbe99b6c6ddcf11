"""``python -m brianlab`` is the ``brianlab`` command."""

import sys

from brianlab.cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
