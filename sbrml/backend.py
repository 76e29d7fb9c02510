"""Backend selection: the reference or the optimized tree, by name."""

from __future__ import annotations

import importlib
from types import ModuleType

IMPLEMENTATIONS = ("optimized", "reference")


def implementation(name: str) -> ModuleType:
    """``sbrml.optimized`` or ``sbrml.reference``; anything else is a ValueError listing both."""
    if name not in IMPLEMENTATIONS:
        raise ValueError(
            f"unknown implementation {name!r}; choose one of {', '.join(IMPLEMENTATIONS)}"
        )
    return importlib.import_module(f"sbrml.{name}")
