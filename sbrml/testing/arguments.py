"""The kit's checks of its own arguments, run before any case (needs ``sbrml[testing]``).

A bad argument to a check helper is the caller's mistake, not a finding about the function
under test: it raises ``KitArgumentError`` (a ``ValueError``) naming the helper, the parameter,
what it needs and the value received, before the helper calls anything, so that neither a
raw traceback from Hypothesis or NumPy nor a vacuous pass (no samples, an infinite
tolerance) can stand for a result.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

from sbrml.testing.failures import short, type_name

__all__ = [
    "MAX_EXAMPLES",
    "MAX_SAMPLES",
    "KitArgumentError",
    "check_bool",
    "check_callable",
    "check_float",
    "check_int",
    "refuse",
]

# The most Hypothesis examples and uniformity samples a check takes: beyond them a check runs
# for hours (examples) or holds gigabytes of values (samples) rather than finding more.
MAX_EXAMPLES = 10**6
MAX_SAMPLES = 2**24


class KitArgumentError(ValueError):
    """A check helper was called with an argument it cannot check with."""


def refuse(check: str, parameter: str, need: str, value: Any) -> KitArgumentError:
    """The error for ``parameter`` of ``check``: ``check_rule: f: need ...; got '1' (str)``
    (the value printed by ``failures.short``, which never raises: ``10**5000`` is shown by
    its ends; its type by its full name, ``numpy.bool`` where Python's ``bool`` prints
    alike)."""
    return KitArgumentError(
        f"{check}: {parameter}: need {need}; got {short(value)} ({type_name(value)})"
    )


def check_callable(check: str, parameter: str, value: Any, optional: bool = False) -> None:
    """``value`` is callable (or None when ``optional``)."""
    if optional and value is None:
        return
    if not callable(value):
        raise refuse(check, parameter, "a function" + (" or None" if optional else ""), value)


def check_bool(check: str, parameter: str, value: Any) -> bool:
    """``value`` is a bool (``True`` or ``False``; not ``1``, ``"yes"`` or ``None``)."""
    if not isinstance(value, bool):
        raise refuse(check, parameter, "True or False", value)
    return value


def check_int(check: str, parameter: str, value: Any, low: int, high: int | None = None) -> int:
    """``value`` is an integer in ``[low, high]``: a Python int or a NumPy integer scalar
    (``np.int64(3)``; any ``numbers.Integral``), not a bool; returned as a Python int, which
    the caller uses from then on (a NumPy int would wrap around in ``2**bits``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise refuse(check, parameter, "an int", value)
    number = int(value)
    if number < low or (high is not None and number > high):
        span = f">= {low}" if high is None else f"in [{low}, {high}]"
        raise refuse(check, parameter, f"an int {span}", value)  # named by its own type
    return number


def check_float(
    check: str, parameter: str, value: Any, low: float, high: float, why: str = ""
) -> float:
    """``value`` is a finite real in ``[low, high]``; ``why`` says why the bounds (shown).
    Returned as a Python float: any real number is accepted (an int, a float, a NumPy float
    or int scalar such as ``np.float32(1e-6)``, a ``Fraction``), not a bool, a string or a
    ``Decimal`` (not a ``numbers.Real``)."""
    reason = f" ({why})" if why else ""
    need = f"a real number (a Python or NumPy float or int) in [{low:g}, {high:g}]{reason}"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise refuse(check, parameter, need, value)
    try:
        number = float(value)
    except (OverflowError, ValueError, TypeError):
        # An int or Fraction too large for a float (10**400) is out of every range here.
        raise refuse(check, parameter, need, value) from None
    if not math.isfinite(number) or not low <= number <= high:
        raise refuse(check, parameter, need, value)
    return number


def described(fn: Callable[..., Any]) -> str:
    """A function's name for a message: ``my_krum``, or its repr (shortened, never raising)."""
    name = getattr(fn, "__qualname__", None)
    return name if isinstance(name, str) else short(fn)
