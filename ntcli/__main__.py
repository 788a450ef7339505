"""``python -m ntcli``."""

import sys

from ntcli.app import main

sys.exit(main())
