"""Error vocabulary shared by both trees (spec/00-conventions.md, "Errors").

Every public entry point validates its input and raises a ``SpecError`` subclass whose
message names the function, the parameter, the violated condition with its clause ID and
the values received, e.g. ``krum: n: need n > 2f + 2 (C6.3); got n=5, f=2``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast


def int_size(value: int) -> str:
    """An int by its size, ``an int of N bits`` (N = abs(value).bit_length()): what C1.2 reports
    for an int beyond the float range and ``shown`` for one beyond the decimal digit limit."""
    # int.bit_length, not value.bit_length(): an int subclass may override the method.
    return f"an int of {int.bit_length(value)} bits"


# The most characters of a value an error message shows: a 10,000-element list passed as
# f made a 30 KB message, which buries the function, parameter and clause it exists to name.
SHOWN_CHARS = 200


def shown(value: object, *, grouped: bool = False) -> str:
    """The text of a value received in an error message (C0.1's "values received"); never raises.

    ``repr(value)``, except for an int that Python refuses to print in decimal (beyond
    ``sys.get_int_max_str_digits()``, 4,300 digits by default), shown as ``an int of N bits``
    (``N = abs(value).bit_length()``), and any other value whose ``repr`` raises, shown by its
    type name (``a list that cannot be printed``). A check that rejects a user's 10**5000 must
    raise its ``SpecError`` naming the function, parameter and clause, not fail with a bare
    ``ValueError`` while building its own message. With ``grouped``, an int is written with
    thousands separators (``f"{value:,}"``, the same digit limit). A text longer than
    ``SHOWN_CHARS`` (200) characters is cut there and followed by the value's size:
    ``[1, 1, 1, ... (a list of 10,000 items)``. Lists and tuples, nested or containing
    themselves, are printed only as far as the cut, so a long one costs what a short one does.
    """
    try:
        if grouped and isinstance(value, int) and not isinstance(value, bool):
            text = f"{value:,}"
        else:
            text = _bounded(value, SHOWN_CHARS, set())
        if str.__len__(text) <= SHOWN_CHARS:
            return str(text)
        return f"{str.__getitem__(text, slice(SHOWN_CHARS))}... ({_size(value, text)})"
    except Exception:
        # Any exception from a user's __repr__ or __len__ (or the digit limit) must not
        # replace the SpecError being built; the type name is still known.
        if isinstance(value, int) and not isinstance(value, bool):
            return int_size(value)
        return f"a {type(value).__name__} that cannot be printed"


def _bounded(value: object, budget: int, seen: set[int]) -> str:
    """``repr(value)`` for a list or tuple printed item by item until it is longer than
    ``budget`` (then ending in ``...``, past the cut); a list inside itself is ``[...]``, as
    ``repr`` writes it. Anything else is its ``repr``."""
    kind = type(value)
    if kind is not list and kind is not tuple:
        return repr(value)
    items = cast(Sequence[object], value)
    opening, closing = ("[", "]") if kind is list else ("(", ")")
    if id(value) in seen:
        return f"{opening}...{closing}"
    seen.add(id(value))
    parts: list[str] = []
    used = 1
    for item in items:
        if used > budget:
            parts.append("...")
            break
        part = _bounded(item, budget - used, seen)
        parts.append(part)
        used += str.__len__(part) + 2
    seen.discard(id(value))
    if kind is tuple and len(parts) == 1 and len(items) == 1:
        return f"({parts[0]},)"
    return opening + ", ".join(parts) + closing


def _size(value: object, text: str) -> str:
    """How big a value cut short by ``shown`` is: its bits, characters or items."""
    if isinstance(value, int) and not isinstance(value, bool):
        return int_size(value)
    kind = type(value).__name__
    if isinstance(value, str):
        return f"a str of {str.__len__(value):,} characters"
    try:
        return f"a {kind} of {len(value):,} items"  # type: ignore[arg-type]
    except Exception:
        return f"a {kind} printed in more than {SHOWN_CHARS} characters"


class SpecError(ValueError):
    """A violated spec clause; ``clause`` holds its ID (e.g. ``"C1.1"``)."""

    def __init__(self, function: str, parameter: str, condition: str, clause: str, got: str):
        self.function = function
        self.parameter = parameter
        self.condition = condition
        self.clause = clause
        self.got = got
        super().__init__(f"{function}: {parameter}: need {condition} ({clause}); got {got}")

    def __reduce__(self) -> tuple[type[SpecError], tuple[str, str, str, str, str]]:
        # Pickled with its five parts, not its message, so that an error raised in a worker
        # process (sbrml.optimized.processes) reaches the caller with its class and clause.
        return type(self), (self.function, self.parameter, self.condition, self.clause, self.got)

    def public_reason(self) -> str:
        """Implements C0.1: the function, condition and clause, without the parameter or value.

        A party's refusal of its own secret input is published (a round's ``excluded``, the
        CLI's report, ``InsufficientWorkersError``) in this form: the value received and the
        parameter, which may name the offending coordinate, stay with the party.
        """
        return f"{self.function}: need {self.condition} ({self.clause})"


class EncodingError(SpecError):
    """A value cannot be encoded in fixed point: NaN, infinity or out of range (C1.x)."""


class ShapeError(SpecError):
    """An argument has the wrong length, shape or type."""


class ParameterError(SpecError):
    """A hyperparameter or protocol parameter is outside its allowed range."""


class InsufficientWorkersError(SpecError):
    """Too few workers remain (after exclusions) for the rule's precondition."""


class RandomnessError(SpecError):
    """A random source was asked for more output than its keystream may produce (C2.5)."""


class MalformedShareError(SpecError):
    """A share message is malformed; the round excludes its sender (C8.3)."""


class RoundAborted(SpecError):
    """A server stopped the round because the other server or the dealer failed (C23.4);
    nothing of the round is published."""
