"""The examples' pytest settings: say why a test was skipped (ByzFL not installed), as
``pytest -rs`` would, so that a skip is never mistaken for a pass."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    chars = config.option.reportchars
    if not any(c in chars for c in "saA"):
        config.option.reportchars = chars + "s"
