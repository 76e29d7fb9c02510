"""The ring Z_2^k and signed fixed-point encoding (spec/01-ring.md).

Ring elements are Python ints in ``[0, 2^bits)``; vectors are lists of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from sbrml.core.errors import EncodingError, ShapeError, int_size, shown
from sbrml.core.params import (
    DEFAULT_FRAC_BITS,
    RING_BITS,
    WEIGHT_FRAC_BITS,
    check_frac_bits,
    check_ring_bits,
)


def to_signed(element: int, bits: int = RING_BITS) -> int:
    """Implements D1.2: the signed representative of a ring element, in [-2^(k-1), 2^(k-1))."""
    return element - (1 << bits) if element >= 1 << (bits - 1) else element


def is_real_scalar(value: object) -> bool:
    """C1.6: an int other than bool, a float, or a NumPy integer or floating-point scalar.

    NumPy scalars are recognised by their dtype's kind (``i``, ``u``, ``f``), so this tree
    needs no NumPy: the values an integer or float array holds are real numbers in both
    trees, a bool (Python's or NumPy's) never is.
    """
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float):
        return True
    kind = getattr(getattr(value, "dtype", None), "kind", None)
    return kind in ("i", "u", "f") and getattr(value, "ndim", None) == 0


def range_condition(bits: int, frac_bits: int) -> str:
    """C1.2's condition, as both trees word it."""
    return f"-2^{bits - 1} <= round(v * 2^{frac_bits}) < 2^{bits - 1}"


def encode(
    values: Sequence[float], *, frac_bits: int = DEFAULT_FRAC_BITS, bits: int = RING_BITS
) -> list[int]:
    """Implements D1.3 and C1.1-C1.3, C1.6: round(v * 2^F) half to even, reduced mod 2^k.

    Raises ``ShapeError`` for a value that is not a real number (C1.1, C1.6),
    ``EncodingError`` for NaN or infinity (C1.1) and for a value whose scaled rounding leaves
    the signed range [-2^(k-1), 2^(k-1)) (C1.2, an int beyond the float range included);
    nothing is clipped.
    """
    check_ring_bits("encode", bits)
    check_frac_bits("encode", frac_bits, bits)
    scale = 1 << frac_bits
    half = 1 << (bits - 1)
    mask = (1 << bits) - 1
    out: list[int] = []
    for index, value in enumerate(values):
        where = f"values[{index}]"
        if not is_real_scalar(value):
            raise ShapeError("encode", where, "a real number", "C1.1", type(value).__name__)
        try:
            v = float(value)
        except OverflowError:  # an int beyond the float range: far outside the ring too
            raise EncodingError(
                "encode", where, range_condition(bits, frac_bits), "C1.2", int_size(int(value))
            ) from None
        if not math.isfinite(v):
            raise EncodingError("encode", where, "a finite value", "C1.1", shown(v))
        # Scaling by a power of two is exact in binary floating point (below overflow), so
        # Python's round() applies round-half-to-even to the true product v * 2^F.
        scaled = v * scale
        if math.isinf(scaled) or not -half <= round(scaled) < half:
            raise EncodingError("encode", where, range_condition(bits, frac_bits), "C1.2", shown(v))
        out.append(round(scaled) & mask)
    return out


def decode(
    elements: Sequence[int], *, frac_bits: int = DEFAULT_FRAC_BITS, bits: int = RING_BITS
) -> list[float]:
    """Implements C1.4: signed representative divided by 2^F, correctly rounded to float."""
    check_ring_bits("decode", bits)
    check_frac_bits("decode", frac_bits, bits)
    check_ring_vector("decode", "elements", elements, bits)
    scale = 1 << frac_bits
    # int / int true division is correctly rounded, like NumPy's int64 -> float64 cast
    # followed by an exact division by a power of two.
    return [to_signed(e, bits) / scale for e in elements]


def check_ring_vector(
    function: str, parameter: str, elements: Sequence[int], bits: int = RING_BITS
) -> None:
    """Implements D1.1: every element is an int in [0, 2^bits)."""
    bound = 1 << bits
    for index, e in enumerate(elements):
        if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e < bound:
            raise ShapeError(
                function, f"{parameter}[{index}]", f"an int in [0, 2^{bits})", "D1.1", shown(e)
            )


def ring_add(x: Sequence[int], y: Sequence[int], bits: int = RING_BITS) -> list[int]:
    """Element-wise x + y in Z_2^k (D1.1)."""
    mask = (1 << bits) - 1
    return [(a + b) & mask for a, b in zip(x, y, strict=True)]


def ring_sub(x: Sequence[int], y: Sequence[int], bits: int = RING_BITS) -> list[int]:
    """Element-wise x - y in Z_2^k (D1.1)."""
    mask = (1 << bits) - 1
    return [(a - b) & mask for a, b in zip(x, y, strict=True)]


def ring_dot(x: Sequence[int], y: Sequence[int], bits: int = RING_BITS) -> int:
    """Inner product sum_k x_k y_k in Z_2^k (D1.1)."""
    return sum(a * b for a, b in zip(x, y, strict=True)) & ((1 << bits) - 1)


def sq_norm_encoded(values: Sequence[int], bits: int = RING_BITS) -> int:
    """Exact squared norm of the signed representatives, as an unbounded int (C8.2)."""
    return sum(to_signed(e, bits) ** 2 for e in values)


def encode_weights(
    weights: Sequence[float], *, weight_frac_bits: int = WEIGHT_FRAC_BITS
) -> list[int]:
    """Implements C8.6: public weights P_i = round_half_even(p_i * 2^W) as ring elements."""
    return encode(weights, frac_bits=weight_frac_bits)
