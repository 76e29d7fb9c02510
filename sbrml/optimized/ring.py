"""The ring Z_2^k and signed fixed-point encoding, on NumPy arrays (spec/01-ring.md).

Ring elements are ``uint64`` arrays: arithmetic wraps mod 2^64 for free, and a narrower
ring Z_2^k (k < 64, for exhaustive tests) is the same arithmetic followed by a mask.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import EncodingError, ShapeError, int_size, shown
from sbrml.core.params import (
    DEFAULT_FRAC_BITS,
    RING_BITS,
    WEIGHT_FRAC_BITS,
    check_frac_bits,
    check_ring_bits,
)
from sbrml.reference.ring import is_real_scalar, range_condition

U64 = NDArray[np.uint64]
F64 = NDArray[np.float64]

__all__ = [
    "DEFAULT_FRAC_BITS",
    "RING_BITS",
    "WEIGHT_FRAC_BITS",
    "as_real_array",
    "as_ring",
    "decode",
    "encode",
    "encode_weights",
    "is_real_scalar",
    "mask_bits",
    "to_signed",
]


def mask_bits(x: U64, bits: int) -> U64:
    """Reduce uint64 values mod 2^bits (a no-op for the 64-bit ring)."""
    if bits == RING_BITS:
        return x
    return x & np.uint64((1 << bits) - 1)


def as_real_array(
    function: str, parameter: str, values: ArrayLike, *, bits: int = RING_BITS, frac_bits: int = 0
) -> F64:
    """A float64 view or copy of ``values`` (C1.1, C1.6).

    An array is taken by its dtype: integer or floating, never bool. Anything else (lists,
    object arrays) is read element by element, as the reference does: an element that is not
    a real number (``is_real_scalar``: a bool, a string, None, ...) is a ShapeError citing
    C1.1, an int beyond the float range an EncodingError citing C1.2 (``bits`` and
    ``frac_bits`` word its condition). Converting the list first would turn True into 1.0
    and "1.0" into 1.0.
    """
    if isinstance(values, np.ndarray) and values.dtype != object:
        arr = values
    else:
        arr = _from_elements(function, parameter, values, bits, frac_bits)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise ShapeError(
            function, parameter, "an array of real numbers", "C1.1", f"dtype {arr.dtype}"
        )
    return arr.astype(np.float64, copy=False)


def _from_elements(
    function: str, parameter: str, values: ArrayLike, bits: int, frac_bits: int
) -> F64:
    """C1.6 element by element: every element a real number, as float64, in its shape."""
    try:
        obj = np.array(values, dtype=object)
    except ValueError as err:  # nested sequences of uneven depth
        raise ShapeError(function, parameter, "an array of real numbers", "C1.1", str(err)) from err
    flat = obj.reshape(-1).tolist()
    # One representative per type whose instances is_real_scalar tells apart by type alone
    # (Python's and NumPy's scalars), and every element otherwise: 0-d arrays of NumPy, of its
    # subclasses (a masked array) or of other libraries differ in dtype between instances.
    # A scan of types, not of values, for lists of a million floats.
    kinds = set(map(type, flat))
    if not all(
        is_real_scalar(next(v for v in flat if type(v) is t))
        if issubclass(t, int | float | np.generic)
        else all(is_real_scalar(w) for w in flat)
        for t in kinds
    ):
        k = next(k for k, v in enumerate(flat) if not is_real_scalar(v))
        raise ShapeError(
            function,
            f"{parameter}{_index(k, obj.shape)}",
            "a real number",
            "C1.1",
            type(flat[k]).__name__,
        )
    try:
        return np.array(flat, dtype=np.float64).reshape(obj.shape)
    except OverflowError:  # an int beyond the float range
        k = next(k for k, v in enumerate(flat) if overflows_float(v))
        raise EncodingError(
            function,
            f"{parameter}{_index(k, obj.shape)}",
            range_condition(bits, frac_bits),
            "C1.2",
            int_size(flat[k]),
        ) from None


def overflows_float(value: object) -> bool:
    """Whether float(value) raises OverflowError: an int that rounds beyond the largest double.

    Asks float() itself rather than comparing with 2^1024: ints from 2^1024 - 2^970 up round
    to 2^1024 and overflow too, and a search for |v| >= 2^1024 then found nothing.
    """
    if not isinstance(value, int):
        return False
    try:
        float(value)
    except OverflowError:
        return True
    return False


def _index(flat: int, shape: tuple[int, ...]) -> str:
    return "".join(f"[{i}]" for i in np.unravel_index(flat, shape)) if shape else ""


def encode(values: ArrayLike, *, frac_bits: int = DEFAULT_FRAC_BITS, bits: int = RING_BITS) -> U64:
    """Implements D1.3 and C1.1-C1.3: round(v * 2^F) half to even, reduced mod 2^k."""
    return encode_with_integers(values, frac_bits=frac_bits, bits=bits)[1]


def encode_with_integers(
    values: ArrayLike, *, frac_bits: int = DEFAULT_FRAC_BITS, bits: int = RING_BITS
) -> tuple[F64, U64]:
    """``encode``, also returning the signed integers round(v * 2^F) as exact float64 values."""
    check_ring_bits("encode", bits)
    check_frac_bits("encode", frac_bits, bits)
    arr = as_real_array("encode", "values", values, bits=bits, frac_bits=frac_bits)
    with np.errstate(over="ignore"):  # overflow to infinity is caught as C1.2 below
        scaled = arr * float(1 << frac_bits)
    np.rint(scaled, out=scaled)  # rint rounds half to even, like Python's round().
    low, high = -float(1 << (bits - 1)), float(1 << (bits - 1))
    # NaN fails both comparisons, so one min/max pass screens NaN, infinity and range.
    if scaled.size and not (low <= scaled.min() and scaled.max() < high):
        bad = ~((scaled >= low) & (scaled < high))
        first = int(np.argmax(bad.ravel()))
        v = float(arr.ravel()[first])
        where = f"values{_index(first, arr.shape)}"
        if not np.isfinite(v):
            raise EncodingError("encode", where, "a finite value", "C1.1", shown(v))
        raise EncodingError("encode", where, range_condition(bits, frac_bits), "C1.2", shown(v))
    return scaled, mask_bits(scaled.astype(np.int64).view(np.uint64), bits)


def to_signed(x: U64, bits: int = RING_BITS) -> NDArray[np.int64]:
    """Implements D1.2: signed representatives in [-2^(k-1), 2^(k-1)) as int64."""
    signed = x.view(np.int64) if x.dtype == np.uint64 else x.astype(np.uint64).view(np.int64)
    if bits == RING_BITS:
        return signed
    # 2^bits itself does not fit an int64 at bits = 63: subtract it as two halves.
    half = np.int64(1 << (bits - 1))
    return np.where(signed >= half, (signed - half) - half, signed)


def as_ring(function: str, parameter: str, x: Any, bits: int = RING_BITS) -> U64:
    """Implements D1.1: ``x`` as a uint64 array of elements of Z_2^bits, or ShapeError."""
    # Python sequences go through object dtype: NumPy would turn [0, 2**63] into floats.
    arr = x if isinstance(x, np.ndarray) else np.array(x, dtype=object)
    if arr.dtype != np.uint64:
        if arr.size == 0:
            return np.zeros(arr.shape, dtype=np.uint64)
        if arr.dtype == object:
            flat = arr.ravel().tolist()
            for index, e in enumerate(flat):
                if isinstance(e, bool) or not isinstance(e, int) or not 0 <= e < 1 << bits:
                    raise ShapeError(
                        function,
                        f"{parameter}[{index}]",
                        f"an int in [0, 2^{bits})",
                        "D1.1",
                        shown(e),
                    )
            return np.array(flat, dtype=np.uint64).reshape(arr.shape)
        if arr.dtype.kind not in "iu" or arr.dtype == np.bool_:
            raise ShapeError(
                function, parameter, "ring elements (unsigned ints)", "D1.1", f"dtype {arr.dtype}"
            )
        if arr.min() < 0:
            raise ShapeError(
                function, parameter, f"ints in [0, 2^{bits})", "D1.1", f"min {arr.min()}"
            )
        arr = arr.astype(np.uint64)
    if bits < RING_BITS and arr.size and int(arr.max()) >= 1 << bits:
        raise ShapeError(
            function, parameter, f"ints in [0, 2^{bits})", "D1.1", f"max {int(arr.max())}"
        )
    return arr


def decode(
    elements: ArrayLike, *, frac_bits: int = DEFAULT_FRAC_BITS, bits: int = RING_BITS
) -> F64:
    """Implements C1.4: signed representative divided by 2^F, correctly rounded to float64."""
    check_ring_bits("decode", bits)
    check_frac_bits("decode", frac_bits, bits)
    ring = as_ring("decode", "elements", elements, bits)
    # The int64 -> float64 cast rounds to nearest even; dividing by 2^F is then exact.
    return to_signed(ring, bits).astype(np.float64) / float(1 << frac_bits)


def sq_norm_encoded(x: U64) -> int:
    """Exact squared norm of the signed representatives, as a Python int (C8.2).

    Squares of values below 2^31 in magnitude fit in uint64; summing their high and low
    32-bit halves separately keeps every partial sum exact. Larger values take the slow path.
    """
    signed = to_signed(x)
    if signed.size == 0:
        return 0
    # In int64, np.abs(-2^63) is -2^63 itself; read as uint64 it is 2^63.
    if int(np.abs(signed).view(np.uint64).max()) >= 1 << 31:
        return sum(int(v) ** 2 for v in signed.ravel())
    sq = (signed * signed).view(np.uint64)
    high = int(np.sum(sq >> np.uint64(32), dtype=np.uint64))
    low = int(np.sum(sq & np.uint64(0xFFFFFFFF), dtype=np.uint64))
    return (high << 32) + low


def sq_norm_below(integers: F64, encoded: U64, log2_bound: int) -> bool:
    """Implements C8.2's test sum_k e_k^2 < 2^log2_bound exactly, with a float fast path.

    ``integers`` holds the e_k as float64 (from ``encode_with_integers``). The BLAS dot of
    d nonnegative terms is within a factor (1 +- gamma) of the exact sum, with
    gamma = (d + 1) u / (1 - (d + 1) u) and u = 2^-53 (Higham, "Accuracy and Stability of
    Numerical Algorithms", section 3.1); only a sum within 2 gamma of the bound is recomputed
    exactly in integers.
    """
    if integers.size == 0:
        return True
    u = 2.0**-53
    gamma = (integers.size + 1) * u / (1 - (integers.size + 1) * u)
    bound = 2.0**log2_bound
    flat = integers.reshape(-1)
    approx = float(np.dot(flat, flat))
    if approx <= bound * (1 - 2 * gamma):
        return True
    if approx >= bound * (1 + 2 * gamma):
        return False
    return sq_norm_encoded(encoded) < 1 << log2_bound


def encode_weights(weights: ArrayLike, *, weight_frac_bits: int = WEIGHT_FRAC_BITS) -> U64:
    """Implements C8.6: public weights P_i = round_half_even(p_i * 2^W) as ring elements."""
    return encode(weights, frac_bits=weight_frac_bits)
