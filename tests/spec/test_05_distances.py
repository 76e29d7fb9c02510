"""Section 5: pairwise squared distances (spec/05-distances.md)."""

from __future__ import annotations

from fractions import Fraction
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.reference.distances import pairs
from sbrml.reference.errors import ParameterError
from tests.helpers import as_list

M = 1 << 64


def _shared_inputs(tree: ModuleType, rows: list[list[int]], seed: int) -> tuple[object, object]:
    rng = tree.DeterministicRandomSource(seed)
    if tree is opt:
        return tree.share(np.array(rows, dtype=np.uint64), rng=rng)  # type: ignore[no-any-return]
    shares = [ref.share(r, rng=rng) for r in rows]
    return [s[0] for s in shares], [s[1] for s in shares]


def _secure_d(
    tree: ModuleType, rows: list[list[int]], variant: str, seed: int
) -> tuple[list[list[int]], ref.Channel]:
    n, d = len(rows), len(rows[0])
    x = _shared_inputs(tree, rows, seed)
    channel = tree.Channel()
    dealer = tree.Dealer(rng=tree.DeterministicRandomSource(seed + 1))
    if variant == "gram":
        material = dealer.gram_triple(n, d, channel=channel)
        d0, d1 = tree.secure_sq_distances_gram(x, material, channel=channel)
    else:
        material = dealer.square_pairs(len(pairs(n)) * d, channel=channel)
        d0, d1 = tree.secure_sq_distances_pairwise(x, material, channel=channel)
    rec = [
        [(a + b) % M for a, b in zip(r0, r1, strict=True)]
        for r0, r1 in zip(as_list(d0), as_list(d1), strict=True)
    ]
    return rec, channel


encoded_rows = st.integers(3, 6).flatmap(
    lambda n: st.integers(1, 5).flatmap(
        lambda d: st.lists(
            st.lists(st.integers(-(2**20), 2**20), min_size=d, max_size=d), min_size=n, max_size=n
        )
    )
)


@pytest.mark.spec("C5.1", "C5.2")
@given(encoded_rows, st.integers(0, 2**32))
def test_variants_agree_and_are_exact(signed: list[list[int]], seed: int) -> None:
    rows = [[v % M for v in r] for r in signed]
    exact = [
        [sum((a - b) ** 2 for a, b in zip(ri, rj, strict=True)) for rj in signed] for ri in signed
    ]
    for tree in (ref, opt):
        for variant in ("gram", "pairwise"):
            got, _ = _secure_d(tree, rows, variant, seed)
            assert got == exact


@pytest.mark.spec("C5.1")
@given(
    st.lists(st.lists(st.integers(0, M - 1), min_size=3, max_size=3), min_size=3, max_size=5),
    st.integers(0, 99),
)
def test_variants_agree_on_arbitrary_ring_inputs(rows: list[list[int]], seed: int) -> None:
    # Outside the norm bound the distance is the residue mod 2^64; both variants agree on it.
    expected = [
        [sum((a - b) ** 2 for a, b in zip(ri, rj, strict=True)) % M for rj in rows] for ri in rows
    ]
    for tree in (ref, opt):
        assert _secure_d(tree, rows, "gram", seed)[0] == expected
        assert _secure_d(tree, rows, "pairwise", seed)[0] == expected


@pytest.mark.spec("P5.1", "P5.2")
def test_bytes_opened_per_server(impl: ModuleType) -> None:
    n, d = 4, 3
    rows = [[i * d + k for k in range(d)] for i in range(n)]
    for variant, per_server in (("gram", 8 * n * d), ("pairwise", 4 * n * (n - 1) * d)):
        _, channel = _secure_d(impl, rows, variant, 5)
        links = channel.bytes_by_link()
        assert links["S0->S1"] == per_server
        assert links["S1->S0"] == per_server


@pytest.mark.spec("D5.1")
def test_plaintext_distances(impl: ModuleType) -> None:
    x = [[0.0, 0.0], [3.0, 4.0], [0.1, 0.0]]
    got = as_list(impl.sq_distances(x))
    assert got[0][1] == 25 and got[1][0] == 25
    assert got[0][0] == 0
    if impl is ref:
        assert got[0][2] == Fraction(0.1) ** 2  # exact
    else:
        assert got[0][2] == pytest.approx(0.01, rel=1e-12)


@pytest.mark.spec("D5.2")
def test_unknown_variant_is_rejected(impl: ModuleType) -> None:
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            [[0.0]] * 5, impl.Krum(1), rng=impl.DeterministicRandomSource(0), variant="cholesky"
        )
    assert info.value.clause == "D5.2"
