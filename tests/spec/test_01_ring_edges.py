"""The ring encoders' edges (spec/01-ring.md C1.1, C1.2, C1.6, D1.2; C8.2's squared norm).

Written against the mutants of ``optimized/ring.py`` that ``make mutation`` found surviving
(docs/assurance.md, issue 18): nested input that NumPy cannot shape, 0-d arrays among list
elements, object arrays, the value an error names, C1.2's condition for an int beyond the
float range, the overflow of v * 2^F, the least signed value beside an out-of-range one,
D1.2 on arrays of other dtypes, and the squared norm of -2^63, whose int64 absolute value is
itself. Each case that both trees accept runs on both (the ``impl`` fixture).
"""

from __future__ import annotations

import warnings
from types import ModuleType

import numpy as np
import pytest

import sbrml.optimized.ring as opt_ring
import sbrml.reference.ring as ref_ring
from sbrml.core.errors import EncodingError, ShapeError
from tests.helpers import as_list


@pytest.mark.spec("C1.1")
def test_nested_values_of_uneven_shape_are_refused_with_c1_1(impl: ModuleType) -> None:
    # NumPy cannot put a 2x2 and a 2x3 array side by side even as objects (a ValueError).
    with pytest.raises(ShapeError) as info:
        impl.encode([np.zeros((2, 2)), np.zeros((2, 3))])
    assert info.value.clause == "C1.1"
    assert info.value.function == "encode"
    assert info.value.parameter.startswith("values")


@pytest.mark.spec("C1.6")
def test_nested_lists_are_read_in_their_shape() -> None:
    arr = opt_ring.as_real_array("f", "x", [[1.0, 2], [3, 4.5]])
    assert arr.dtype == np.float64
    assert arr.shape == (2, 2)
    assert arr.tolist() == [[1.0, 2.0], [3.0, 4.5]]


@pytest.mark.spec("C1.6")
def test_zero_dimensional_arrays_are_real_numbers_by_their_own_dtype(impl: ModuleType) -> None:
    real = [np.array(1.0), np.array(2.5), np.array(3, dtype=np.int32)]
    assert as_list(impl.encode(real, frac_bits=1)) == [2, 5, 6]
    # A subclass of ndarray too: its instances differ in dtype like ndarray's.
    for pair in (
        [np.array(1.0), np.array(True)],
        [np.ma.masked_array(1.0), np.ma.masked_array(True)],
    ):
        with pytest.raises(ShapeError) as info:
            impl.encode(pair)
        assert info.value.clause == "C1.1"
        assert info.value.parameter == "values[1]"


@pytest.mark.spec("C1.6")
def test_an_object_array_is_read_element_by_element(impl: ModuleType) -> None:
    assert as_list(impl.encode(np.array([1.0, 2], dtype=object), frac_bits=1)) == [2, 4]
    with pytest.raises(ShapeError) as info:
        impl.encode(np.array([1.0, True], dtype=object))
    assert info.value.clause == "C1.1"


@pytest.mark.spec("C1.1", "C1.6")
def test_a_value_that_is_not_real_is_named_by_its_index(impl: ModuleType) -> None:
    with pytest.raises(ShapeError) as info:
        impl.encode([1.0, 2.0, "3"])
    assert (info.value.function, info.value.parameter) == ("encode", "values[2]")
    assert info.value.got == "str"


@pytest.mark.spec("C1.2")
def test_an_int_beyond_the_float_range_names_its_index_and_c1_2_condition(
    impl: ModuleType,
) -> None:
    # A float and a small int before it: neither overflows a double, so neither is named.
    with pytest.raises(EncodingError) as info:
        impl.encode([1.0, 5, 1 << 1024], frac_bits=10, bits=32)
    assert info.value.clause == "C1.2"
    assert info.value.parameter == "values[2]"
    assert info.value.condition == ref_ring.range_condition(32, 10)


@pytest.mark.spec("C1.2")
def test_as_real_array_words_c1_2_for_the_integers_by_default() -> None:
    with pytest.raises(EncodingError) as info:
        opt_ring.as_real_array("f", "x", [1 << 1024])
    assert info.value.condition == ref_ring.range_condition(64, 0)
    with pytest.raises(EncodingError) as info:
        opt_ring.as_real_array("f", "x", [1 << 1024], bits=16, frac_bits=5)
    assert info.value.condition == ref_ring.range_condition(16, 5)


