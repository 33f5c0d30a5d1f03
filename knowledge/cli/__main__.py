"""`python -m knowledge.cli` (what `bin/kb` runs)."""

import sys

from knowledge.cli import main

sys.exit(main())
