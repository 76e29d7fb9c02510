"""Section 1: ring and fixed-point encoding (spec/01-ring.md)."""

from __future__ import annotations

import math
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbrml.core.errors import EncodingError, ParameterError, ShapeError
from tests.helpers import as_list


@pytest.mark.spec("C1.1")
@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_values_are_rejected(impl: ModuleType, bad: float) -> None:
    with pytest.raises(EncodingError) as info:
        impl.encode([1.0, 2.0, bad])
    assert info.value.clause == "C1.1"
    assert str(info.value).startswith("encode: values[2]: need a finite value (C1.1); got ")


@pytest.mark.spec("C1.1")
def test_non_numeric_values_are_rejected(impl: ModuleType) -> None:
    with pytest.raises(ShapeError) as info:
        impl.encode(["1.0"])
    assert info.value.clause == "C1.1"


@pytest.mark.spec("C1.2")
@pytest.mark.parametrize(
    ("value", "frac_bits", "bits", "ok"),
    [
        (2.0**47 - 2.0**-5, 16, 64, True),
        (2.0**47, 16, 64, False),
        (-(2.0**47), 16, 64, True),
        (-(2.0**47) - 2.0**-4, 16, 64, False),
        (31.75, 2, 8, True),
        (31.875, 2, 8, False),  # rounds half-even up to 128
        (-32.0, 2, 8, True),
        (-32.25, 2, 8, False),
        (1e308, 16, 64, False),  # v * 2^F overflows to infinity
    ],
)
def test_out_of_range_is_rejected_not_clipped(
    impl: ModuleType, value: float, frac_bits: int, bits: int, ok: bool
) -> None:
    if ok:
        (e,) = as_list(impl.encode([value], frac_bits=frac_bits, bits=bits))
        assert as_list(impl.decode([e], frac_bits=frac_bits, bits=bits)) == [value]
    else:
        with pytest.raises(EncodingError) as info:
            impl.encode([0.0, value], frac_bits=frac_bits, bits=bits)
        assert info.value.clause == "C1.2"
        assert "values[1]" in str(info.value)


@pytest.mark.spec("C1.3")
def test_rounding_is_half_to_even(impl: ModuleType) -> None:
    got = as_list(impl.encode([0.5, 1.5, 2.5, -0.5, -1.5, 0.25, 0.75], frac_bits=0))
    assert got == [0, 2, 2, 0, (1 << 64) - 2, 0, 1]
    assert as_list(impl.encode([0.125, 0.375], frac_bits=2)) == [0, 2]


@pytest.mark.spec("C1.4")
def test_decode_known_answers(impl: ModuleType) -> None:
    top = (1 << 64) - 1
    assert as_list(impl.decode([top, 1 << 63, 5], frac_bits=0)) == [-1.0, -(2.0**63), 5.0]
    assert as_list(impl.decode([3], frac_bits=1)) == [1.5]
    # 2^53 + 1 is not a double: the nearest, ties to even, is 2^53.
    assert as_list(impl.decode([(1 << 53) + 1, (1 << 53) + 3], frac_bits=0)) == [
        2.0**53,
        2.0**53 + 4,
    ]


@pytest.mark.spec("C1.4")
@given(st.lists(st.integers(0, (1 << 64) - 1), min_size=1, max_size=20), st.integers(0, 40))
def test_decode_is_correctly_rounded(elements: list[int], frac_bits: int) -> None:
    import sbrml.optimized as opt
    import sbrml.reference as ref

    expected = [
        (e - (1 << 64) if e >= 1 << 63 else e) / (1 << frac_bits) for e in elements
    ]  # int / int is correctly rounded
    assert ref.decode(elements, frac_bits=frac_bits) == expected
    assert as_list(opt.decode(elements, frac_bits=frac_bits)) == expected


@pytest.mark.spec("C1.5")
@given(
    st.lists(
        st.floats(min_value=-(2.0**36), max_value=2.0**36, allow_nan=False), min_size=1, max_size=20
    ),
    st.integers(0, 16),
)
def test_encoding_error_bound(values: list[float], frac_bits: int) -> None:
    import sbrml.optimized as opt
    import sbrml.reference as ref

    for tree in (ref, opt):
        back = as_list(tree.decode(tree.encode(values, frac_bits=frac_bits), frac_bits=frac_bits))
        for v, w in zip(values, back, strict=True):
            assert abs(w - v) <= 2.0 ** -(frac_bits + 1)


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("bad", [-1, 1 << 64, 2.5])
def test_decode_rejects_non_ring_elements(impl: ModuleType, bad: object) -> None:
    with pytest.raises(ShapeError) as info:
        impl.decode([0, bad])
    assert info.value.clause == "D1.1"


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("bits", [1, 65, 0])
def test_ring_width_is_bounded(impl: ModuleType, bits: int) -> None:
    with pytest.raises(ParameterError) as info:
        impl.encode([1.0], bits=bits)
    assert info.value.clause == "D1.1"


@pytest.mark.spec("D1.3")
def test_frac_bits_must_leave_a_sign_bit(impl: ModuleType) -> None:
    with pytest.raises(ParameterError) as info:
        impl.encode([1.0], frac_bits=63)
    assert info.value.clause == "D1.3"
