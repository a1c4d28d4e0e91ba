"""``python -m target_async``: the same command line as ``target-async``."""

import sys

from ._cli import main

sys.exit(main())
