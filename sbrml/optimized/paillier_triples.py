"""Dealer-free Beaver material with gmpy2 (spec/15-paillier-triples.md); the reference's messages.

S0's encryptions use obfuscators precomputed by CRT (it holds the key) and S1's mask
encryptions use obfuscators too; both draw r in the reference's order, so the ciphertexts,
and hence the transcripts, are identical.
"""

from __future__ import annotations

import os
from concurrent.futures import ProcessPoolExecutor

import gmpy2
import numpy as np

from sbrml.optimized import paillier
from sbrml.optimized.beaver import GramShares, SquareShares, TripleShares, gram_sum
from sbrml.optimized.channel import Channel
from sbrml.optimized.randomness import ring_elements
from sbrml.optimized.ring import U64
from sbrml.reference.he_averaging import ciphertext_width, pack_ciphertexts, unpack_ciphertexts
from sbrml.reference.paillier_triples import MASK, PaillierSetup, draw_masks

__all__ = ["PaillierTripleProvider"]


PROCESSES = min(2, os.cpu_count() or 1)


def _processes(work: int) -> int:
    # A process pool pays off only for a few hundred big-number operations or more.
    return PROCESSES if work >= 256 else 1


def _row_products(job: tuple[list[int], list[list[int]], list[int], int]) -> list[int]:
    """P15.1 step 2 for one row i: Enc(rho_ij) prod_k Enc(U_ik)^(V_jk) mod n^2, for every j."""
    row, v_rows, enc_rho, n2 = job
    modulus = gmpy2.mpz(n2)
    cts = [gmpy2.mpz(c) for c in row]
    out = []
    for vrow, masked in zip(v_rows, enc_rho, strict=True):
        acc = gmpy2.mpz(masked)
        for c, vk in zip(cts, vrow, strict=True):
            acc = acc * gmpy2.powmod(c, vk, modulus) % modulus
        out.append(int(acc))
    return out


def _to_ring(values: list[int]) -> U64:
    return np.array([v & MASK for v in values], dtype=np.uint64)


class PaillierTripleProvider(PaillierSetup):
    """Implements D15.1 and P15.2 with gmpy2 and NumPy; set-up and checks are the reference's."""

    keygen = staticmethod(paillier.generate_keypair)

    def _encrypt_s0(self, values: list[int]) -> list[int]:
        obf = paillier.obfuscators(
            self.public,
            len(values),
            rng=self._s0,
            private=self._private,
            processes=_processes(len(values)),
        )
        return [
            paillier.encrypt_with_obfuscator(self.public, m, o)
            for m, o in zip(values, obf, strict=True)
        ]

    def _encrypt_s1(self, values: list[int]) -> list[int]:
        obf = paillier.obfuscators(
            self.public, len(values), rng=self._s1, processes=_processes(len(values))
        )
        return [
            paillier.encrypt_with_obfuscator(self.public, m, o)
            for m, o in zip(values, obf, strict=True)
        ]

    def _finish(
        self, masked: list[int], rho: list[int], channel: Channel
    ) -> tuple[list[int], list[int]]:
        payload = pack_ciphertexts(masked, ciphertext_width(self.public))
        channel.send("S1", "S0", "offline/cross-masked", payload)
        received = unpack_ciphertexts("PaillierTripleProvider", self.public, payload, len(masked))
        t = paillier.decrypt_many(self._private, received)
        return t, [-r for r in rho]

    def cross(self, u: U64, v: U64, *, channel: Channel) -> tuple[U64, U64]:
        """Implements P15.1: shares of U V^T mod 2^64."""
        self._send_key(channel)
        rows, d = u.shape
        cols = v.shape[0]
        bits = self._check_room(max(d, 1))
        enc_u = self._encrypt_s0([int(x) for x in u.reshape(-1).tolist()])
        channel.send(
            "S0", "S1", "offline/cross-enc", pack_ciphertexts(enc_u, ciphertext_width(self.public))
        )
        rho = draw_masks(self._s1, rows * cols, bits)
        enc_rho = self._encrypt_s1(rho)
        n2 = self.public.n_squared
        v_list = v.tolist()
        jobs = [
            (enc_u[i * d : (i + 1) * d], v_list, enc_rho[i * cols : (i + 1) * cols], n2)
            for i in range(rows)
        ]
        if _processes(rows * cols * d) > 1 and rows > 1:
            with ProcessPoolExecutor(max_workers=PROCESSES) as pool:
                parts = list(pool.map(_row_products, jobs))
        else:
            parts = [_row_products(job) for job in jobs]
        masked = [c for part in parts for c in part]
        t, neg_rho = self._finish(masked, rho, channel)
        return _to_ring(t).reshape(rows, cols), _to_ring(neg_rho).reshape(rows, cols)

    def _elementwise(self, u: U64, v: U64, channel: Channel) -> tuple[U64, U64]:
        bits = self._check_room(1)
        enc = self._encrypt_s0([int(x) for x in u.tolist()])
        channel.send(
            "S0", "S1", "offline/cross-enc", pack_ciphertexts(enc, ciphertext_width(self.public))
        )
        rho = draw_masks(self._s1, len(enc), bits)
        enc_rho = self._encrypt_s1(rho)
        n2 = gmpy2.mpz(self.public.n) ** 2
        masked = [
            int(gmpy2.mpz(r) * gmpy2.powmod(c, int(y), n2) % n2)
            for c, y, r in zip(enc, v.tolist(), enc_rho, strict=True)
        ]
        t, neg_rho = self._finish(masked, rho, channel)
        return _to_ring(t), _to_ring(neg_rho)

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
