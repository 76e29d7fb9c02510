"""How the conformance kit reports a failure: the spec clause, the input and both values.

Standard library only. ``ConformanceError`` is an ``AssertionError``, so pytest reports a
failed check as a failed test and shows its message whole::

    check_rule('krum', f=1): D6.3 (krum): the output is not the reference's
      input:    06-rules.json case 32 ('conventions'): x = [[1.84375, ...], ...] (7 x 3)
      expected: [1.84375, -0.90625, -0.84375]
      got:      [0.421875, -1.09375, -1.90625]
      note:     got is what convention='byzfl' gives: ...
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

__all__ = [
    "ConformanceError",
    "Unreadable",
    "call_user",
    "describe_matrix",
    "message_of",
    "read_user",
    "short",
    "short_int",
    "type_name",
]

T = TypeVar("T")

ITEMS = 6  # entries of a vector shown before "..."
ROWS = 4  # rows of a matrix shown before "..."
DIGITS = 40  # an int with more digits is shown by its ends and bit length


def type_name(value: object) -> str:
    """The type of ``value`` by its full name: ``int`` for a builtin, ``numpy.bool`` or
    ``numpy.float32`` otherwise (NumPy's ``bool`` and Python's print alike by ``__name__``)."""
    cls = type(value)
    module = getattr(cls, "__module__", None)
    name = getattr(cls, "__qualname__", cls.__name__)
    return name if module in (None, "builtins") else f"{module}.{name}"


def _is_sequence(value: object) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str | bytes)


def _plain(value: Any) -> Any:
    """NumPy arrays and scalars (or anything with ``tolist``) as Python lists and numbers."""
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else value


def short_int(value: int) -> str:
    """An int in decimal, or, beyond DIGITS digits, its first and last digits and bit length
    (a Paillier ciphertext of a 256-bit key has 154 digits); beyond Python's limit on
    converting ints to decimal (``sys.get_int_max_str_digits``, 4,300 digits by default), its
    first and last hex digits and bit length: it never raises, whatever the int."""
    bits = value.bit_length()
    sign = "-" if value < 0 else ""
    try:
        text = str(abs(value))
    except ValueError:
        # Hex has no such limit; the ends come from shifts, not from the whole number's text.
        top, bottom = abs(value) >> (bits - 48), abs(value) & 0xFFFFFF
        return f"{sign}0x{top:012x}...{bottom:06x} ({bits} bits)"
    if len(text) <= DIGITS:
        return sign + text
    return f"{sign}{text[:12]}...{text[-6:]} ({bits} bits)"


def short(value: Any, items: int = ITEMS, rows: int = ROWS) -> str:
    """``value`` printed short: a vector's first ``items`` entries, a matrix's first ``rows``
    rows (each shortened), then ``...`` and how many were left out; floats by ``repr`` (every
    digit of a double, so two values that print alike are equal), long ints by ``short_int``.
    Never raises (but ``KeyboardInterrupt``): a value whose ``repr`` (or ``tolist``, or
    length) raises is shown by its type and the exception, since it comes from the function
    under test."""
    try:
        return _short(value, items, rows)
    except KeyboardInterrupt:
        raise
    except BaseException as err:
        return f"<a {type(value).__name__} that cannot be printed: {type(err).__name__}>"


def _short(value: Any, items: int, rows: int) -> str:
    value = _plain(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return short_int(value)
    if not _is_sequence(value):
        return repr(value)
    if value and all(_is_sequence(_plain(v)) for v in value):
        shown = [_short(v, items, rows) for v in value[:rows]]
        more = f", ... ({len(value) - rows} more rows)" if len(value) > rows else ""
        return "[" + ", ".join(shown) + more + "]"
    shown = [_short(v, ITEMS, ROWS) for v in value[:items]]
    more = f", ... ({len(value) - items} more)" if len(value) > items else ""
    return "[" + ", ".join(shown) + more + "]"


def shape(value: Any) -> str:
    """``"7 x 3"`` for a matrix, ``"length 5"`` for a vector, '' otherwise."""
    value = _plain(value)
    if not _is_sequence(value):
        return ""
    if value and all(_is_sequence(v) for v in value):
        return f"{len(value)} x {len(value[0])}"
    return f"length {len(value)}"


class ConformanceError(AssertionError):
    """A user's implementation disagrees with the specification (or the reference).

    Attributes: ``check`` (the helper and its arguments), ``clause`` (the spec item),
    ``what`` (the property that failed), ``input`` (a short description of the input),
    ``expected`` and ``got`` (the two values), ``notes`` (diagnoses, e.g. Krum's neighbour
    convention), ``case`` (the whole input, e.g. ``x`` as a list of lists, where the message
    shows it shortened; None where the message holds it whole).
    """

    def __init__(
        self,
        check: str,
        clause: str,
        what: str,
        input: str,
        expected: Any,
        got: Any,
        notes: Sequence[str] = (),
        case: Any = None,
    ) -> None:
        self.check = check
        self.case = case
        self.clause = clause
        self.what = what
        self.input = input
        self.expected = expected
        self.got = got
        self.notes = tuple(notes)
        lines = [
            f"{check}: {clause}: {what}",
            f"  input:    {input}",
            f"  expected: {expected if isinstance(expected, str) else short(expected)}",
            f"  got:      {got if isinstance(got, str) else short(got)}",
            *(f"  note:     {note}" for note in self.notes),
        ]
        super().__init__("\n".join(lines))


def describe_matrix(name: str, value: Any) -> str:
    """``x = [[...], ...] (7 x 3)``: a named input, short, with its shape."""
    size = shape(value)
    return f"{name} = {short(value)}" + (f" ({size})" if size else "")


def call_user(
    fn: Callable[..., Any], *args: Any, check: str, clause: str, what: str, where: str
) -> Any:
    """``fn(*args)``: the function under test called by a check; whatever it raises becomes a
    ``ConformanceError`` naming the check, the clause being checked, the case ``where`` and
    the exception, chained by ``from`` so that its traceback follows.

    Every ``BaseException`` but ``KeyboardInterrupt`` is caught: ``SystemExit``, a custom
    ``BaseException``, ``GeneratorExit`` and pytest's own outcomes (``pytest.skip`` inside
    the function would otherwise skip the check: a vacuous pass). Every call of a user's
    function in the kit goes through here, and every reading of what it returned through
    ``read_user``: a crash is a failed check of that clause on that input, not a traceback
    from inside the kit.
    """
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    try:
        return fn(*args)
    except KeyboardInterrupt:
        raise  # the person running the tests stops them; that is not a finding
    except BaseException as err:
        raise ConformanceError(
            check,
            clause,
            f"{what}: the function under test raised",
            where,
            "a return value",
            f"{type(err).__name__}: {message_of(err)}",
        ) from err


class Unreadable(Exception):
    """Raised by a reader given to ``read_user``: the value is not of the form the check
    needs, for the reason given (``"more than 3 entries"``)."""


def read_user(
    read: Callable[[Any], T | None],
    out: Any,
    *,
    check: str,
    clause: str,
    what: str,
    where: str,
    expected: str,
    shown: Callable[[Any], str] = short,
) -> T:
    """``read(out)``: what a user's function returned, read as the check needs it (a vector of
    floats, two ring vectors, an int); a ConformanceError naming ``clause`` (D6.1, P3.1,
    P5.1, ...), the case ``where``, ``expected`` and ``out`` (printed by ``shown``) when
    ``read`` returns None or raises ``Unreadable`` (the reason is shown), or when reading
    raises anything else but ``KeyboardInterrupt``: the returned object's own code runs
    there (``__array__``, ``__index__``, ``__iter__``, a generator's body), and what it
    raises is a finding about the function under test, not a traceback from the kit.
    ``read`` must be bounded on lazy values (take at most the expected length + 1 items)."""
    __tracebackhide__ = True  # pytest shows the caller, not the kit
    try:
        value = read(out)
    except KeyboardInterrupt:
        raise
    except Unreadable as err:
        raise ConformanceError(
            check, clause, what, where, expected, f"{shown(out)} ({message_of(err)})"
        ) from None
    except BaseException as err:
        raise ConformanceError(
            check,
            clause,
            what,
            where,
            expected,
            f"{shown(out)}; reading it raised {type(err).__name__}: {message_of(err)}",
        ) from err
    if value is None:
        raise ConformanceError(check, clause, what, where, expected, shown(out))
    return value


def message_of(err: BaseException) -> str:
    """``str(err)``, or a note when that raises (an exception holding an int beyond Python's
    digit limit, or whose ``__str__`` fails): the message of a ConformanceError is built from
    it, and must not itself raise."""
    try:
        return str(err)
    except Exception as inner:
        return f"(its message cannot be printed: {type(inner).__name__})"
