"""``python -m sandbox``: see ``python -m sandbox --help``."""

import sys

from sandbox.cli import main

sys.exit(main())
