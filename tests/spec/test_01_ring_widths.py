"""Sections 1 and 3 at ring widths below 64 (spec/01-ring.md D1.1-D1.3, spec/03-sharing.md).

The protocols use Z_2^64, where every uint64 is a ring element, so a dropped ``bits``
argument or a range check off by one bit goes unnoticed there. These tests run ``share``,
``reconstruct``, ``encode``, ``decode`` and the reference's ``ring_dot`` at narrower widths:
elements at or above 2^bits are refused (D1.1), every output is reduced mod 2^bits, and the
encoder's signed range [-2^(bits-1), 2^(bits-1)) is checked at its exact boundary (C1.2).
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np
import pytest

from sbrml.core.errors import EncodingError, ParameterError, ShapeError
from sbrml.reference.ring import ring_add, ring_dot, ring_sub
from tests.helpers import ScriptedSource, as_list

WIDTHS = [2, 5, 8, 16, 33, 53, 63]


def _scripted(values: list[int]) -> ScriptedSource:
    """A source whose ring draws (C2.6: 8 bytes LE each, masked to the width) are ``values``."""
    return ScriptedSource(b"".join(v.to_bytes(8, "little") for v in values))


@pytest.mark.spec("D1.1", "P3.1")
@pytest.mark.parametrize("bits", WIDTHS)
def test_share_refuses_elements_at_or_above_two_to_the_bits(impl: ModuleType, bits: int) -> None:
    top = (1 << bits) - 1
    with pytest.raises(ShapeError) as info:
        impl.share([0, 1 << bits], rng=impl.DeterministicRandomSource(0), bits=bits)
    assert info.value.clause == "D1.1" and info.value.function == "share"
    assert info.value.parameter == "secret[1]" or info.value.parameter.startswith("secret")
    # The largest element is accepted, and both shares are elements of Z_2^bits: a mask of
    # 2^bits - 1 makes x - r wrap below zero, which only the reduction mod 2^bits brings back.
    s0, s1 = impl.share([0, top, 1], rng=_scripted([top, top, top]), bits=bits)
    assert as_list(s0) == [top, top, top]
    assert as_list(s1) == [1, 0, 2]


@pytest.mark.spec("D1.1", "P3.2")
@pytest.mark.parametrize("bits", WIDTHS)
def test_reconstruct_refuses_elements_at_or_above_two_to_the_bits(
    impl: ModuleType, bits: int
) -> None:
    top = (1 << bits) - 1
    for share0, share1, name in (([1 << bits], [0], "share0"), ([0], [1 << bits], "share1")):
        with pytest.raises(ShapeError) as info:
            impl.reconstruct(share0, share1, bits=bits)
        assert info.value.clause == "D1.1" and info.value.function == "reconstruct"
        assert info.value.parameter.startswith(name)
    # The sum is reduced mod 2^bits.
    assert as_list(impl.reconstruct([top, top, 1], [1, top, 1], bits=bits)) == [0, top - 1, 2]


@pytest.mark.spec("C1.2", "D1.3")
@pytest.mark.parametrize("bits", [2, 5, 8, 16, 33, 53])
@pytest.mark.parametrize("frac", ["zero", "largest"])
def test_encode_range_at_its_exact_boundary(impl: ModuleType, bits: int, frac: str) -> None:
    # F = 0 and the largest F that D1.3 admits (bits - 2); every value k / 2^F is exact.
    f = 0 if frac == "zero" else bits - 2
    half = 1 << (bits - 1)
    inside = [-half, -half + 1, -1, 0, 1, half // 2, half - 1]
    got = as_list(impl.encode([k / 2**f for k in inside], frac_bits=f, bits=bits))
    assert got == [k % (1 << bits) for k in inside]
    for k in (half, -half - 1):
        with pytest.raises(EncodingError) as info:
            impl.encode([0.0, k / 2**f], frac_bits=f, bits=bits)
        assert info.value.clause == "C1.2" and "values[1]" in str(info.value)
        assert f"2^{bits - 1}" in info.value.condition


@pytest.mark.spec("C1.4", "D1.2")
@pytest.mark.parametrize("bits", WIDTHS)
def test_decode_at_a_narrow_width(impl: ModuleType, bits: int) -> None:
    # Width 63 included: the optimized tree's signed representatives once computed
    # np.int64(1 << 63), which overflows.
    half = 1 << (bits - 1)
    f = min(3, bits - 2)
    got = as_list(impl.decode([0, half - 1, half, (1 << bits) - 1], frac_bits=f, bits=bits))
    assert got == [0.0, (half - 1) / 2**f, -half / 2**f, -1 / 2**f]
    with pytest.raises(ShapeError) as info:
        impl.decode([0, 1 << bits], frac_bits=f, bits=bits)
    assert info.value.clause == "D1.1" and info.value.function == "decode"


@pytest.mark.spec("D1.3")
@pytest.mark.parametrize("bits", [2, 8, 33, 64])
def test_frac_bits_bound_follows_the_width(impl: ModuleType, bits: int) -> None:
    # 0 <= F < bits - 1: F = bits - 2 is the largest accepted, F = bits - 1 the first refused.
    assert as_list(impl.encode([0.25], frac_bits=bits - 2, bits=bits)) == [
        round(0.25 * 2 ** (bits - 2)) % (1 << bits)
    ]
    impl.decode([1], frac_bits=bits - 2, bits=bits)
    calls: list[Callable[[], object]] = [
        lambda: impl.encode([0.0], frac_bits=bits - 1, bits=bits),
        lambda: impl.decode([0], frac_bits=bits - 1, bits=bits),
        lambda: impl.encode([0.0], frac_bits=-1, bits=bits),
    ]
    for call in calls:
        with pytest.raises(ParameterError) as info:
            call()
        assert info.value.clause == "D1.3" and info.value.parameter == "frac_bits"


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("function", ["share", "reconstruct", "encode", "decode"])
@pytest.mark.parametrize("bits", [1, 65, True])
def test_every_entry_point_checks_the_width(impl: ModuleType, function: str, bits: object) -> None:
    calls = {
        "share": lambda: impl.share([0], rng=impl.DeterministicRandomSource(0), bits=bits),
        "reconstruct": lambda: impl.reconstruct([0], [0], bits=bits),
        "encode": lambda: impl.encode([0.0], frac_bits=0, bits=bits),
        "decode": lambda: impl.decode([0], frac_bits=0, bits=bits),
    }
    with pytest.raises(ParameterError) as info:
        calls[function]()
    assert info.value.clause == "D1.1" and info.value.function == function
    assert info.value.parameter == "bits"


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("bits", [2, 8, 64])
def test_widths_at_the_ends_of_the_range_are_accepted(impl: ModuleType, bits: int) -> None:
    top = (1 << bits) - 1
    s0, s1 = impl.share([top], rng=_scripted([1]), bits=bits)
    assert as_list(s0) == [1] and as_list(s1) == [top - 1]
    assert as_list(impl.reconstruct(s0, s1, bits=bits)) == [top]


NARROW_BAD_ARRAYS = {
    "uint64 at 2^8": np.array([0, 256], dtype=np.uint64),
    "int64 at 2^8": np.array([0, 256], dtype=np.int64),
    "negative int64": np.array([3, -1], dtype=np.int64),
    "floats": np.array([0.0, 1.0]),
    "bools": np.array([True, False]),
}


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("kind", sorted(NARROW_BAD_ARRAYS))
@pytest.mark.parametrize(
    "function", ["share", "reconstruct share0", "reconstruct share1", "decode"]
)
def test_optimized_arrays_outside_a_narrow_ring_are_refused(kind: str, function: str) -> None:
    # Arrays are taken by dtype, not element by element: each kind of array that is not a
    # vector of Z_2^8 is refused with D1.1 by every entry point.
    import sbrml.optimized as opt

    bad, zeros = NARROW_BAD_ARRAYS[kind], np.zeros(2, dtype=np.uint64)
    with pytest.raises(ShapeError) as info:
        if function == "share":
            opt.share(bad, rng=opt.DeterministicRandomSource(0), bits=8)
        elif function == "reconstruct share0":
            opt.reconstruct(bad, zeros, bits=8)
        elif function == "reconstruct share1":
            opt.reconstruct(zeros, bad, bits=8)
        else:
            opt.decode(bad, frac_bits=0, bits=8)
    assert info.value.clause == "D1.1" and info.value.function == function.split()[0]


@pytest.mark.spec("D1.1")
def test_optimized_negative_integer_arrays_are_refused_at_width_64() -> None:
    # At width 64 every uint64 is an element, so a negative int64 must be refused by its
    # sign, not left to wrap to 2^64 - 1.
    import sbrml.optimized as opt

    for bad in (np.array([3, -1], dtype=np.int64), np.array([-(2**63)], dtype=np.int64)):
        with pytest.raises(ShapeError) as info:
            opt.decode(bad, frac_bits=0)
        assert info.value.clause == "D1.1" and info.value.got == f"min {bad.min()}"
        with pytest.raises(ShapeError):
            opt.share(bad, rng=opt.DeterministicRandomSource(0))


@pytest.mark.spec("D1.1")
def test_optimized_integer_arrays_inside_a_narrow_ring_are_accepted() -> None:
    import sbrml.optimized as opt

    for good in (np.array([0, 255], dtype=np.uint64), np.array([0, 255], dtype=np.int64)):
        assert as_list(opt.decode(good, frac_bits=0, bits=8)) == [0.0, -1.0]
    assert as_list(opt.decode(np.zeros((0,), dtype=np.int64), frac_bits=0, bits=8)) == []


@pytest.mark.spec("P3.1", "P3.2")
@pytest.mark.parametrize("bits", [5, 64])
def test_optimized_share_keeps_the_shape_of_a_matrix(bits: int) -> None:
    import sbrml.optimized as opt

    top = (1 << bits) - 1
    secret = np.array([[0, 1, top], [top, 2, 3]], dtype=np.uint64)
    s0, s1 = opt.share(secret, rng=_scripted([top] * 6), bits=bits)
    assert s0.shape == s1.shape == (2, 3)
    assert s1.tolist() == [[1, 2, 0], [0, 3, 4]]
    assert opt.reconstruct(s0, s1, bits=bits).tolist() == secret.tolist()
    with pytest.raises(ShapeError) as info:
        opt.reconstruct(s0, s1.reshape(3, 2), bits=bits)
    assert info.value.clause == "P3.2"


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("bits", [4, 8, 33, 64])
def test_reference_ring_arithmetic_reduces_mod_two_to_the_bits(bits: int) -> None:
    modulus = 1 << bits
    x = [modulus - 1, 3, modulus // 2 + 1, 0]
    y = [modulus - 2, 5, modulus // 2 + 3, modulus - 1]
    assert ring_dot(x, y, bits) == sum(a * b for a, b in zip(x, y, strict=True)) % modulus
    assert ring_add(x, y, bits) == [(a + b) % modulus for a, b in zip(x, y, strict=True)]
    assert ring_sub(x, y, bits) == [(a - b) % modulus for a, b in zip(x, y, strict=True)]
    assert ring_dot([3, 5], [7, 11], 4) == 76 % 16
    assert ring_dot(x, y) == sum(a * b for a, b in zip(x, y, strict=True)) % (1 << 64)
    with pytest.raises(ValueError):
        ring_dot([1, 2], [3])  # strict: vectors of one length
