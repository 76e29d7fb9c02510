"""``python -m sbrml.cli``: the same as the ``sbrml`` command."""

import sys

from sbrml.cli import main

sys.exit(main())
