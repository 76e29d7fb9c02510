"""Implementations the kit's tests check: the trees wrapped as a user would, python-paillier,
and deliberately wrong ones (each wrong in one way the kit must name)."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
from phe import paillier as phe

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.optimized import paillier as opt_paillier
from sbrml.reference import paillier as ref_paillier

Matrix = list[list[int]]
F64 = np.ndarray


def krum(f: int, offset: int) -> Callable[[F64], F64]:
    """Krum in NumPy, each score over the n - f - ``offset`` nearest neighbours (2: D6.3,
    Blanchard's; 1: ByzFL's, C6.6; 3: plain off by one)."""

    def run(x: F64) -> F64:
        n = len(x)
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
        scores = np.sort(d, axis=1)[:, 1 : n - f - offset + 1].sum(axis=1)
        return np.asarray(x[int(np.argmin(scores))])

    return run


def krum_weights(f: int, offset: int) -> Callable[[Any], list[float]]:
    """Krum's weights on D, scores over n - f - ``offset`` neighbours."""

    def run(d: Any) -> list[float]:
        arr = np.asarray(d, dtype=np.float64)
        n = len(arr)
        scores = np.sort(arr, axis=1)[:, 1 : n - f - offset + 1].sum(axis=1)
        best = int(np.argmin(scores))
        return [1.0 if i == best else 0.0 for i in range(n)]

    return run


def system_share(tree: ModuleType) -> Callable[[Any], Any]:
    """The tree's P3.1 with fresh OS randomness, as a user's sharing draws its own."""
    return lambda x: tree.share(x, rng=tree.SystemRandomSource())


def biased_share(x: list[int]) -> tuple[list[int], list[int]]:
    """Correct reconstruction, but r below 2^62: share0's top byte is never above 0x3f."""
    r = [int.from_bytes(os.urandom(8), "little") >> 2 for _ in x]
    return r, [(v - a) % 2**64 for v, a in zip(x, r, strict=True)]


def lossy_share(x: list[int]) -> tuple[list[int], list[int]]:
    """Uniform shares that reconstruct x + 1 wherever x is odd."""
    r = [int.from_bytes(os.urandom(8), "little") for _ in x]
    return r, [(v - a + (v & 1)) % 2**64 for v, a in zip(x, r, strict=True)]


