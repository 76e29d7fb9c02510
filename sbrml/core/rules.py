"""The rule interface both trees implement (spec/06-rules.md, D6.1).

Part of ``sbrml.core``: the round driver, the registry and the app layer speak to rules
through these protocols, whichever tree the rule object comes from.
"""

from __future__ import annotations

from typing import Any, Protocol


class Rule(Protocol):
    """Implements D6.1: a rule with hyperparameters fixed at construction."""

    name: str
    f: int

    def check_n(self, n: int, function: str = ...) -> None: ...

    # Each tree's rules take and return its own types (lists or arrays), hence Any here.
    def __call__(self, x: Any, *, rng: Any = None) -> Any: ...


class DistanceRule(Rule, Protocol):
    """Implements D6.1: a rule whose weights are a function of the distances alone (C6.1).

    ``weights(d, unit=u)`` reads ``d`` as squared distances times ``u`` (the secure round
    passes exact ring integers with ``u = 2^(2F)``); rules whose weights are invariant under
    scaling (``scale_invariant``) may ignore ``u``.
    """

    scale_invariant: bool

    def weights(self, d: Any, *, unit: int = 1, rng: Any = None) -> Any: ...


def is_distance_rule(rule: object) -> bool:
    """True when ``rule`` has a distance form (D6.1), i.e. the secure round can run it."""
    return callable(getattr(rule, "weights", None))


__all__ = ["DistanceRule", "Rule", "is_distance_rule"]
