"""The ring helpers' exact arithmetic (spec/01-ring.md D1.1, D1.2; C8.2's squared norm).

Written against the mutants that ``make mutation`` found surviving in ``reference/ring.py`` and
``optimized/ring.py`` (docs/assurance.md): an inner product whose lowest bit is masked away,
element-wise sums that silently truncate the longer vector, and a squared norm that doubles
instead of squares or reads the wrong width. C8.2's bound test ``sum e_k^2 < 2^62`` is checked
at its exact boundary, where its float fast path must hand over to exact integers.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import sbrml.optimized.ring as opt_ring
import sbrml.reference.ring as ref_ring
from sbrml.core.errors import ShapeError

# sum e_k^2 = 2^62 - 1: (2^31 - 1)^2 + 65535^2 + 362^2 + 5^2. The float64 dot product of
# these rounds to 2^62 exactly, inside the fast path's band, so only exact integers decide.
JUST_BELOW = [(1 << 31) - 1, 65535, 362, 5]
AT_BOUND = [1 << 31]
JUST_ABOVE = [1 << 31, 1]


def _ring(values: list[int], bits: int = 64) -> list[int]:
    """Signed integers as elements of Z_2^bits (D1.2's inverse)."""
    return [v % (1 << bits) for v in values]


def _sq_norm(tree: ModuleType, values: list[int]) -> int:
    if tree is ref_ring:
        return int(ref_ring.sq_norm_encoded(_ring(values)))
    return int(opt_ring.sq_norm_encoded(np.array(_ring(values), dtype=np.uint64)))


@pytest.mark.spec("D1.1")
def test_ring_dot_keeps_the_lowest_bit() -> None:
    assert ref_ring.ring_dot([3], [5], 4) == 15
    assert ref_ring.ring_dot([1, 2], [3, 4]) == 11
    assert ref_ring.ring_dot([(1 << 64) - 1], [(1 << 64) - 1]) == 1


@pytest.mark.spec("D1.1")
@pytest.mark.parametrize("function", [ref_ring.ring_add, ref_ring.ring_sub])
def test_ring_add_and_sub_refuse_vectors_of_different_lengths(function: object) -> None:
    with pytest.raises(ValueError):
        function([1, 2], [1])  # type: ignore[operator]
    with pytest.raises(ValueError):
        function([1], [1, 2])  # type: ignore[operator]


@pytest.mark.spec("C8.2", "D1.2")
@pytest.mark.parametrize("tree", [ref_ring, opt_ring], ids=["reference", "optimized"])
@pytest.mark.parametrize(
    "values",
    [
        [],
        [3, -4],
        [-1, 1, -1],
        [(1 << 31) - 1, -((1 << 31) - 1), 46341, -7],  # squares below 2^62: the fast halves
        [1 << 31, -(1 << 40), 3],  # magnitudes from 2^31: the exact slow path
        JUST_BELOW,
    ],
)
def test_sq_norm_encoded_squares_the_signed_representatives(
    tree: ModuleType, values: list[int]
) -> None:
    assert _sq_norm(tree, values) == sum(v * v for v in values)


@pytest.mark.spec("C8.2", "D1.2")
def test_reference_sq_norm_encoded_reads_the_width() -> None:
    assert ref_ring.sq_norm_encoded([255, 1, 128], 8) == 1 + 1 + 128 * 128


@pytest.mark.spec("C8.2")
@pytest.mark.parametrize(
    ("values", "below"),
    [
        ([], True),
        ([3, -4], True),
        (JUST_BELOW, True),
        (AT_BOUND, False),
        (JUST_ABOVE, False),
        ([1 << 32], False),
        ([1 << 31] * 4, False),
    ],
)
def test_sq_norm_below_at_the_exact_boundary(values: list[int], below: bool) -> None:
    integers = np.array(values, dtype=np.float64)
    encoded = np.array(_ring(values), dtype=np.uint64)
    assert opt_ring.sq_norm_below(integers, encoded, 62) is below
    assert (sum(v * v for v in values) < 1 << 62) is below


@pytest.mark.spec("D1.1")
def test_optimized_as_ring_returns_uint64_in_the_input_shape() -> None:
    empty = opt_ring.as_ring("f", "x", [])
    assert empty.dtype == np.uint64
    assert empty.shape == (0,)
    nested = opt_ring.as_ring("f", "x", [[1, 2], [3, 4]])
    assert nested.dtype == np.uint64
    assert nested.shape == (2, 2)
    signed = opt_ring.as_ring("f", "x", np.array([1, 2], dtype=np.int64))
    assert signed.dtype == np.uint64
    assert signed.tolist() == [1, 2]


@pytest.mark.spec("C1.2")
@pytest.mark.parametrize("tree", [ref_ring, opt_ring], ids=["reference", "optimized"])
def test_encode_accepts_the_lowest_value_at_full_width(tree: ModuleType) -> None:
    # round(v * 2^16) = -2^63, the least signed representative at width 64: inside C1.2's range.
    assert [int(e) for e in tree.encode([-(2.0**47)], frac_bits=16)] == [1 << 63]


@pytest.mark.spec("C1.1")
def test_optimized_encode_refuses_a_boolean_array() -> None:
    with pytest.raises(ShapeError) as err:
        opt_ring.encode(np.array([True, False]))
    assert err.value.clause == "C1.1"
