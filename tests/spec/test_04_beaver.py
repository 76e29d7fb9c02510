"""Section 4: Beaver multiplication and the dealer (spec/04-beaver.md)."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import ParameterError
from tests.helpers import as_list

M = 1 << 64
ring_vectors = st.lists(st.integers(0, M - 1), min_size=1, max_size=12)


def _rec(tree: ModuleType, a: object, b: object) -> list[int]:
    return as_list(tree.reconstruct(a, b))  # type: ignore[no-any-return]


def _matrix(tree: ModuleType, rows: list[list[int]]) -> object:
    return rows if tree is ref else np.array(rows, dtype=np.uint64)


@pytest.mark.spec("C4.1")
def test_dealer_material_is_correct(impl: ModuleType) -> None:
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(3))
    channel = impl.Channel()
    t0, t1 = dealer.scalar_triples(7, channel=channel)
    a, b, c = (_rec(impl, getattr(t0, k), getattr(t1, k)) for k in "abc")
    assert c == [x * y % M for x, y in zip(a, b, strict=True)]
    s0, s1 = dealer.square_pairs(5, channel=channel)
    a, b = _rec(impl, s0.a, s1.a), _rec(impl, s0.b, s1.b)
    assert b == [x * x % M for x in a]
    g0, g1 = dealer.gram_triple(3, 4, channel=channel)
    big_a = [_rec(impl, r0, r1) for r0, r1 in zip(as_list(g0.a), as_list(g1.a), strict=True)]
    big_c = [_rec(impl, r0, r1) for r0, r1 in zip(as_list(g0.c), as_list(g1.c), strict=True)]
    assert big_c == [
        [sum(x * y for x, y in zip(ri, rj, strict=True)) % M for rj in big_a] for ri in big_a
    ]
    sizes = [m.size for m in channel.messages]
    assert [m.label for m in channel.messages] == ["offline/triples"] * 2 + [
        "offline/squares"
    ] * 2 + ["offline/gram"] * 2
    assert sizes == [3 * 7 * 8] * 2 + [2 * 5 * 8] * 2 + [(12 + 9) * 8] * 2


@pytest.mark.spec("C4.2")
@given(st.integers(0, 2**64), st.integers(1, 4), st.integers(1, 5))
def test_dealers_agree_across_trees(seed: int, rows: int, cols: int) -> None:
    out = []
    for tree in (ref, opt):
        channel = tree.Channel()
        dealer = tree.Dealer(rng=tree.DeterministicRandomSource(seed))
        t = dealer.scalar_triples(rows * cols, channel=channel)
        s = dealer.square_pairs(cols, channel=channel)
        g = dealer.gram_triple(rows, cols, channel=channel)
        out.append(
            (
                [as_list([x.a, x.b, x.c]) for x in t],
                [as_list([x.a, x.b]) for x in s],
                [as_list([x.a, x.c]) for x in g],
                channel.transcript_bytes(),
            )
        )
    assert out[0] == out[1]


@pytest.mark.spec("D4.4")
@pytest.mark.parametrize("count", [0, -1, 1.5])
def test_dealer_rejects_bad_counts(impl: ModuleType, count: object) -> None:
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(0))
    with pytest.raises(ParameterError) as info:
        dealer.square_pairs(count, channel=impl.Channel())
    assert info.value.clause == "D4.4"


@pytest.mark.spec("C4.3")
@given(st.data(), st.integers(0, 2**32))
def test_beaver_operations_are_correct(data: st.DataObject, seed: int) -> None:
    x = data.draw(ring_vectors)
    y = data.draw(st.lists(st.integers(0, M - 1), min_size=len(x), max_size=len(x)))
    row = st.lists(st.integers(0, M - 1), min_size=len(x), max_size=len(x))
    rows = data.draw(st.lists(row, min_size=1, max_size=4))
    for tree in (ref, opt):
        rng = tree.DeterministicRandomSource(seed)
        dealer = tree.Dealer(rng=rng.derive("dealer"))
        channel = tree.Channel()
        xs = tree.share(x, rng=rng)
        ys = tree.share(y, rng=rng)
        z = tree.beaver_mul(xs, ys, dealer.scalar_triples(len(x), channel=channel), channel=channel)
        assert _rec(tree, *z) == [a * b % M for a, b in zip(x, y, strict=True)]
        sq = tree.beaver_square(xs, dealer.square_pairs(len(x), channel=channel), channel=channel)
        assert _rec(tree, *sq) == [a * a % M for a in x]
        mat = _matrix(tree, rows)
        m0, m1 = tree.share(mat, rng=rng) if tree is opt else _share_rows(rows, rng)
        g = tree.beaver_gram(
            (m0, m1), dealer.gram_triple(len(rows), len(x), channel=channel), channel=channel
        )
        got = [_rec(tree, r0, r1) for r0, r1 in zip(as_list(g[0]), as_list(g[1]), strict=True)]
        assert got == [
            [sum(a * b for a, b in zip(ri, rj, strict=True)) % M for rj in rows] for ri in rows
        ]


def _share_rows(
    rows: list[list[int]], rng: ref.RandomSource
) -> tuple[list[list[int]], list[list[int]]]:
    pairs = [ref.share(r, rng=rng) for r in rows]
    return [p[0] for p in pairs], [p[1] for p in pairs]


@pytest.mark.spec("C4.4")
def test_opened_values_are_inputs_minus_fresh_masks(impl: ModuleType) -> None:
    # What a server receives in P4.4 is E^s with E = X - A: the input translated by the
    # dealer's uniform A, which the servers never see. Checked exactly, value by value.
    rows = [[1, 2, 3], [4, 5, 6]]
    rng = impl.DeterministicRandomSource(8)
    channel = impl.Channel()
    g = impl.Dealer(rng=rng.derive("dealer")).gram_triple(2, 3, channel=channel)
    big_a = [_rec(impl, r0, r1) for r0, r1 in zip(as_list(g[0].a), as_list(g[1].a), strict=True)]
    x = impl.share(_matrix(impl, rows), rng=rng) if impl is opt else _share_rows(rows, rng)
    impl.beaver_gram(x, g, channel=channel)
    opens = [m for m in channel.messages if m.label == "beaver/open"]
    assert [(m.sender, m.receiver) for m in opens] == [("S0", "S1"), ("S1", "S0")]
    e = _rec(
        impl,
        ref.unpack_ring("t", "e0", opens[0].payload, 6),
        ref.unpack_ring("t", "e1", opens[1].payload, 6),
    )
    assert e == [
        (v - a) % M
        for row, arow in zip(rows, big_a, strict=True)
        for v, a in zip(row, arow, strict=True)
    ]


@pytest.mark.spec("C4.4")
def test_a_round_requests_fresh_material_once(impl: ModuleType) -> None:
    calls: list[tuple[int, int]] = []

    class Counting:
        def __init__(self) -> None:
            self.inner = impl.Dealer(rng=impl.DeterministicRandomSource(len(calls) + 100))

        def gram_triple(self, rows: int, cols: int, *, channel: object) -> object:
            calls.append((rows, cols))
            return self.inner.gram_triple(rows, cols, channel=channel)

    x = [[float(i), 1.0] for i in range(5)]
    for _ in range(2):
        impl.secure_aggregate(
            x, impl.Krum(1), rng=impl.DeterministicRandomSource(1), provider=Counting()
        )
    assert calls == [(5, 2), (5, 2)]


@pytest.mark.spec("C4.5")
def test_restricted_material_is_valid(impl: ModuleType) -> None:
    from sbrml.core.params import pairs

    channel = impl.Channel()
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(4))
    g = dealer.gram_triple(4, 3, channel=channel)
    keep = [0, 2, 3]
    r0, r1 = g[0].restrict(keep), g[1].restrict(keep)
    big_a = [_rec(impl, a0, a1) for a0, a1 in zip(as_list(r0.a), as_list(r1.a), strict=True)]
    big_c = [_rec(impl, c0, c1) for c0, c1 in zip(as_list(r0.c), as_list(r1.c), strict=True)]
    assert len(big_a) == 3
    assert big_c == [
        [sum(x * y for x, y in zip(ri, rj, strict=True)) % M for rj in big_a] for ri in big_a
    ]
    d = 2
    squares = dealer.square_pairs(len(pairs(4)) * d, channel=channel)
    restrict = (
        ref.distances.restrict_square_pairs if impl is ref else opt.distances.restrict_square_pairs
    )
    s0, s1 = restrict(squares, 4, d, keep)
    a, b = _rec(impl, s0.a, s1.a), _rec(impl, s0.b, s1.b)
    assert len(a) == len(pairs(3)) * d
    assert b == [v * v % M for v in a]