def gram_protocol(tree: ModuleType, variant: str = "gram") -> Callable[[Any, Any], Any]:
    """The tree's P5.1 (or P5.2) with its dealer, as a two-server distance protocol."""

    def run(x0: Any, x1: Any) -> Any:
        dealer = tree.Dealer(rng=tree.SystemRandomSource())
        channel = tree.Channel()
        n, d = len(x0), len(x0[0])
        if variant == "gram":
            material = dealer.gram_triple(n, d, channel=channel)
            return tree.secure_sq_distances_gram((x0, x1), material, channel=channel)
        squares = dealer.square_pairs(n * (n - 1) // 2 * d, channel=channel)
        return tree.secure_sq_distances_pairwise((x0, x1), squares, channel=channel)

    return run


def distances_off_by_one(x0: Matrix, x1: Matrix) -> tuple[Matrix, Matrix]:
    """P5.1, then D_01 (and D_10) one too large in S0's share."""
    d0, d1 = gram_protocol(ref)(x0, x1)
    if len(d0) > 1:
        d0[0][1] = (d0[0][1] + 1) % 2**64
        d0[1][0] = (d0[1][0] + 1) % 2**64
    return d0, d1


def phe_encrypt(n: int, m: int, r: int) -> int:
    """python-paillier's raw layer with the given r (g = n + 1, as D13.2)."""
    return int(phe.PaillierPublicKey(n).raw_encrypt(m, r_value=r))


def phe_decrypt(p: int, q: int, c: int) -> int:
    key = phe.PaillierPrivateKey(phe.PaillierPublicKey(p * q), p, q)
    return int(key.raw_decrypt(c))


def tree_encrypt(module: ModuleType) -> Callable[[int, int, int], int]:
    """A tree's D13.2 with the given r (its ``paillier`` module)."""

    def run(n: int, m: int, r: int) -> int:
        return int(module.encrypt_with(module.PublicKey(n, n.bit_length()), m, r))

    return run


def wrong_encrypt(n: int, m: int, r: int) -> int:
    """r^(n-1) where D13.2 has r^n: not an n-th residue, so it decrypts to garbage."""
    return (1 + m * n) * pow(r, n - 1, n * n) % (n * n)


def wrong_add(n: int, c1: int, c2: int) -> int:
    """c1 + c2 where D13.3 multiplies."""
    return (c1 + c2) % (n * n)


def wrong_decrypt(p: int, q: int, c: int) -> int:
    """Off by one."""
    return (phe_decrypt(p, q, c) + 1) % (p * q)


def fixed_r_encrypt(n: int, m: int) -> int:
    """Deterministic: always r = 1 (C13.3 asks for fresh r)."""
    return (1 + m * n) % (n * n)


def fresh_encrypt(n: int, m: int) -> int:
    """The reference's encryption with r drawn from the OS (C13.3)."""
    public = ref_paillier.PublicKey(n, n.bit_length())
    return ref_paillier.encrypt(public, m, rng=ref.SystemRandomSource())


TREES = {"reference": ref, "optimized": opt}
PAILLIER = {"reference": ref_paillier, "optimized": opt_paillier}


def mean_beyond(rule: Callable[[F64], F64], n: int, d: int) -> Callable[[F64], F64]:
    """``rule`` on inputs of at most ``n`` rows and ``d`` coordinates, the plain mean beyond:
    wrong only on inputs larger than the kit once drew."""

    def run(x: F64) -> F64:
        return rule(x) if x.shape[0] <= n and x.shape[1] <= d else np.asarray(x.mean(axis=0))

    return run


def krum_ties_to_the_last(f: int) -> Callable[[F64], F64]:
    """Blanchard's Krum, but among equal scores the higher index wins (C6.4: the lower)."""

    def run(x: F64) -> F64:
        n = len(x)
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
        scores = np.sort(d, axis=1)[:, 1 : n - f - 1].sum(axis=1)
        return np.asarray(x[n - 1 - int(np.argmin(scores[::-1]))])

    return run


def krum_weights_ties_to_the_last(f: int) -> Callable[[Any], list[float]]:
    """Krum's weights on D, but among equal scores the higher index wins (C6.4: the lower)."""

    def run(d: Any) -> list[float]:
        arr = np.asarray(d, dtype=np.float64)
        n = len(arr)
        scores = np.sort(arr, axis=1)[:, 1 : n - f - 1].sum(axis=1)
        best = n - 1 - int(np.argmin(scores[::-1]))
        return [1.0 if i == best else 0.0 for i in range(n)]

    return run


def uniform_weights_beyond(weights: Callable[[Any], list[float]], n: int) -> Callable[[Any], Any]:
    """``weights`` on matrices of at most ``n`` rows, ``1/n`` everywhere beyond."""

    def run(d: Any) -> Any:
        size = len(d)
        return weights(d) if size <= n else [1.0 / size] * size

    return run


def small_r_encrypt(kind: str) -> Callable[[int, int], int]:
    """D13.2 with a bad r (C13.3 asks for r uniform in Z*_n): ``cycle`` 1, 2, 3, 1, 2, 3, ...;
    ``16-bit`` r below 2^16; ``64-bit`` r below 2^64 whatever the key's size."""
    calls = [0]

    def run(n: int, m: int) -> int:
        calls[0] += 1
        if kind == "cycle":
            r = 1 + calls[0] % 3
        else:
            bits = 16 if kind == "16-bit" else 64
            r = 1 + int.from_bytes(os.urandom(8), "little") % (2**bits - 1)
        return (1 + m * n) * pow(r, n, n * n) % (n * n)

    return run


def _reshared(x0: Any, x1: Any, mask: Callable[[], int]) -> tuple[Matrix, Matrix]:
    """The reference's D, reconstructed, then shared again as ``(D - r, r)``, ``r = mask()``
    per entry pair (symmetric, zero diagonal): a protocol whose S0 sees D when r = 0."""
    d0, d1 = gram_protocol(ref)(x0, x1)
    n = len(d0)
    plain = [
        [(a + b) % 2**64 for a, b in zip(r0, r1, strict=True)]
        for r0, r1 in zip(d0, d1, strict=True)
    ]
    r = [[0] * n for _ in range(n)]
    for i in range(n):
        for j in range(i + 1, n):
            r[i][j] = r[j][i] = mask()
    return [[(plain[i][j] - r[i][j]) % 2**64 for j in range(n)] for i in range(n)], r


def distances_to_s0(x0: Matrix, x1: Matrix) -> tuple[Matrix, Matrix]:
    """Correct D, all of it in S0's share (S1's is zero)."""
    return _reshared(x0, x1, lambda: 0)


def distances_with_small_masks(x0: Matrix, x1: Matrix) -> tuple[Matrix, Matrix]:
    """Correct D, S1's share below 2^32: S0's share is D minus a small number."""
    return _reshared(x0, x1, lambda: 1 + int.from_bytes(os.urandom(4), "little"))


def distances_wrong_beyond(n: int, d: int) -> Callable[[Matrix, Matrix], Any]:
    """P5.1 on at most ``n`` rows of ``d`` coordinates, off by one beyond."""

    def run(x0: Matrix, x1: Matrix) -> Any:
        if len(x0) <= n and len(x0[0]) <= d:
            return gram_protocol(ref)(x0, x1)
        return distances_off_by_one(x0, x1)

    return run
