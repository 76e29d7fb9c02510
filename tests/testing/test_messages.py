"""Messages a new user found confusing (issue 17, final verification review, K5): each says
what is compared and names the real reason, and NumPy scalars are taken where a number is."""

from __future__ import annotations

import secrets
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import sbrml.reference as ref
from sbrml.testing.arguments import KitArgumentError, check_float
from sbrml.testing.checks import ConformanceError, check_rule, check_sharing

M = 2**64 - 1


def _mean(x: Any) -> Any:
    return np.mean(np.asarray(x, dtype=np.float64), axis=0)


def _xor_share(x: Any) -> tuple[list[int], list[int]]:
    r = [secrets.randbits(64) for _ in x]
    return r, [int(v) ^ a for v, a in zip(x, r, strict=True)]


def _xor(s0: Any, s1: Any) -> list[int]:
    return [int(a) ^ int(b) for a, b in zip(s0, s1, strict=True)]


def test_c3_1_says_it_compares_the_sum_of_the_shares_and_shows_it() -> None:
    with pytest.raises(ConformanceError) as info:
        check_sharing(_xor_share, reconstruct=_xor, examples=5)
    err = info.value
    assert err.clause == "C3.1" and "reconstruct(share(x))" not in err.what
    assert "x^0 + x^1 mod 2^64 = x" in err.what and "their sum" in err.what
    # got is the sum of the shares the message shows, not the output of the user's _xor.
    shown = str(err.input).split("shares x^0 = ")[1]
    s0 = [int(v) for v in shown.split("]")[0].strip("[").split(", ")]
    s1 = [int(v) for v in shown.split("x^1 = [")[1].split("]")[0].split(", ")]
    assert err.got == [(a + b) & M for a, b in zip(s0, s1, strict=True)]
    assert "your reconstruct" in " ".join(err.notes)


def test_a_numpy_bool_is_named_by_its_full_type_name() -> None:
    with pytest.raises(
        KitArgumentError, match=r"vectors: need True or False; got True \(numpy\.bool"
    ):
        check_rule(_mean, "mean", f=1, vectors=np.True_)  # type: ignore[arg-type]
    with pytest.raises(KitArgumentError, match=r"got 3\.0 \(numpy\.float64\)"):
        check_rule(_mean, "mean", f=1, examples=np.float64(3))  # type: ignore[arg-type]
    with pytest.raises(KitArgumentError, match=r"got -3 \(numpy\.int8\)"):
        check_rule(_mean, "mean", f=1, examples=np.int8(-3))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "value",
    [np.float32(1e-6), np.float64(1e-9), Fraction(1, 10**9), np.int8(0)],
    ids=["float32", "float64", "Fraction", "int8"],
)
def test_a_real_option_takes_numpy_scalars_and_fractions(value: Any) -> None:
    assert check_float("check_rule", "rtol", value, 0.0, 1e-3) == float(value)
    assert type(check_float("check_sharing", "alpha", value + 1e-7, 1e-15, 1e-2)) is float
    checked = check_rule(_mean, "mean", f=1, rtol=value, examples=2)
    assert checked.counts["vectors"] > 0


def test_a_float_option_of_a_rule_takes_a_numpy_float() -> None:
    def geomed(x: Any) -> Any:
        return np.array(ref.GeometricMedian(f=1)(np.asarray(x).tolist()))

    checked = check_rule(geomed, "geomed", f=1, nu=np.float32(1e-6), examples=2)
    assert checked.counts["generated inputs"] > 0


NOT_REAL = [__import__("decimal").Decimal("1e-9"), "1e-9", True, np.True_, 10**400, np.nan]


@pytest.mark.parametrize(
    "value", NOT_REAL, ids=["Decimal", "str", "bool", "numpy bool", "10**400", "nan"]
)
def test_a_real_option_refuses_what_is_not_a_real_number(value: Any) -> None:
    with pytest.raises(KitArgumentError, match=r"rtol: need a real number") as info:
        check_rule(_mean, "mean", f=1, rtol=value)
    kind = type(value)
    full = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
    assert str(info.value).endswith(f"({full})")


@pytest.mark.parametrize("value", [["byzfl"], b"byzfl", "BYZFL", 2, ("byzfl",)])
def test_a_str_option_of_the_wrong_type_names_the_parameter_and_its_values(value: Any) -> None:
    with pytest.raises(KitArgumentError) as info:
        check_rule(_mean, "krum", f=1, convention=value)
    message = str(info.value)
    assert message.startswith("check_rule: convention: need one of 'blanchard', 'byzfl' (C6.6)")
    assert "unhashable" not in message


def test_a_str_option_of_none_is_the_default() -> None:
    def krum(x: Any) -> Any:
        return np.array(ref.Krum(f=1)(np.asarray(x).tolist()))

    assert check_rule(krum, "krum", f=1, convention=None, examples=2).counts["vectors"] > 0
