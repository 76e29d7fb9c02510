"""The Flower tests (issue 17) need the ``flower`` extra, part of ``all`` (make test)."""

from __future__ import annotations

import os

import pytest

# Flower's anonymous usage telemetry stays off in the tests (it would open network requests).
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
# Ray 2.55 warns at every start that it will stop overriding the GPU variables; it has none here.
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")

pytest.importorskip(
    "flwr", reason="the 'flower' extra is not installed: pip install -e '.[flower]'"
)
