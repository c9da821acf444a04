"""`python -m tools.simulator ...` (see tools.simulator.cli)."""

import sys

from tools.simulator.cli import main

sys.exit(main())
