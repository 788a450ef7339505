"""``python -m ntcli``."""

import sys

from ntcli.main import main

sys.exit(main())
