"""The checks of ``check_rule``'s and ``check_weights``' arguments (needs ``sbrml[testing]``).

Run before any case: a bad argument, or options that leave nothing to check, is the caller's
mistake and raises ``KitArgumentError`` naming the helper, the parameter and the value.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

from sbrml.core.errors import SpecError
from sbrml.core.registry import stages
from sbrml.reference.rules import CONVENTIONS
from sbrml.robustness import published_bound
from sbrml.testing.arguments import (
    MAX_EXAMPLES,
    KitArgumentError,
    check_bool,
    check_callable,
    check_int,
    refuse,
)
from sbrml.testing.failures import message_of, short
from sbrml.testing.rule_cases import normalized, reference_rule
from sbrml.testing.rule_compare import arguments

__all__ = ["MAX_F", "STR_CHOICES", "check_flags", "least_n", "option_value", "rule_options"]

# The checks draw inputs of up to the rule's least n + 20 rows (Krum's least n is 2f + 3): an f
# above this makes each case thousands of rows, and f = 10^9 exhausted memory before the check
# could say anything. Implementations are checked at small f; larger f adds no clause.
MAX_F = 20
# The values of each str option, and the clause that lists them.
STR_CHOICES = {"convention": (tuple(CONVENTIONS), "C6.6")}


def rule_options(
    check: str,
    fn: Any,
    name: Any,
    f: Any,
    examples: Any,
    options: dict[str, Any],
    *,
    weights: bool,
) -> tuple[int, int, Any]:
    """``(f, examples, options)``: ``f`` and ``examples`` as Python ints (a NumPy integer is
    taken) and ``options`` normalized for the rule ``name``, after every argument is checked, before
    any case runs: ``fn`` callable, a known rule name (D6.7) that is not randomized (D11.3)
    and, for ``weights``, has a distance form (D6.1); ``f`` an int in [0, MAX_F = 20] and
    ``examples`` an int; each option
    one the rule takes, with a value the reference accepts (Multi-Krum's ``m`` at most the
    least ``n`` the check draws, C6.5). KitArgumentError (a ValueError) naming ``check``,
    the parameter and the value otherwise."""
    from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES, hyperparameter_owners

    check_callable(check, "fn", fn)
    f = check_int(check, "f", f, 0, MAX_F)
    examples = check_int(check, "examples", examples, 1, MAX_EXAMPLES)
    try:
        entries = stages(name) if isinstance(name, str) else None
    except KeyError:
        entries = None
    if entries is None or entries[-1].role != "rule":
        names = (
            f"a rule of {', '.join(RULE_ENTRIES)}, optionally after pre-aggregations "
            f"({', '.join(PREAGGREGATION_ENTRIES)}) joined by '+', e.g. 'nnm+krum'"
        )
        if not isinstance(name, str):
            raise refuse(check, "name", f"a rule's name (D6.7), {names}", name)
        raise KitArgumentError(f"{check}: name: unknown rule {name!r} (D6.7); {names}")
    if any(e.name == "bucketing" for e in entries):
        raise KitArgumentError(f"{check}: {name!r} is randomized (D11.3): no output to compare")
    if weights and not all(e.distance for e in entries):
        raise KitArgumentError(f"{check}: {name!r} has no deterministic distance form (D6.1)")
    taken = {h.name: h.kind for e in entries for h in e.hyperparameters}
    owners = hyperparameter_owners()
    for option, value in options.items():
        if option not in taken:
            where = ", ".join(owners[option][1]) + " only" if option in owners else "no rule"
            raise KitArgumentError(
                f"{check}: {option}={short(value)}: an option of {where}, not of {name!r} "
                f"(the options of {name!r}: {', '.join(sorted(taken)) or 'none'})"
            )
    options = {k: option_value(check, k, taken[k], v) for k, v in options.items()}
    least = least_n(name, f)
    try:
        # A call on a small input also runs the call-time checks (Multi-Krum's m <= n, C6.5).
        reference_rule(name, f, options)([[float(i), 0.0] for i in range(least)])
    except (SpecError, ValueError, TypeError) as err:
        # ValueError and TypeError too: an option of the wrong type, or an int the reference
        # cannot print in its own message (beyond Python's digit limit), is refused as well.
        raise KitArgumentError(
            f"{check}: the reference refuses {arguments(name, f, options)} at the least n = "
            f"{least} the check draws: {message_of(err)}"
        ) from None
    return f, examples, normalized(name, options)


def option_value(check: str, option: str, kind: type, value: Any) -> Any:
    """A rule's option as the reference takes it: a str option (``convention``) one of its
    values (or None, the default), refused before the reference sees it (a list or bytes
    there would raise TypeError, not say which values it takes); a NumPy float scalar for a
    float option (``nu=np.float32(1e-6)``) as a Python float, as ``check_float`` takes
    ``rtol`` and ``alpha`` (the reference, standard library only, takes Python numbers), and
    a NumPy integer scalar for an int option (``m=np.int64(3)``) as a Python int. Any other
    value is passed as it is, for the reference to accept or refuse."""
    if kind is str and value is not None:
        choices, clause = STR_CHOICES.get(option, ((), ""))
        need = (
            f"one of {', '.join(map(repr, choices))} ({clause}) or None (the default)"
            if choices
            else "a str or None (the default)"
        )
        if not isinstance(value, str) or (choices and value not in choices):
            raise refuse(check, option, need, value)
    if kind is int and isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    if kind is float and isinstance(value, numbers.Real) and not isinstance(value, bool | int):
        try:
            number = float(value)
        except (OverflowError, ValueError, TypeError):
            return value  # the reference refuses it, in its own words
        return number if math.isfinite(number) else value
    return value


def least_n(name: str, f: int) -> int:
    """The least n the rule ``name`` accepts for ``f`` (C6.3 and the like)."""
    return max(e.least_n(f) for e in stages(name))


def check_flags(check: str, name: str, f: int, options: dict[str, Any], **flags: Any) -> None:
    """Each of ``flags`` (``vectors``, ``generated``, ``robustness``, ``as_lists``) a bool,
    and something left to check: ``generated``, or ``vectors`` with at least one vector case
    (``flags["vectors"]`` is then the number of cases found, an int), or ``robustness`` for
    a rule with a published bound. KitArgumentError otherwise: a check that checks nothing
    would pass."""
    for flag, value in flags.items():
        if flag != "vectors":
            check_bool(check, flag, value)
    found = flags["vectors"]
    generated = flags["generated"]
    robustness = flags.get("robustness", False)
    least = least_n(name, f)
    bound = robustness and published_bound(name, max(least, 2 * f + 1), f) is not None
    if generated or found or bound:
        return
    why = [
        "generated=False",
        "vectors=False" if found is False else f"no vector case of {arguments(name, f, options)}",
    ]
    if "robustness" in flags:
        why.append(
            "robustness=False" if not robustness else f"spec section 12 records no bound for {name}"
        )
    raise KitArgumentError(
        f"{check}: nothing to check ({', '.join(why)}): pass generated=True, or options with "
        "something to check, or the check would pass having checked nothing"
    )