@pytest.mark.spec("C1.2")
def test_overflows_float_only_for_ints_that_round_beyond_the_largest_double() -> None:
    assert opt_ring.overflows_float(1 << 1024)
    assert opt_ring.overflows_float(-(1 << 1024))
    assert not opt_ring.overflows_float(5)
    assert not opt_ring.overflows_float(1.5e308)
    assert not opt_ring.overflows_float("1e400")


@pytest.mark.spec("C1.2")
def test_scaling_beyond_the_float_range_is_c1_2_without_a_warning(impl: ModuleType) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(EncodingError) as info:
            impl.encode([1.0, 1e308], frac_bits=16)
    assert info.value.clause == "C1.2"
    assert info.value.parameter == "values[1]"


@pytest.mark.spec("C1.2")
def test_the_least_value_is_not_named_beside_an_out_of_range_one(impl: ModuleType) -> None:
    # round(v 2^16) = -2^63 is the least signed representative: in range; 2^63 is not.
    with pytest.raises(EncodingError) as info:
        impl.encode([-(2.0**47), 2.0**47], frac_bits=16)
    assert info.value.clause == "C1.2"
    assert info.value.parameter == "values[1]"


@pytest.mark.spec("D1.2")
def test_optimized_to_signed_reads_other_integer_dtypes() -> None:
    narrow = opt_ring.to_signed(np.array([5, (1 << 32) - 1, 1 << 31], dtype=np.uint32), 32)
    assert narrow.dtype == np.int64
    assert narrow.tolist() == [5, -1, -(1 << 31)]
    signed = opt_ring.to_signed(np.array([-1, 5, -(1 << 63)], dtype=np.int64))
    assert signed.dtype == np.int64
    assert signed.tolist() == [-1, 5, -(1 << 63)]


@pytest.mark.spec("D1.2", "C1.6")
def test_optimized_ring_views_do_not_copy_a_model_sized_vector() -> None:
    # decode and encode read vectors of millions of entries: a uint64 or float64 array is
    # reinterpreted in place, not copied.
    ring = np.arange(4, dtype=np.uint64)
    assert np.shares_memory(opt_ring.to_signed(ring), ring)
    floats = np.arange(4, dtype=np.float64)
    assert opt_ring.as_real_array("f", "x", floats) is floats


@pytest.mark.spec("C8.2", "D1.2")
@pytest.mark.parametrize("tree", [ref_ring, opt_ring], ids=["reference", "optimized"])
@pytest.mark.parametrize(
    "values",
    [
        [-(1 << 63)],  # np.abs(-2^63) is -2^63 in int64: it must not look small
        [-(1 << 63), 0, 3],
        [1 << 31],
        [1 << 32, -((1 << 32) - 1)],  # squares of 2^64 and just below it
    ],
)
def test_sq_norm_encoded_of_the_widest_values(tree: ModuleType, values: list[int]) -> None:
    ring = [v % (1 << 64) for v in values]
    got = (
        ref_ring.sq_norm_encoded(ring)
        if tree is ref_ring
        else opt_ring.sq_norm_encoded(np.array(ring, dtype=np.uint64))
    )
    assert got == sum(v * v for v in values)


@pytest.mark.spec("C8.2")
def test_encode_update_reports_the_norm_of_the_least_value(impl: ModuleType) -> None:
    # round(-2^47 * 2^16) = -2^63: its square 2^126 is far above C8.2's 2^62.
    with pytest.raises(ShapeError) as info:
        impl.encode_update([-(2.0**47), 0.0], frac_bits=16)
    assert info.value.clause == "C8.2"
    assert info.value.got == "2^126 <= value < 2^127"


@pytest.mark.spec("C8.2")
def test_sq_norm_below_reads_the_integers_in_any_shape() -> None:
    values = [[3, -4], [1 << 30, 5]]
    integers = np.array(values, dtype=np.float64)
    encoded = np.array([[v % (1 << 64) for v in row] for row in values], dtype=np.uint64)
    assert opt_ring.sq_norm_below(integers, encoded, 62)
    assert not opt_ring.sq_norm_below(integers, encoded, 60)
