"""Flower records as the vectors sbrml aggregates, and back (issue 17).

A model travels in Flower as an ``ArrayRecord``: named arrays in order. sbrml aggregates rows
``x_i`` of ``R^d`` (D8.1). ``Template`` is the global model's layout (names, shapes, dtypes, in
order); ``flatten`` concatenates a record's arrays, each raveled in C order, into one float64
vector, and ``unflatten`` cuts a vector back into arrays of the template's shapes and dtypes.
A reply whose arrays differ from the template (another name, order or shape), hold a
non-number, NaN or infinity, or carry bytes that contradict their declared shape or dtype is
refused here with a ``SpecError``, never NumPy's errors, so that the strategy can exclude it
and go on.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, MetricRecord, RecordDict
from numpy.typing import NDArray

from sbrml.core.errors import EncodingError, ShapeError, shown

F64 = NDArray[np.float64]

__all__ = [
    "CONFIG_PREFIX",
    "METRICS_KEY",
    "SHARES_KEY",
    "Template",
    "update_record",
]

# The keys sbrml adds to Flower's records: the train instruction's ConfigRecord entries start
# with CONFIG_PREFIX; a two-server reply carries its sealed shares in the ConfigRecord SHARES_KEY
# (entries "S0" and "S1"); every reply of sbrml's client piece has the MetricRecord METRICS_KEY.
CONFIG_PREFIX = "sbrml-"
SHARES_KEY = "sbrml-shares"
METRICS_KEY = "metrics"


@dataclass(frozen=True)
class Template:
    """The layout of the global model's ``ArrayRecord``: names, shapes and dtypes, in order."""

    keys: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]
    dtypes: tuple[str, ...]

    @classmethod
    def of(cls, arrays: ArrayRecord) -> Template:
        """The template of ``arrays``; raises ``ShapeError`` (D8.1) for an empty record or a
        non-numeric array."""
        if not isinstance(arrays, ArrayRecord) or not len(arrays):
            raise ShapeError(
                "Template.of", "arrays", "a non-empty ArrayRecord", "D8.1", shown(arrays)
            )
        for key, array in arrays.items():
            if _kind(array.dtype) not in "iuf":
                raise ShapeError(
                    "Template.of", "arrays", "numeric arrays", "D8.1", f"{key!r}: {array.dtype}"
                )
        return cls(
            tuple(arrays.keys()),
            tuple(tuple(int(s) for s in a.shape) for a in arrays.values()),
            tuple(str(a.dtype) for a in arrays.values()),
        )

    @property
    def dim(self) -> int:
        """``d``: the number of parameters."""
        return sum(int(np.prod(shape, dtype=np.int64)) for shape in self.shapes)

    def flatten(self, arrays: ArrayRecord, function: str = "flatten") -> F64:
        """One float64 vector of length ``d``: the arrays raveled in C order, in order.

        Raises ``ShapeError`` (D8.1) when the names, their order or a shape differ from the
        template's, an array is not numeric (a bool, a string, an unknown dtype), or its bytes
        do not decode to the shape and dtype it declares (a sender controls both: Flower's
        ``Array`` does not check them against each other); ``EncodingError`` (C1.1) for a NaN
        or an infinity (the message never says which value, C0.1).
        """
        if not isinstance(arrays, ArrayRecord):
            raise ShapeError(function, "arrays", "an ArrayRecord", "D8.1", type(arrays).__name__)
        keys = tuple(arrays.keys())
        if keys != self.keys:
            raise ShapeError(
                function, "arrays", f"the arrays {list(self.keys)}", "D8.1", f"{list(keys)}"
            )
        parts = []
        for key, shape in zip(self.keys, self.shapes, strict=True):
            array = arrays[key]
            got = tuple(int(s) for s in array.shape)
            if got != shape:
                raise ShapeError(
                    function, "arrays", f"{key!r} of shape {shape}", "D8.1", f"shape {got}"
                )
            if _kind(array.dtype) not in "iuf":
                raise ShapeError(
                    function, "arrays", f"{key!r} of a numeric dtype", "D8.1", _short(array.dtype)
                )
            parts.append(np.asarray(_decoded(function, key, array), dtype=np.float64).ravel())
        vector = np.concatenate(parts)
        if not np.isfinite(vector).all():
            raise EncodingError(function, "arrays", "finite values", "C1.1", "a NaN or an infinity")
        return vector

    def unflatten(self, vector: F64) -> ArrayRecord:
        """The arrays of the template's names, shapes and dtypes cut from ``vector``."""
        values = np.asarray(vector)
        if values.shape != (self.dim,):
            raise ShapeError(
                "unflatten", "vector", f"a vector of length {self.dim}", "D8.1", str(values.shape)
            )
        out = ArrayRecord()
        start = 0
        for key, shape, dtype in zip(self.keys, self.shapes, self.dtypes, strict=True):
            size = int(np.prod(shape, dtype=np.int64))
            out[key] = Array(np.asarray(values[start : start + size].reshape(shape), dtype=dtype))
            start += size
        return out


