"""Dealer-free Beaver material with gmpy2 (spec/15-paillier-triples.md); the reference's messages.

S0's encryptions use key-holder obfuscators (D13.4, it holds the key) and S1's mask
encryptions use precomputed obfuscators (C13.9); both draw in the reference's order, so the
ciphertexts, and hence the transcripts, are identical.
"""

from __future__ import annotations

from collections.abc import Sequence

import gmpy2
import numpy as np

from sbrml.optimized import paillier
from sbrml.optimized.beaver import GramShares, SquareShares, TripleShares, gram_sum
from sbrml.optimized.channel import Channel
from sbrml.optimized.processes import map_parts, split, worth_processes
from sbrml.optimized.randomness import RandomSource, ring_elements
from sbrml.optimized.ring import U64
from sbrml.reference.he_averaging import ciphertext_width, pack_ciphertexts, unpack_ciphertexts
from sbrml.reference.paillier import PrivateKey
from sbrml.reference.paillier_triples import (
    MASK,
    PaillierSetup,
    draw_masks,
    pack_slots,
    row_groups,
    slot_values,
)

__all__ = ["PaillierTripleProvider"]


def _window(terms: int, exponent_bits: int) -> int:
    # Bucket method cost: ceil(bits / c) passes of (terms + 2^(c+1)) products; pick the best c.
    return min(range(1, 17), key=lambda c: -(-exponent_bits // c) * (terms + (2 << c)))


def multi_exp(bases: list[gmpy2.mpz], exps: list[int], modulus: gmpy2.mpz) -> gmpy2.mpz:
    """prod_k bases[k]^exps[k] mod modulus by the bucket (Pippenger) method (P15.1 step 2).

    Each pass over a c-bit window of the exponents multiplies every base into the bucket of
    its digit, then folds the buckets as prod_b B_b^b with two running products; the passes
    are joined by c squarings. About (64/c)(d + 2^(c+1)) products instead of d exponentiations
    of about 80 products each. Exact: the result is the same residue as the direct product.
    """
    top = max(exps, default=0).bit_length()
    result = gmpy2.mpz(1)
    if top == 0:
        return result
    c = _window(len(bases), top)
    mask = (1 << c) - 1
    for shift in range(c * ((top - 1) // c), -1, -c):
        result = gmpy2.powmod(result, 1 << c, modulus)
        buckets: list[gmpy2.mpz | None] = [None] * (mask + 1)
        for base, e in zip(bases, exps, strict=True):
            digit = (e >> shift) & mask
            if digit:
                held = buckets[digit]
                buckets[digit] = base if held is None else held * base % modulus
        running: gmpy2.mpz | None = None
        total: gmpy2.mpz | None = None
        for digit in range(mask, 0, -1):
            held = buckets[digit]
            if held is not None:
                running = held if running is None else running * held % modulus
            if running is not None:
                total = running if total is None else total * running % modulus
        if total is not None:
            result = result * total % modulus
    return result


def _column_products(n2: int, job: tuple[list[int], list[list[int]]]) -> list[int]:
    """P15.1 step 2 on a slice of columns: prod_k Enc(P_gk)^(V_jk) mod n^2, for every j."""
    cts, v_rows = job
    modulus = gmpy2.mpz(n2)
    bases = [gmpy2.mpz(c) for c in cts]
    return [int(multi_exp(bases, vrow, modulus)) for vrow in v_rows]


def _group_products(n2: int, groups: Sequence[tuple[list[int], list[int]]]) -> list[int]:
    """P15.3 step 2 on a slice of groups: prod_t C_t^(v_t) mod n^2 for each group."""
    modulus = gmpy2.mpz(n2)
    return [int(multi_exp([gmpy2.mpz(c) for c in cts], vs, modulus)) for cts, vs in groups]


def _to_ring(values: list[int]) -> U64:
    return np.array([v & MASK for v in values], dtype=np.uint64)


class PaillierTripleProvider(PaillierSetup):
    """Implements D15.1 and P15.2 with gmpy2 and NumPy; set-up and checks are the reference's.

    The encryptions, S1's products and S0's decryptions run over at most ``processes``
    worker processes (C0.2, default 1); the shares and the transcript do not depend on it.
    """

    keygen = staticmethod(paillier.generate_keypair)

    def _encrypt(
        self, values: list[int], rng: RandomSource, private: PrivateKey | None
    ) -> list[int]:
        # D15.1: the option's short-exponent obfuscators (D13.5) for both servers; else the
        # key holder's (D13.4) for S0 and C13.3's r (C13.9) for S1; all in the reference's order.
        procs = worth_processes(self.processes, len(values))
        if self.base is not None:
            obf = paillier.short_exponent_obfuscators(
                self.public, self.base, len(values), rng=rng, processes=procs
            )
        elif private is not None:
            obf = paillier.key_holder_obfuscators(private, len(values), rng=rng, processes=procs)
        else:
            obf = paillier.obfuscators(self.public, len(values), rng=rng, processes=procs)
        return [
            paillier.encrypt_with_obfuscator(self.public, m, o)
            for m, o in zip(values, obf, strict=True)
        ]

    def _encrypt_s0(self, values: list[int]) -> list[int]:
        return self._encrypt(values, self._s0, self._private)

    def _encrypt_s1(self, values: list[int]) -> list[int]:
        return self._encrypt(values, self._s1, None)

    def _finish(self, masked: list[int], channel: Channel) -> list[int]:
        """P15.1 step 3: S1 sends the masked products; S0 validates them and decrypts."""
        payload = pack_ciphertexts(masked, ciphertext_width(self.public))
        channel.send("S1", "S0", "offline/cross-masked", payload)
        received = unpack_ciphertexts("PaillierTripleProvider", self.public, payload, len(masked))
        procs = worth_processes(self.processes, len(received))
        return paillier.decrypt_many(self._private, received, processes=procs)

    def cross(self, u: U64, v: U64, *, channel: Channel) -> tuple[U64, U64]:
        """Implements P15.1: shares of U V^T mod 2^64 (packed row groups, bucket method)."""
        self._send_key(channel)
        rows, d = u.shape
        cols = v.shape[0]
        bits, slot, slots = self.slot_layout(max(d, 1))
        groups = row_groups(rows, slots)
        u_list = u.tolist()
        enc_u = self._encrypt_s0(
            [pack_slots([u_list[i][k] for i in group], slot) for group in groups for k in range(d)]
        )
        channel.send(
            "S0", "S1", "offline/cross-enc", pack_ciphertexts(enc_u, ciphertext_width(self.public))
        )
        rho = draw_masks(self._s1, rows * cols, bits)
        enc_rho = self._encrypt_s1(
            [
                pack_slots([rho[i * cols + j] for i in group], slot)
                for group in groups
                for j in range(cols)
            ]
        )
        n2 = self.public.n_squared
        # The columns are cut into one slice per process; each returns its partial products.
        parts = worth_processes(self.processes, len(groups) * cols * d)
        size = max(1, -(-d // parts))
        jobs = [
            (enc_u[g * d + k0 : g * d + min(k0 + size, d)], v[:, k0 : k0 + size].tolist())
            for g in range(len(groups))
            for k0 in range(0, max(d, 1), size)
        ]
        partial = map_parts(_column_products, n2, jobs, parts)
        slices = len(jobs) // len(groups)
        modulus = gmpy2.mpz(n2)
        masked = []
        for g in range(len(groups)):
            for j in range(cols):
                acc = gmpy2.mpz(enc_rho[g * cols + j])
                for part in partial[g * slices : (g + 1) * slices]:
                    acc = acc * part[j] % modulus
                masked.append(int(acc))
        t = self._finish(masked, channel)
        share0 = np.zeros((rows, cols), dtype=np.uint64)
        for g, group in enumerate(groups):
            for j in range(cols):
                share0[group.start : group.stop, j] = _to_ring(
                    slot_values(t[g * cols + j], slot, len(group))
                )
        share1 = _to_ring([-r for r in rho]).reshape(rows, cols)
        return share0, share1

    def _elementwise(self, u: U64, v: U64, channel: Channel) -> tuple[U64, U64]:
        """Implements P15.3 (the reference's messages); the group products over processes."""
        bits, slot, slots = self.slot_layout(1)
        groups = row_groups(len(u), slots)
        u_list, v_list = u.tolist(), v.tolist()
        enc = self._encrypt_s0([u_list[t] << (slot * (t - g.start)) for g in groups for t in g])
        channel.send(
            "S0", "S1", "offline/cross-enc", pack_ciphertexts(enc, ciphertext_width(self.public))
        )
        rho = draw_masks(self._s1, len(enc), bits)
        enc_rho = self._encrypt_s1([pack_slots([rho[t] for t in g], slot) for g in groups])
        pairs = [([enc[t] for t in g], [v_list[t] for t in g]) for g in groups]
        parts = worth_processes(self.processes, len(enc))
        jobs = split(pairs, parts)
        products = [
            x
            for part in map_parts(_group_products, self.public.n_squared, jobs, parts)
            for x in part
        ]
        n2 = gmpy2.mpz(self.public.n_squared)
        masked = [int(gmpy2.mpz(r) * p % n2) for r, p in zip(enc_rho, products, strict=True)]
        t = self._finish(masked, channel)
        values = [x for g, m in zip(groups, t, strict=True) for x in slot_values(m, slot, len(g))]
        return _to_ring(values), _to_ring([-r for r in rho])

    def scalar_triples(self, count: int, *, channel: Channel) -> tuple[TripleShares, TripleShares]:
        """P15.2 (a)."""
        self._send_key(channel)
        a0, b0 = ring_elements(self._s0, count), ring_elements(self._s0, count)
        a1, b1 = ring_elements(self._s1, count), ring_elements(self._s1, count)
        x0, x1 = self._elementwise(a0, b1, channel)
        y0, y1 = self._elementwise(b0, a1, channel)
        return TripleShares(a0, b0, a0 * b0 + x0 + y0), TripleShares(a1, b1, a1 * b1 + x1 + y1)

    def square_pairs(self, count: int, *, channel: Channel) -> tuple[SquareShares, SquareShares]:
        """P15.2 (b)."""
        self._send_key(channel)
        a0, a1 = ring_elements(self._s0, count), ring_elements(self._s1, count)
        x0, x1 = self._elementwise(a0, a1, channel)
        two = np.uint64(2)
        return SquareShares(a0, a0 * a0 + two * x0), SquareShares(a1, a1 * a1 + two * x1)

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]:
        """P15.2 (c)."""
        self._send_key(channel)
        a0 = ring_elements(self._s0, rows * cols).reshape(rows, cols)
        a1 = ring_elements(self._s1, rows * cols).reshape(rows, cols)
        m0, m1 = self.cross(a0, a1, channel=channel)
        c0 = gram_sum(a0, None, a0, None) + m0 + m0.T
        c1 = gram_sum(a1, None, a1, None) + m1 + m1.T
        return GramShares(a0, c0), GramShares(a1, c1)
