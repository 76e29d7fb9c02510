"""The leakage modes of the secure round (spec/08-round.md C8.15) and what they decide: which
rules run in which mode, whether the round computes D, and the coordinate bound it validates.

Part of ``sbrml.core``: both trees' rounds, the front door and the command line ask these
questions, and must get one answer.
"""

from __future__ import annotations

from typing import Any

from sbrml.core.errors import ParameterError, shown
from sbrml.core.params import coordinate_bound_log2, hidden_bound_log2, nnm_bound_log2
from sbrml.core.registry import leakages, stages
from sbrml.core.rules import is_distance_rule

LEAKAGES = ("distances", "index", "output")


def rule_leakages(rule: Any) -> tuple[str, ...]:
    """The leakage modes ``rule`` runs in (C8.15): the registry's for a rule of the library,
    ``("distances",)`` for any other rule with a distance form, else none. An object named like
    a distance rule of the library that has no distance form (a bare ``Compose`` of two
    distance stages) runs in none: the name alone does not make it one."""
    try:
        modes = leakages(rule.name)
    except (KeyError, AttributeError):
        return ("distances",) if is_distance_rule(rule) else ()
    if not is_distance_rule(rule) and all(e.distance for e in stages(rule.name)):
        return ()
    return modes


def needs_distances(rule: Any, leakage: str) -> bool:
    """Whether the round computes D (P8.1 step 3): every distance rule, except the mean with
    leakage ``output``, whose weights 1/|V| need no D (D9.1, C8.15)."""
    return is_distance_rule(rule) and not (leakage == "output" and rule.name == "mean")


def check_provider(provider: Any, distance: bool, rule: str, leakage: str) -> None:
    """Implements C8.15's last rule: a provider of distance material (D4.4) given to a round
    that computes no distances is an error, not silently unused."""
    if provider is not None and not distance:
        raise ParameterError(
            "secure_aggregate",
            "provider",
            "no provider: the round computes no distances for this rule and leakage",
            "C8.15",
            f"a {type(provider).__name__} for {shown(rule)} with leakage {shown(leakage)}",
        )


def round_bound_log2(leakage: str, rule: Any, n: int, d: int) -> int:
    """The coordinate bound of the round (C8.13, C8.15): b_h(n, d) when Krum's scores are
    compared on shares (leakage ``index`` or ``output`` of a rule that needs D), b_nnm(n, d)
    when they are after NNM (P22.7), else b(d)."""
    if leakage != "distances" and needs_distances(rule, leakage):
        bits = nnm_bound_log2(n, d) if hasattr(rule, "pre") else hidden_bound_log2(n, d)
    else:
        bits = coordinate_bound_log2(d)
    if bits < 0:
        raise ParameterError(
            "secure_aggregate",
            "n, d",
            "a coordinate bound b >= 0 for this rule and leakage (C8.13)",
            "C8.15",
            f"b = {bits} at n={n}, d={d} with leakage {shown(leakage)}: use leakage 'distances' or "
            "fewer workers or coordinates",
        )
    return bits
