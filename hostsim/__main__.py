"""Entry point: `python -m hostsim [CIRCUITPY] [options]` (see `--help`)."""

import sys

from hostsim.cli import main

sys.exit(main())
