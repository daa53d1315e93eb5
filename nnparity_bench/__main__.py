"""``python -m nnparity_bench``: every speed claim measured as a ratio (see ``cli``)."""

import sys

from .cli import main

raise SystemExit(main(sys.argv[1:]))
