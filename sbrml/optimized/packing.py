"""Packing on NumPy (spec/14-packing.md): the reference's layout, vectorised bit by bit."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.errors import EncodingError
from sbrml.optimized.ring import as_real_array, encode, to_signed
from sbrml.reference.packing import Packing as ReferencePacking

__all__ = ["Packing"]


class Packing(ReferencePacking):
    """Implements D14.1, P14.1 and P14.2 with NumPy; same plaintexts as the reference."""

    def offsets_array(self, values: ArrayLike) -> NDArray[np.int64]:
        """C14.2: u = round(v 2^F) + B, raising on |round(v 2^F)| >= B."""
        # Element by element for a list, as the reference reads it (C1.6): a bool or a string
        # is refused, not converted.
        arr = as_real_array("encode", "values", values, frac_bits=self.frac_bits).reshape(-1)
        signed = to_signed(encode(arr, frac_bits=self.frac_bits))
        # In int64, np.abs(-2^63) is -2^63 itself; read as uint64 it is 2^63.
        bad = np.abs(signed).view(np.uint64) >= self.bound
        if bad.any():
            index = int(np.argmax(bad))
            raise EncodingError(
                "pack",
                f"values[{index}]",
                f"|round(v 2^{self.frac_bits})| < 2^{self.frac_bits + self.int_bits}",
                "C14.2",
                repr(float(arr[index])),
            )
        return signed + self.bound

    def pack(self, values: Sequence[float] | ArrayLike) -> list[int]:
        """P14.1: slots of b bits, little-endian bit order, read as one int per plaintext."""
        u = self.offsets_array(values)
        k, b = self.slots, self.slot_bits
        count = self.plaintext_count(u.size)
        padded = np.full(count * k, self.bound, dtype=np.uint64)
        padded[: u.size] = u
        bits = np.unpackbits(
            padded.astype("<u8").view(np.uint8).reshape(count, k, 8), axis=2, bitorder="little"
        )[:, :, :b]
        packed = np.packbits(bits.reshape(count, k * b), axis=1, bitorder="little")
        return [int.from_bytes(row.tobytes(), "little") for row in packed]

    def unpack(self, plaintexts: Sequence[int], count: int, length: int) -> list[float]:
        """P14.2 and C14.3, vectorised; returns a float64 array of the decoded sums."""
        self.check_unpack(plaintexts, count, length)
        k, b = self.slots, self.slot_bits
        width = -(-(k * b) // 8)
        raw = np.frombuffer(
            b"".join(m.to_bytes(width, "little") for m in plaintexts), dtype=np.uint8
        )
        bits = np.unpackbits(raw.reshape(len(plaintexts), width), axis=1, bitorder="little")
        slots = np.zeros((len(plaintexts), k, 64), dtype=np.uint8)
        slots[:, :, :b] = bits[:, : k * b].reshape(len(plaintexts), k, b)
        sums = np.packbits(slots, axis=2, bitorder="little").view("<u8").reshape(-1)[:length]
        result = (sums.astype(np.int64) - count * self.bound) / float(1 << self.frac_bits)
        return result  # type: ignore[return-value]
