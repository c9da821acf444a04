"""`python -m connectors.simulator ...` (see connectors.simulator.cli)."""

import sys

from connectors.simulator.cli import main

sys.exit(main())
