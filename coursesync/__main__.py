"""`python -m coursesync`: the same as the `coursesync` command."""

import sys

from coursesync.cli import main

sys.exit(main())
