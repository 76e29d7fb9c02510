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
from sbrml.core.errors import ParameterError
from sbrml.core.params import pairs
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


# A far row (a Byzantine worker's own magnitude) among rows near 1e8 (issue 13, item 7).
FAR = [[0.0], [1e8 + 5], [1e8 + 3], [1e8 + 3], [1e8 + 1]]


def _exact(x: list[list[float]]) -> list[list[float]]:
    """The exact squared distances rounded once to doubles (0 below the subnormals)."""
    return [[float(v) for v in row] for row in ref.sq_distances(x)]


def _within(got: list[list[float]], exact: list[list[float]], rel: float) -> bool:
    return all(
        abs(g - e) <= rel * e + 1e-300
        for grow, erow in zip(got, exact, strict=True)
        for g, e in zip(grow, erow, strict=True)
    )


@pytest.mark.spec("C5.3", "D5.3")
def test_a_far_row_leaves_the_other_distances_exact(impl: ModuleType) -> None:
    for x in (FAR, FAR[1:] + FAR[:1], FAR[2:] + FAR[:2]):
        got = as_list(impl.sq_distances(x if impl is ref else np.array(x)))
        assert _within(got, _exact(x), 1e-10)
    # The entry: D_12 came out 0 with the translation by x_0 = 0 (exact: 4).
    assert as_list(impl.sq_distances(FAR))[1][2] == 4


clustered_with_far_rows = st.tuples(
    st.integers(3, 9),
    st.integers(1, 4),
    st.floats(1e6, 1e12),
    st.floats(-1.0, 1.0),
    st.integers(0, 2**32 - 1),
).map(lambda t: _clustered(*t))


def _clustered(n: int, d: int, magnitude: float, where: float, seed: int) -> list[list[float]]:
    """Rows within a few units of ``where * magnitude``, one or two rows 10x further out."""
    gen = np.random.default_rng(seed)
    x = where * magnitude + gen.integers(-8, 9, size=(n, d)).astype(float)
    for row in gen.choice(n, size=min(2, n - 1), replace=False)[: 1 + seed % 2]:
        x[row] = gen.uniform(-10, 10, size=d) * magnitude
    return x.tolist()  # type: ignore[no-any-return]


@pytest.mark.spec("C5.3")
@given(clustered_with_far_rows, st.randoms(use_true_random=False))
def test_optimized_distances_are_relatively_accurate(x: list[list[float]], rnd: object) -> None:
    exact = _exact(x)
    assert _within(as_list(opt.sq_distances(np.array(x))), exact, 1e-10)
    perm = list(range(len(x)))
    rnd.shuffle(perm)  # type: ignore[attr-defined]
    got = as_list(opt.sq_distances(np.array([x[i] for i in perm])))
    assert _within(got, [[exact[i][j] for j in perm] for i in perm], 1e-10)


@pytest.mark.spec("D5.3")
@pytest.mark.parametrize("d", [3, 20_000])
@pytest.mark.parametrize("far", [0.0, 1e9])
def test_the_gram_bound_holds(d: int, far: float) -> None:
    """Every entry of the Gram pass is within its bound E (D5.3 step 3), and after
    refinement within its refined bound (step 5); d = 20000 spans three column blocks."""
    from sbrml.optimized.distances import checked_distances

    gen = np.random.default_rng(d)
    x = gen.standard_normal((6, d)) * gen.uniform(0.1, 10, size=(6, 1)) + 3.0
    x[2] += far
    exact = ref.sq_distances(x.tolist())
    _, dist = checked_distances("test", x)
    scaled = [[v / 4**dist.shift for v in row] for row in exact]
    for i in range(6):
        for j in range(6):
            assert abs(Fraction(float(dist.value[i, j])) - scaled[i][j]) <= dist.bound[i, j]
    dist.refine(np.ones((6, 6), dtype=bool))
    for i in range(6):
        for j in range(6):
            assert abs(Fraction(float(dist.value[i, j])) - scaled[i][j]) <= dist.bound[i, j]
            assert dist.bound[i, j] <= 1e-12 * float(scaled[i][j]) + 1e-300


@pytest.mark.spec("C5.3", "C6.9")
def test_distances_near_the_float_limits(impl: ModuleType) -> None:
    huge = [[1.5e308, float(k)] for k in range(1, 5)]  # differences only in coordinate 1
    assert as_list(impl.sq_distances(huge))[0] == [0, 1, 4, 9]
    for x in (
        [[k * 1e-300, -2e-300 * k * k] for k in range(1, 5)],  # squares below the subnormals
        [[k * 5e-324, 0.0] for k in range(4)],
        [[1e300, 1.0], [-1e300, 2.0], [1.0, 3.0]],  # beyond the float range: inf
    ):
        got = as_list(impl.sq_distances(x if impl is ref else np.array(x)))
        if impl is opt:
            exact = ref.sq_distances(x)
            assert all(
                g == float("inf") if e > 1.7976931348623157e308 else abs(g - float(e)) <= 1e-10 * e
                for grow, erow in zip(got, exact, strict=True)
                for g, e in zip(grow, erow, strict=True)
            )
