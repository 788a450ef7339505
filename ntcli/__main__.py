"""``python -m ntcli``."""

import sys

from ntcli.main import run

sys.exit(run())
