"""C8.6's fixed-point parameters at the edges ``make mutation`` found untested (core/round.py).

The sum bound F + W <= 62 is checked just above it (63, where the ranges of F and W alone
still hold), and each refusal names the parameter it is about (docs/assurance.md).
"""

from __future__ import annotations

import math
from types import ModuleType

import pytest

from sbrml.core.errors import ParameterError


def _inputs(n: int, d: int) -> list[list[float]]:
    return [[math.sin(1.7 * i + 0.3 * k) for k in range(d)] for i in range(n)]


def _refusal(impl: ModuleType, frac_bits: object, weight_frac_bits: object) -> ParameterError:
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            _inputs(5, 1),
            impl.Krum(1),
            rng=impl.DeterministicRandomSource(0),
            frac_bits=frac_bits,
            weight_frac_bits=weight_frac_bits,
        )
    assert info.value.clause == "C8.6"
    return info.value


@pytest.mark.spec("C8.6")
@pytest.mark.parametrize(("frac_bits", "weight_frac_bits"), [(61, 2), (32, 31), (40, 23)])
def test_fixed_point_sum_of_63_is_refused(
    impl: ModuleType, frac_bits: int, weight_frac_bits: int
) -> None:
    assert _refusal(impl, frac_bits, weight_frac_bits).parameter == "frac_bits"


@pytest.mark.spec("C8.6")
@pytest.mark.parametrize(
    ("frac_bits", "weight_frac_bits", "parameter"),
    [
        (-1, 30, "frac_bits"),
        (1.5, 30, "frac_bits"),
        (16, 0, "weight_frac_bits"),
        (16, 32, "weight_frac_bits"),
    ],
)
def test_fixed_point_refusal_names_its_parameter(
    impl: ModuleType, frac_bits: object, weight_frac_bits: object, parameter: str
) -> None:
    assert _refusal(impl, frac_bits, weight_frac_bits).parameter == parameter
