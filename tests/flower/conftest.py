"""The Flower tests (issue 17) need the ``flower`` extra, part of ``all`` (make test)."""

from __future__ import annotations

import os

import pytest

# Flower's anonymous usage telemetry stays off in the tests (it would open network requests).
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")

pytest.importorskip(
    "flwr", reason="the 'flower' extra is not installed: pip install -e '.[flower]'"
)
