"""The rule library by its stable short names (spec/06-rules.md, D6.7).

The names, hyperparameters and properties are those of ``sbrml.core.registry``; this module
only says which of this tree's classes each name means.
"""

from __future__ import annotations

from typing import Any

from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES, resolve
from sbrml.reference import coordinatewise, geometric, preaggregation, rules

# The modules that define this tree's rule classes.
MODULES = (coordinatewise, geometric, preaggregation, rules)

# Each registry entry's class, looked up by its class name in MODULES.
RULES: dict[str, Any] = resolve(RULE_ENTRIES, MODULES)
PREAGGREGATIONS: dict[str, Any] = resolve(PREAGGREGATION_ENTRIES, MODULES)
