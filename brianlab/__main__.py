"""``python -m brianlab`` is the ``brianlab`` command."""

import sys

from brianlab.cli import main

sys.exit(main())
