"""``python -m sbrml.bench``."""

import sys

from sbrml.bench.report import main

sys.exit(main())