def _kind(dtype: object) -> str:
    """NumPy's kind of a declared dtype ("?" for a name NumPy does not know)."""
    try:
        return np.dtype(dtype).kind  # type: ignore[call-overload, no-any-return]
    except (TypeError, ValueError):
        return "?"


def _short(value: object) -> str:
    """A sender's string as an error shows it: at most 40 characters."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:40]}..."


def _check_header(array: Array, shape: tuple[int, ...]) -> None:
    """Read the ``.npy`` header of ``array``'s bytes before NumPy allocates anything: its shape
    must be the declared one and the data exactly that many items, so that a header declaring
    a huge shape cannot make the reader allocate it."""
    stream = io.BytesIO(bytes(array.data))
    version = np.lib.format.read_magic(stream)
    if version == (1, 0):
        header_shape, _, dtype = np.lib.format.read_array_header_1_0(stream)
    else:
        header_shape, _, dtype = np.lib.format.read_array_header_2_0(stream)
    items = math.prod(int(s) for s in header_shape)
    body = len(array.data) - stream.tell()
    if tuple(header_shape) != shape or dtype.hasobject or body != items * dtype.itemsize:
        raise ValueError("the .npy header contradicts the declared shape or the data's length")


def _decoded(function: str, key: str, array: Array) -> NDArray[np.generic]:
    """The values of ``array``, which must be the ``.npy`` bytes of its declared shape and
    dtype; a sender's other bytes raise ``ShapeError`` (D8.1) here, not NumPy's errors."""
    shape = tuple(int(s) for s in array.shape)
    try:
        _check_header(array, shape)
        values = np.asarray(array.numpy())
    except Exception as err:
        # Any failure to read a sender's bytes excludes that sender: np.load raises ValueError
        # on pickles and garbage, EOFError on no data, Array.numpy TypeError on another stype.
        raise ShapeError(
            function, "arrays", f"{key!r} as the .npy bytes of a NumPy array", "D8.1", "other bytes"
        ) from err
    if values.shape != shape or values.dtype != np.dtype(array.dtype):
        raise ShapeError(
            function,
            "arrays",
            f"{key!r}'s bytes of its declared shape {shape} and dtype {array.dtype}",
            "D8.1",
            f"bytes of shape {values.shape} and dtype {_short(values.dtype)}",
        )
    return values


def update_record(
    arrays: ArrayRecord | None,
    shares: ConfigRecord | None,
    metrics: MetricRecord,
    *,
    arrays_key: str = "arrays",
) -> RecordDict:
    """A train reply's content: the update (or its sealed shares) and the metrics."""
    content = RecordDict({METRICS_KEY: metrics})
    if arrays is not None:
        content[arrays_key] = arrays
    if shares is not None:
        content[SHARES_KEY] = shares
    return content
