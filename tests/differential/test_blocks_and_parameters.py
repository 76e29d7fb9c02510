"""Reference and optimized trees agree beyond one column block and away from the default
fixed-point parameters (issue 18): byte-identical transcripts, equal outputs, and outputs
equal to what the spec computes independently.

The optimized tree works on blocks of 8192 columns (``beaver.CHUNK`` for the Beaver Gram
product, the dealer's Gram triple and the output's weighted sum; ``GRAM_BLOCK`` for the
plaintext distances), so every test with d <= 8192 runs one block and cannot see an
accumulation across blocks go wrong. And a round at F = 16, W = 30 cannot see a call site
that forgets to pass F or W on.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.params import coordinate_bound_log2, pairs
from sbrml.optimized.beaver import CHUNK, GramShares
from sbrml.optimized.bounded_distances import GRAM_BLOCK
from sbrml.reference.ring import encode as ref_encode
from sbrml.reference.ring import to_signed
from sbrml.rulespec import build_rule
from tests.helpers import as_list, decoded_inputs

M = 1 << 64
ONE_BLOCK = 8192
assert CHUNK == GRAM_BLOCK == ONE_BLOCK  # the block these tests straddle


def _ring_rows(n: int, d: int, seed: int) -> list[list[int]]:
    """n x d uniform ring elements, the same in every run."""
    rng = ref.DeterministicRandomSource(seed)
    flat = ref.ring_elements(rng, n * d)
    return [flat[i * d : (i + 1) * d] for i in range(n)]


def _in_range_rows(n: int, d: int, seed: int) -> list[list[int]]:
    """n x d ring elements whose signed values lie inside [-2^b(d), 2^b(d)) (C8.13)."""
    bound = 1 << coordinate_bound_log2(d)
    return [
        [v % (2 * bound) - bound + (1 << 64) & (M - 1) for v in row]
        for row in _ring_rows(n, d, seed)
    ]


def _shares(tree: Any, rows: list[list[int]], seed: int) -> tuple[Any, Any]:
    rng = tree.DeterministicRandomSource(seed)
    if tree is opt:
        return tree.share(np.array(rows, dtype=np.uint64), rng=rng)  # type: ignore[no-any-return]
    pairs_ = [ref.share(r, rng=rng) for r in rows]
    return [p[0] for p in pairs_], [p[1] for p in pairs_]


def _reconstructed(tree: Any, pair: tuple[Any, Any]) -> list[list[int]]:
    return [
        [(a + b) % M for a, b in zip(r0, r1, strict=True)]
        for r0, r1 in zip(as_list(pair[0]), as_list(pair[1]), strict=True)
    ]


# --- Beaver's Gram product and the distances on shares, beyond one block --------------------


@pytest.mark.spec("C4.2", "C4.3", "C4.6", "C7.3")
@pytest.mark.parametrize("d", [ONE_BLOCK + 1, 2 * ONE_BLOCK + 7])
def test_beaver_gram_across_blocks(d: int) -> None:
    n, seed = 3, 11
    rows = _ring_rows(n, d, seed)
    exact = [[sum(a * b for a, b in zip(ri, rj, strict=True)) % M for rj in rows] for ri in rows]
    # The reference has no blocks: one run beside the optimized tree's first boundary suffices.
    trees = (ref, opt) if d < 2 * ONE_BLOCK else (opt,)
    outputs = []
    for tree in trees:
        channel = tree.Channel()
        triple = tree.Dealer(rng=tree.DeterministicRandomSource(seed)).gram_triple(
            n, d, channel=channel
        )
        big_a = _reconstructed(tree, (triple[0].a, triple[1].a))
        big_c = _reconstructed(tree, (triple[0].c, triple[1].c))
        assert big_c == [
            [sum(a * b for a, b in zip(ri, rj, strict=True)) % M for rj in big_a] for ri in big_a
        ]  # C4.1 across blocks: the dealer's Gram sum
        g = tree.beaver_gram(_shares(tree, rows, seed + 1), triple, channel=channel)
        assert _reconstructed(tree, g) == exact
        outputs.append((as_list(g[0]), as_list(g[1]), channel.transcript_bytes()))
        if tree is opt:
            # S0's precomputed A0 A0^T (C4.6) gives the same shares as computing it online.
            pre = (triple[0].with_aat(), triple[1])
            assert isinstance(pre[0], GramShares) and pre[0].aat is not None
            again = tree.beaver_gram(_shares(tree, rows, seed + 1), pre, channel=tree.Channel())
            assert as_list(again[0]) == as_list(g[0]) and as_list(again[1]) == as_list(g[1])
    assert all(out == outputs[0] for out in outputs)


@pytest.mark.spec("C5.1", "C5.2", "C7.3")
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_distances_on_shares_across_blocks(variant: str) -> None:
    n, d, seed = 3, ONE_BLOCK + 9, 12
    rows = _in_range_rows(n, d, seed)
    signed = [[to_signed(v) for v in row] for row in rows]
    exact = [
        [sum((a - b) ** 2 for a, b in zip(ri, rj, strict=True)) for rj in signed] for ri in signed
    ]
    outputs = []
    for tree in (ref, opt):
        channel = tree.Channel()
        dealer = tree.Dealer(rng=tree.DeterministicRandomSource(seed))
        x = _shares(tree, rows, seed + 1)
        if variant == "gram":
            material = dealer.gram_triple(n, d, channel=channel)
            dist = tree.secure_sq_distances_gram(x, material, channel=channel)
        else:
            material = dealer.square_pairs(len(pairs(n)) * d, channel=channel)
            dist = tree.secure_sq_distances_pairwise(x, material, channel=channel)
        assert _reconstructed(tree, dist) == exact  # exact under the bound (C5.2)
        outputs.append((as_list(dist[0]), as_list(dist[1]), channel.transcript_bytes()))
    assert outputs[0] == outputs[1]


@pytest.mark.spec("C5.3")
def test_plaintext_distances_across_blocks() -> None:
    # The optimized tree's float distances (D5.3) sum Gram blocks and, for entries it refines,
    # blocks of direct differences; both must cover every column once.
    n, d = 6, 2 * ONE_BLOCK + 5
    gen = np.random.default_rng(13)
    x = gen.standard_normal((n, d))
    x[1] = x[0]  # an exact zero distance
    x[2, -3:] += 1e3  # a difference only in the last, partial block
    # Rows 3 and 4 are far from the centre (one of rows 0-2) and 1e-9 apart in every block: the
    # Gram pass cannot resolve their distance, so it is refined from direct differences.
    x[3] = x[0] + 5.0
    x[4] = x[3] + 1e-9 * gen.standard_normal(d)
    x[5] = x[3] + 1e-9 * gen.standard_normal(d)
    exact = ref.sq_distances(x.tolist())
    got = opt.sq_distances(x)
    for i in range(n):
        for j in range(n):
            if i == j or exact[i][j] == 0:
                assert got[i, j] == 0.0
            else:
                assert abs(Fraction(float(got[i, j])) - exact[i][j]) <= 1e-10 * exact[i][j]


# --- Whole rounds beyond one block -----------------------------------------------------------


@pytest.mark.spec("C7.3", "C8.5", "C4.5")
@pytest.mark.parametrize(("variant", "silent"), [("gram", True), ("pairwise", False)])
def test_rounds_across_blocks_agree_and_average_exactly(variant: str, silent: bool) -> None:
    # Three workers left (with the gram variant, one more that is silent, so that the
    # material is restricted, C4.5): Multi-Krum with f = 0, m = 2 averages two of them, with
    # weights 2^29 each (W = 30). The rows differ in the last, partial block too.
    n, d = 4 if silent else 3, ONE_BLOCK + 3
    x = [[math.sin(0.37 * i + 0.001 * k) * (1 + i) for k in range(d)] for i in range(n)]
    valid = [0, 2, 3] if silent else [0, 1, 2]
    results = []
    for tree in (ref, opt):
        results.append(
            tree.secure_aggregate(
                x if tree is ref else np.array(x),
                tree.MultiKrum(0, 2),
                rng=tree.DeterministicRandomSource(21),
                variant=variant,
                tamper=lambda ms: [m for m in ms if not (silent and m.sender == "W1")],
            )
        )
    r, o = results
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
    assert as_list(r.z) == as_list(o.z) and as_list(r.weights) == as_list(o.weights)
    assert as_list(r.distances) == as_list(o.distances)
    assert r.valid == valid
    xhat = decoded_inputs(x)
    chosen = [i for i, p in enumerate(as_list(r.weights)) if p > 0]
    assert len(chosen) == 2 and all(as_list(r.weights)[i] == 0.5 for i in chosen)
    # Each z_k = (e_a + e_b) 2^29 / 2^46, exactly (the sum of two encodings fits a double).
    a, b = (xhat[i] for i in chosen)
    assert as_list(o.z) == [(u + v) / 2 for u, v in zip(a, b, strict=True)]
    encoded = [[to_signed(e) for e in ref_encode(row)] for row in x]
    assert as_list(r.distances) == [
        [sum((p - q) ** 2 for p, q in zip(encoded[i], encoded[j], strict=True)) for j in valid]
        for i in valid
    ]


# --- Rounds with non-default F and W (C8.6) --------------------------------------------------


def _inputs(n: int, d: int, frac_bits: int, log2_top: int) -> list[list[float]]:
    """Values whose encodings at F = frac_bits are odd multiples of 1, 3, 5, ... and below
    2^log2_top in magnitude, so that no two workers tie and every bound holds."""
    scale = 2.0 ** (log2_top - 2 - frac_bits)
    return [
        [scale * math.sin(1.1 * i + 0.7 * k + 0.3) + scale * 0.01 * i for k in range(d)]
        for i in range(n)
    ]


def _run_both(x: list[list[float]], make: Any, **kwargs: Any) -> Any:
    """The round in both trees (``make(tree)`` builds the rule); asserts they agree."""
    results = []
    for tree in (ref, opt):
        results.append(
            tree.secure_aggregate(
                x if tree is ref else np.array(x),
                make(tree),
                rng=tree.DeterministicRandomSource(31),
                **kwargs,
            )
        )
    r, o = results
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
    assert as_list(r.z) == as_list(o.z)
    assert as_list(r.weights) == as_list(o.weights)
    assert r.valid == o.valid and r.excluded == o.excluded
    return r


def _spec(spec: str, f: int) -> Any:
    return lambda tree: build_rule(tree, spec, f)


def _weighted(
    p: list[float], x: list[list[float]], frac_bits: int, weight_frac_bits: int
) -> list[float]:
    """z of P8.1 step 5, independently: P_i = round_half_even(p_i 2^W), then the exact sum
    sum_i P_i e_ik over 2^(F+W), correctly rounded (C1.4)."""
    big_p = [round(pi * 2**weight_frac_bits) for pi in p]
    enc = [[to_signed(e) for e in ref_encode(row, frac_bits=frac_bits)] for row in x]
    scale = 1 << (frac_bits + weight_frac_bits)
    return [
        float(Fraction(sum(pi * row[k] for pi, row in zip(big_p, enc, strict=True)), scale))
        for k in range(len(x[0]))
    ]


BOUNDARIES = [
    (0, 30),  # F = 0: integer inputs
    (32, 30),  # F + W = 62
    (16, 1),  # the smallest W
    (16, 31),  # the largest W
    (31, 31),  # F + W = 62 with the largest W
    (61, 1),  # the largest F (F + W = 62)
    (0, 1),
]


@pytest.mark.spec("C8.6", "C8.5", "C8.10", "C7.3")
@pytest.mark.parametrize(("frac_bits", "weight_frac_bits"), BOUNDARIES)
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_rounds_at_the_fixed_point_boundaries(
    frac_bits: int, weight_frac_bits: int, variant: str
) -> None:
    # Multi-Krum(f=1, m=3) over n = 6, d = 3: b(3) = 30, so encodings below 2^29 are in range.
    n, d = 6, 3
    x = _inputs(n, d, frac_bits, 29)
    r = _run_both(
        x,
        lambda tree: tree.MultiKrum(1, 3),
        variant=variant,
        frac_bits=frac_bits,
        weight_frac_bits=weight_frac_bits,
    )
    assert r.valid == list(range(n))
    xhat = decoded_inputs(x, frac_bits)
    p_plain = ref.MultiKrum(1, 3).weights(ref.sq_distances(xhat))
    assert as_list(r.weights) == p_plain  # C8.5: the weights of the decoded inputs
    assert as_list(r.z) == _weighted(p_plain, x, frac_bits, weight_frac_bits)
    # D as S1 saw it is in units of 2^-2F (P8.1 step 4).
    enc = [[to_signed(e) for e in ref_encode(row, frac_bits=frac_bits)] for row in x]
    assert as_list(r.distances)[0][1] == sum(
        (a - b) ** 2 for a, b in zip(enc[0], enc[1], strict=True)
    )


@pytest.mark.spec("C8.6", "C8.15", "C7.3")
@pytest.mark.parametrize(("frac_bits", "weight_frac_bits"), [(20, 31), (5, 2), (40, 22)])
def test_rounds_in_every_mode_away_from_the_defaults(frac_bits: int, weight_frac_bits: int) -> None:
    # n = 5, d = 3: b_h(5, 3) = 27 and b_nnm(5, 3) = 24, so encodings below 2^23 are in range.
    n, d = 5, 3
    x = _inputs(n, d, frac_bits, 23)
    xhat = decoded_inputs(x, frac_bits)
    params = {"frac_bits": frac_bits, "weight_frac_bits": weight_frac_bits}
    # Krum with its weights public (index) and hidden (output): the same z, exactly.
    index = _run_both(x, _spec("krum", 1), leakage="index", **params)
    p_plain = ref.Krum(1).weights(ref.sq_distances(xhat))
    assert as_list(index.weights) == p_plain
    assert as_list(index.z) == _weighted(p_plain, x, frac_bits, weight_frac_bits)
    hidden = _run_both(x, _spec("krum", 1), leakage="output", **params)
    assert hidden.weights is None and as_list(hidden.z) == as_list(index.z)
    # The mean without distances: weights 1/|V| in W bits.
    mean = _run_both(x, _spec("mean", 0), leakage="output", **params)
    assert as_list(mean.z) == _weighted([1 / n] * n, x, frac_bits, weight_frac_bits)
    # The coordinate-wise median on shares (P22.2): one of the decoded values, exactly.
    median = _run_both(x, _spec("median", 1), **params)
    assert as_list(median.z) == [sorted(row[k] for row in xhat)[n // 2] for k in range(d)]
    # Krum after NNM (P22.7), published with F fractional bits: within one unit of 2^-F of
    # the plaintext composition on the decoded inputs.
    nnm = _run_both(x, _spec("nnm+krum", 1), leakage="output", **params)
    plain = build_rule(ref, "nnm+krum", 1)(xhat)
    for got, want in zip(as_list(nnm.z), plain, strict=True):
        assert abs(got - want) <= 2.0**-frac_bits
