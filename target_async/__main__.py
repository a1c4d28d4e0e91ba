"""python -m target_async: the same command line as target-async."""

import sys

from ._cli import main

if __name__ == "__main__":
    sys.exit(main())
