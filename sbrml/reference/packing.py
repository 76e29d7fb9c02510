"""Signed fixed-point values packed into Paillier plaintexts (spec/14-packing.md).

BatchCrypt-style packing (Zhang et al., USENIX ATC 2020): k values per plaintext in slots of
b bits, each value offset to be nonnegative, with headroom for the sum of up to N packed
plaintexts; adding ciphertexts adds every slot at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sbrml.core.errors import EncodingError, ParameterError, ShapeError, shown
from sbrml.reference.ring import encode as ring_encode
from sbrml.reference.ring import to_signed


@dataclass(frozen=True)
class Packing:
    """Implements D14.1: the slot layout for a key of ``plaintext_bits`` bits.

    A value v is encoded as e = round(v 2^F) with |e| < B = 2^(F + I), offset to u = e + B in
    [1, 2B - 1], and slot j of a plaintext holds u_j at bit position j b. A sum of up to N
    packed plaintexts keeps every slot below 2^b because (2B - 1) N < 2^b.
    """

    plaintext_bits: int
    max_summands: int
    frac_bits: int = 16
    int_bits: int = 8

    def __post_init__(self) -> None:
        for name, value, low in (
            ("plaintext_bits", self.plaintext_bits, 16),
            ("max_summands", self.max_summands, 1),
            ("frac_bits", self.frac_bits, 0),
            ("int_bits", self.int_bits, 0),
        ):
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ParameterError("Packing", name, f"an int >= {low}", "C14.1", shown(value))
        if self.slot_bits > 62:
            raise ParameterError(
                "Packing",
                "max_summands",
                "slots of at most 62 bits",
                "C14.1",
                f"{self.slot_bits} bits for N={shown(self.max_summands)}",
            )
        if self.slots < 1:
            raise ParameterError(
                "Packing",
                "plaintext_bits",
                f"room for one slot of {self.slot_bits} bits",
                "C14.1",
                shown(self.plaintext_bits),
            )

    @property
    def bound(self) -> int:
        """B = 2^(F + I): encoded magnitudes are below B."""
        return 1 << (self.frac_bits + self.int_bits)

    @property
    def slot_bits(self) -> int:
        """b = bit length of (2B - 1) N, the largest slot sum (C14.3)."""
        return ((2 * self.bound - 1) * self.max_summands).bit_length()

    @property
    def slots(self) -> int:
        """k = floor((bits - 1) / b), so that a packed plaintext is below 2^(bits-1) <= n."""
        return (self.plaintext_bits - 1) // self.slot_bits

    def plaintext_count(self, length: int) -> int:
        """How many plaintexts hold ``length`` values."""
        return -(-length // self.slots)

    def offsets(self, values: Sequence[float]) -> list[int]:
        """C14.2: u = round(v 2^F) + B for each value; |round(v 2^F)| >= B raises, never wraps."""
        encoded = ring_encode(values, frac_bits=self.frac_bits)
        out = []
        for index, (v, e) in enumerate(zip(values, encoded, strict=True)):
            signed = to_signed(e)
            if not -self.bound < signed < self.bound:
                raise EncodingError(
                    "pack",
                    f"values[{index}]",
                    f"|round(v 2^{self.frac_bits})| < 2^{self.frac_bits + self.int_bits}",
                    "C14.2",
                    shown(v),
                )
            out.append(signed + self.bound)
        return out

    def pack(self, values: Sequence[float]) -> list[int]:
        """Implements P14.1: m = sum_j u_j 2^(j b); the last plaintext is padded with u = B (0)."""
        u = self.offsets(values)
        k, b = self.slots, self.slot_bits
        u += [self.bound] * (self.plaintext_count(len(u)) * k - len(u))
        return [sum(u[p * k + j] << (j * b) for j in range(k)) for p in range(len(u) // k)]

    def check_unpack(self, plaintexts: Sequence[int], count: int, length: int) -> None:
        """C14.3 and P14.2: 1 <= count <= N, ceil(length/k) plaintexts, no bits above k b."""
        if (
            isinstance(count, bool)
            or not isinstance(count, int)
            or not 1 <= count <= self.max_summands
        ):
            raise ParameterError(
                "unpack", "count", f"1 <= count <= N = {self.max_summands}", "C14.3", shown(count)
            )
        if len(plaintexts) != self.plaintext_count(length):
            raise ShapeError(
                "unpack",
                "plaintexts",
                f"{self.plaintext_count(length)} plaintexts for {length} values",
                "P14.2",
                f"{len(plaintexts)}",
            )
        if any(m >> (self.slots * self.slot_bits) for m in plaintexts):
            raise ShapeError(
                "unpack",
                "plaintexts",
                f"sums below 2^(k b) = 2^{self.slots * self.slot_bits} (C14.3 headroom)",
                "C14.3",
                "a slot overflowed: some summand was not an honest packing",
            )

    def unpack(self, plaintexts: Sequence[int], count: int, length: int) -> list[float]:
        """Implements P14.2: the sums of ``count`` packed vectors, decoded: sum_i v_i per slot.

        Raises unless 1 <= count <= N (C14.3) and the plaintexts hold ``length`` values.
        """
        self.check_unpack(plaintexts, count, length)
        k, b = self.slots, self.slot_bits
        mask = (1 << b) - 1
        scale = 1 << self.frac_bits
        out = []
        for m in plaintexts:
            for j in range(k):
                out.append(((m >> (j * b)) & mask) - count * self.bound)
        return [e / scale for e in out[:length]]
