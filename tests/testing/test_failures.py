"""How a failure prints: short, exact where it is shown, and complete in its fields."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sbrml.testing.arguments import KitArgumentError
from sbrml.testing.checks import check_paillier, check_rule, check_sharing, check_weights
from sbrml.testing.failures import ConformanceError, describe_matrix, short, short_int


def test_vectors_and_matrices_are_cut_with_a_count() -> None:
    assert short(list(range(8))) == "[0, 1, 2, 3, 4, 5, ... (2 more)]"
    assert short(np.arange(12.0).reshape(6, 2)) == (
        "[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], ... (2 more rows)]"
    )
    assert describe_matrix("x", [[0.1, 0.2]]) == "x = [[0.1, 0.2]] (1 x 2)"


def test_floats_keep_every_digit_and_long_ints_their_ends() -> None:
    assert short([0.1 + 0.2]) == "[0.30000000000000004]"
    assert short_int(2**64) == "18446744073709551616"
    assert short_int(3**300) == f"{str(3**300)[:12]}...{str(3**300)[-6:]} (476 bits)"


def test_the_message_holds_the_clause_the_input_and_both_values() -> None:
    err = ConformanceError("check_x()", "C3.1", "what failed", "x = [1]", [1], [2], ["why"])
    assert str(err) == (
        "check_x(): C3.1: what failed\n"
        "  input:    x = [1]\n"
        "  expected: [1]\n"
        "  got:      [2]\n"
        "  note:     why"
    )
    assert isinstance(err, AssertionError) and (err.clause, err.expected, err.got) == (
        "C3.1",
        [1],
        [2],
    )


# Issue 17, the verification review's F4: values beyond Python's int-to-decimal digit limit
# (sys.get_int_max_str_digits, 4,300 digits by default), or whose repr or message raises,
# print without raising, and every check reports them as ConformanceError or
# KitArgumentError, never ValueError.
HUGE = 10**5000


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_an_int_beyond_the_digit_limit_prints_by_its_hex_ends() -> None:
    assert short_int(HUGE) == f"0x{HUGE >> (16610 - 48):012x}...{HUGE & 0xFFFFFF:06x} (16610 bits)"
    assert short_int(-HUGE).startswith("-0x") and short([HUGE, 1]).endswith(", 1]")


def test_a_value_whose_repr_or_message_raises_prints_by_its_type() -> None:
    from sbrml.testing.failures import message_of

    assert short(_Unprintable()) == "<a _Unprintable that cannot be printed: RuntimeError>"
    assert message_of(ValueError(HUGE)) == "(its message cannot be printed: ValueError)"


def _valid_encrypt(n: int, m: int, r: int) -> int:
    return (1 + m * n) * pow(r, n, n * n) % (n * n)


def _raises_huge(x: Any) -> Any:
    raise ValueError(HUGE)


def _exits(x: Any) -> Any:
    raise SystemExit(3)


HUGE_CASES: list[tuple[str, Callable[[], Any], str]] = [
    ("encrypt", lambda: check_paillier(lambda n, m, r: HUGE, examples=2), "D13.2"),
    ("add", lambda: check_paillier(_valid_encrypt, add=lambda n, a, b: HUGE, examples=2), "C13.6"),
    ("randomized", lambda: check_paillier(lambda n, m: HUGE, randomized=True, examples=2), "C13.6"),
    ("decrypt", lambda: check_paillier(_valid_encrypt, decrypt=lambda p, q, c: HUGE), "C13.4"),
    ("share", lambda: check_sharing(lambda x: ([HUGE] * len(x), [0] * len(x)), bits=1024), "P3.1"),
    ("rule", lambda: check_rule(lambda x: [HUGE] * np.shape(x)[1], "mean", f=0), "D6.1"),
    ("raises", lambda: check_rule(_raises_huge, "mean", f=0), "D9.1"),
    ("exits", lambda: check_rule(_exits, "mean", f=0), "D9.1"),
    ("weights", lambda: check_weights(lambda d: [HUGE] * len(d), "krum", f=1), "D6.3"),
    ("unprintable", lambda: check_rule(lambda x: _Unprintable(), "mean", f=0), "D6.1"),
]


@pytest.mark.parametrize(("label", "call", "clause"), HUGE_CASES, ids=[c[0] for c in HUGE_CASES])
def test_a_huge_or_unprintable_result_is_a_conformance_error(
    label: str, call: Callable[[], Any], clause: str
) -> None:
    with pytest.raises(ConformanceError) as info:
        call()
    assert info.value.clause == clause


@pytest.mark.parametrize(
    "call",
    [
        lambda: check_rule(_mean, "multikrum", f=1, m=HUGE),
        lambda: check_rule(_mean, "krum", f=1, m=HUGE),
        lambda: check_rule(_mean, "mean", f=0, rtol=HUGE),
        lambda: check_sharing(_mean, alpha=HUGE),
    ],
    ids=["multikrum m", "krum m", "rtol", "alpha"],
)
def test_a_huge_argument_is_refused_with_its_ends(call: Callable[[], Any]) -> None:
    with pytest.raises(KitArgumentError, match=r"0x[0-9a-f]{12}\.\.\.[0-9a-f]{6} \(16610 bits\)"):
        call()


def _mean(x: Any) -> Any:
    return np.mean(x, axis=0)
