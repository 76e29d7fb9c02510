"""The kit catches the sharings and distance protocols of the second adversarial review
(issue 17): leaks on non-constant secrets or some lengths, masks of 16 bits of entropy, a
share of D leaking on small inputs, on its diagonal or through masks r_i + r_j; and it
passes a correct protocol at any F."""

from __future__ import annotations

import hashlib
import math
import secrets
from typing import Any

import pytest

import sbrml.reference as ref
from sbrml.testing.checks import (
    ConformanceError,
    check_distance_protocol,
    check_paillier,
    check_sharing,
)
from tests.testing.implementations import gram_protocol

M = 2**64


def _masked(x: list[int]) -> tuple[list[int], list[int]]:
    r = [secrets.randbits(64) for _ in x]
    return r, [(v - a) % M for v, a in zip(x, r, strict=True)]


def leaks_non_constant(x: list[int]) -> tuple[list[int], list[int]]:
    """S1 gets x in the clear whenever x is not constant."""
    return ([0] * len(x), list(x)) if len(set(x)) > 1 else _masked(x)


def leaks_short(x: list[int]) -> tuple[list[int], list[int]]:
    """S1 gets x in the clear unless x has 256 entries."""
    return ([0] * len(x), list(x)) if len(x) != 256 else _masked(x)


def sixteen_bits(x: list[int]) -> tuple[list[int], list[int]]:
    """Masks from a hash of 16 random bits per call: uniform-looking, but they repeat."""
    seed = secrets.randbits(16)
    r = [int.from_bytes(hashlib.sha256(f"{seed}/{k}".encode()).digest()[:8]) for k in range(len(x))]
    return r, [(v - a) % M for v, a in zip(x, r, strict=True)]


@pytest.mark.spec("C3.2")
@pytest.mark.parametrize("share", [leaks_non_constant, leaks_short, sixteen_bits])
def test_a_share_leaking_or_of_low_entropy_fails(share: Any) -> None:
    with pytest.raises(ConformanceError, match=r"C3\.2"):
        check_sharing(share, examples=5)


def _plain_d(x0: list[list[int]], x1: list[list[int]]) -> list[list[int]]:
    def signed(v: int) -> int:
        return v - M if v >= 2**63 else v

    x = [
        [signed((a + b) % M) for a, b in zip(r0, r1, strict=True)]
        for r0, r1 in zip(x0, x1, strict=True)
    ]
    return [[sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) % M for q in x] for p in x]


def _split(d: list[list[int]]) -> tuple[list[list[int]], list[list[int]]]:
    r = [[secrets.randbits(64) for _ in row] for row in d]
    return r, [
        [(v - a) % M for v, a in zip(row, rr, strict=True)] for row, rr in zip(d, r, strict=True)
    ]


def d_to_s0_when_small(x0: Any, x1: Any) -> Any:
    """S0 gets D + 1 on Hypothesis's sizes (n, d <= 8)."""
    d = _plain_d(x0, x1)
    n = len(d)
    if n <= 8 and len(x0[0]) <= 8:
        return [[(v + 1) % M for v in row] for row in d], [[M - 1] * n for _ in range(n)]
    return _split(d)


def norms_on_the_diagonal(x0: Any, x1: Any) -> Any:
    """Correct off the diagonal; S0's diagonal holds each ||x_i||^2."""
    d0, d1 = _split(_plain_d(x0, x1))
    zero = [[0] * len(x0[0])]
    for i in range(len(d0)):
        d0[i][i] = _plain_d([x0[i], zero[0]], [x1[i], zero[0]])[0][1]
        d1[i][i] = (-d0[i][i]) % M
    return d0, d1


def rank_two_masks(x0: Any, x1: Any) -> Any:
    """S0's share of D_ij is r_i + r_j: each entry uniform, S1 learns D's cross sums."""
    d = _plain_d(x0, x1)
    n = len(d)
    r = [secrets.randbits(64) for _ in range(n)]
    d0 = [[(r[i] + r[j]) % M if i != j else 0 for j in range(n)] for i in range(n)]
    return d0, [[(d[i][j] - d0[i][j]) % M for j in range(n)] for i in range(n)]


@pytest.mark.spec("C5.4")
@pytest.mark.parametrize("protocol", [d_to_s0_when_small, norms_on_the_diagonal, rank_two_masks])
def test_a_distance_protocol_leaking_through_its_shares_fails(protocol: Any) -> None:
    with pytest.raises(ConformanceError, match=r"C5\.4"):
        check_distance_protocol(protocol, examples=5)


@pytest.mark.spec("C5.2")
@pytest.mark.parametrize("frac_bits", [0, 30, 40])
def test_a_correct_protocol_passes_at_any_frac_bits(frac_bits: int) -> None:
    check_distance_protocol(gram_protocol(ref), frac_bits=frac_bits, examples=5)


def _enc(n: int, m: int, r: int) -> int:
    return (1 + m * n) * pow(r, n, n * n) % (n * n)


def counter_r(start: int) -> Any:
    """r = n // 2 + a counter: never repeated, never small, and known to everyone."""
    calls = [start]

    def run(n: int, m: int) -> int:
        while True:
            calls[0] += 1
            r = n // 2 + calls[0]
            if math.gcd(r, n) == 1:
                return _enc(n, m, r)

    return run


def pooled_r(size: int) -> Any:
    """A pool of ``size`` fresh r per key, reused in turn."""
    pools: dict[int, list[int]] = {}
    calls = [0]

    def run(n: int, m: int) -> int:
        pool = pools.setdefault(n, [])
        if len(pool) < size:
            r = 0
            while math.gcd(r, n) != 1:
                r = secrets.randbelow(n)
            pool.append(r)
        else:
            calls[0] += 1
            r = pool[calls[0] % size]
        return _enc(n, m, r)

    return run


@pytest.mark.spec("C13.3")
@pytest.mark.parametrize("encrypt", [counter_r(0), counter_r(10**6), pooled_r(1024)])
def test_a_predictable_or_pooled_r_fails(encrypt: Any) -> None:
    with pytest.raises(ConformanceError, match=r"C13\.3"):
        check_paillier(encrypt, randomized=True, examples=5)
