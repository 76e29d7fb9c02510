"""Section 4: the dealer's material, its restriction and the Beaver steps' edge cases.

Issue 18 item 1: tests that kill the surviving mutants of ``reference/beaver.py`` and
``optimized/beaver.py`` (docs/assurance.md): the refusal naming the dealer's method, row
triples, shape checks on malformed material, ``gram_sum``'s addends, C4.6's cached
``A^0 (A^0)^T`` kept by ``restrict`` and used online, and a channel that plays one server.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import ParameterError
from tests.helpers import as_list
from tests.helpers.channels import OnlyS1

M = 1 << 64


def _rec(tree: ModuleType, a: object, b: object) -> list[int]:
    return as_list(tree.reconstruct(a, b))  # type: ignore[no-any-return]


def _gram(a: list[list[int]], b: list[list[int]]) -> list[list[int]]:
    return [[sum(x * y for x, y in zip(ra, rb, strict=True)) % M for rb in b] for ra in a]


def _dealer(impl: ModuleType, seed: int = 5) -> Any:
    return impl.Dealer(rng=impl.DeterministicRandomSource(seed))


@pytest.mark.spec("D4.4")
@pytest.mark.parametrize(
    ("method", "args", "parameter"),
    [
        ("scalar_triples", (0,), "count"),
        ("square_pairs", (0,), "count"),
        ("gram_triple", (0, 2), "rows"),
        ("gram_triple", (2, 0), "cols"),
        ("row_triples", (0, 2), "rows"),
        ("row_triples", (2, 0), "cols"),
    ],
)
def test_dealer_refusal_names_its_method_and_parameter(
    impl: ModuleType, method: str, args: tuple[int, ...], parameter: str
) -> None:
    with pytest.raises(ParameterError) as err:
        getattr(_dealer(impl), method)(*args, channel=impl.Channel())
    assert (err.value.function, err.value.parameter, err.value.clause) == (
        f"Dealer.{method}",
        parameter,
        "D4.4",
    )


@pytest.mark.spec("P22.6")
def test_row_triples_hold_c_equal_to_a_times_b(impl: ModuleType) -> None:
    channel = impl.Channel()
    r0, r1 = _dealer(impl).row_triples(3, 4, channel=channel)
    a = _rec(impl, r0.a, r1.a)
    b = [_rec(impl, x, y) for x, y in zip(as_list(r0.b), as_list(r1.b), strict=True)]
    c = [_rec(impl, x, y) for x, y in zip(as_list(r0.c), as_list(r1.c), strict=True)]
    assert len(a) == 3 and [len(row) for row in b] == [4] * 3
    assert c == [[ai * v % M for v in row] for ai, row in zip(a, b, strict=True)]
    assert [(m.receiver, m.label, m.size) for m in channel.messages] == [
        ("S0", "offline/rows", (3 + 2 * 12) * 8),
        ("S1", "offline/rows", (3 + 2 * 12) * 8),
    ]


@pytest.mark.spec("D4.3")
def test_reference_matrix_helpers_refuse_mismatched_shapes() -> None:
    # A shorter operand would otherwise truncate the result silently (zip).
    beaver = ref.beaver
    assert beaver.gram([[1, 2]], [[3, 4], [5, 6]]) == [[11, 17]]
    assert beaver.transpose([[1, 2], [3, 4], [5, 6]]) == [[1, 3, 5], [2, 4, 6]]
    with pytest.raises(ValueError):
        beaver.gram([[1, 2]], [[3]])
    with pytest.raises(ValueError):
        beaver.mat_add([[1]], [[1], [2]])
    with pytest.raises(ValueError):
        beaver.mat_sub([[1], [2]], [[1]])
    with pytest.raises(ValueError):
        beaver.transpose([[1, 2], [3]])


def _short(tree: ModuleType, v: Any) -> Any:
    return v[:2] if tree is ref else v[:2].copy()


@pytest.mark.spec("D4.4")
def test_material_shorter_than_the_inputs_is_refused(impl: ModuleType) -> None:
    # A triple whose c (or a pair whose b) is shorter than its a must not give a short output.
    dealer, channel = _dealer(impl), impl.Channel()
    t = dealer.scalar_triples(4, channel=channel)
    x = impl.share([1, 2, 3, 4], rng=impl.DeterministicRandomSource(1))
    bad = (t[0], type(t[1])(t[1].a, t[1].b, _short(impl, t[1].c)))
    with pytest.raises(ValueError):
        impl.beaver_mul(x, x, bad, channel=channel)
    p = dealer.square_pairs(4, channel=channel)
    bad_pair = (type(p[0])(p[0].a, _short(impl, p[0].b)), p[1])
    with pytest.raises(ValueError):
        impl.beaver_square(x, bad_pair, channel=channel)


@pytest.mark.spec("D4.3")
def test_gram_sum_adds_each_addend_to_its_own_operand() -> None:
    rng = np.random.default_rng(7)
    x, dx = (rng.integers(0, 2**63, (2, 3), dtype=np.uint64) for _ in range(2))
    y, dy = (rng.integers(0, 2**63, (3, 3), dtype=np.uint64) for _ in range(2))

    def ints(a: Any, b: Any = None) -> list[list[int]]:
        return [
            [(int(v) + (0 if b is None else int(w))) % M for v, w in zip(r, s, strict=True)]
            for r, s in zip(a.tolist(), (a if b is None else b).tolist(), strict=True)
        ]

    gram_sum = opt.beaver.gram_sum
    assert gram_sum(x, None, y, None).tolist() == _gram(ints(x), ints(y))
    assert gram_sum(x, dx, y, dy).tolist() == _gram(ints(x, dx), ints(y, dy))
    assert gram_sum(x, None, y, dy).tolist() == _gram(ints(x), ints(y, dy))
    assert gram_sum(x, dx, x, None).tolist() == _gram(ints(x, dx), ints(x))
    assert gram_sum(x, dx, x, dx).tolist() == _gram(ints(x, dx), ints(x, dx))


@pytest.mark.spec("C4.5")
def test_restriction_to_a_prefix_a_permutation_or_no_rows(impl: ModuleType) -> None:
    g = _dealer(impl).gram_triple(3, 2, channel=impl.Channel())
    for keep in ([0, 1], [2, 0, 1], [1], []):
        r0, r1 = g[0].restrict(keep), g[1].restrict(keep)
        big_a = [_rec(impl, a0, a1) for a0, a1 in zip(as_list(r0.a), as_list(r1.a), strict=True)]
        full = [_rec(impl, a0, a1) for a0, a1 in zip(as_list(g[0].a), as_list(g[1].a), strict=True)]
        assert big_a == [full[i] for i in keep]
        big_c = [_rec(impl, c0, c1) for c0, c1 in zip(as_list(r0.c), as_list(r1.c), strict=True)]
        assert big_c == _gram(big_a, big_a)


@pytest.mark.spec("C4.6")
def test_restriction_keeps_the_offline_product_and_the_online_step_uses_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    channel = opt.Channel()
    g0, g1 = _dealer(opt).gram_triple(4, 3, channel=channel)
    g0 = g0.with_aat()
    keep = [0, 2, 3]
    r0 = g0.restrict(keep)
    assert r0.aat is not None
    assert r0.aat.tolist() == _gram(r0.a.tolist(), r0.a.tolist())
    calls: list[int] = []
    real = opt.beaver.gram_sum

    def counting(*args: Any) -> Any:
        calls.append(1)
        return real(*args)

    monkeypatch.setattr(opt.beaver, "gram_sum", counting)
    x = opt.share(np.arange(9, dtype=np.uint64).reshape(3, 3), rng=opt.DeterministicRandomSource(2))
    out = opt.beaver_gram(x, (r0, g1.restrict(keep)), channel=channel)
    assert calls == []  # S0's A^0 (A^0)^T came from the offline product, not a second one
    plain = opt.reconstruct(*x).tolist()
    assert opt.reconstruct(*out).tolist() == _gram(plain, plain)


@pytest.mark.spec("D23.1")
def test_a_channel_playing_s1_alone_computes_s1s_shares() -> None:
    dealer = _dealer(opt)
    t = dealer.scalar_triples(3, channel=opt.Channel())
    p = dealer.square_pairs(3, channel=opt.Channel())
    g = dealer.gram_triple(2, 3, channel=opt.Channel())
    v = opt.share(np.array([5, 6, 7], dtype=np.uint64), rng=opt.DeterministicRandomSource(3))
    m = opt.share(np.arange(6, dtype=np.uint64).reshape(2, 3), rng=opt.DeterministicRandomSource(4))

    def alone(pair: Any) -> Any:
        return (None, pair[1])

    runs: list[Callable[[Callable[[Any], Any], Any], Any]] = [
        lambda one, c: opt.beaver_mul(one(v), one(v), one(t), channel=c),
        lambda one, c: opt.beaver_square(one(v), one(p), channel=c),
        lambda one, c: opt.beaver_gram(one(m), one(g), channel=c),
    ]
    for run in runs:
        both = opt.Channel()
        expected = run(lambda pair: pair, both)
        got = run(alone, OnlyS1(both))
        assert got[0] is None
        assert got[1].tolist() == expected[1].tolist()


def _rows_of(impl: ModuleType, rows: list[list[int]], d: int) -> Any:
    """Both servers' shares of a matrix of ``rows`` (possibly none), as each tree takes one."""
    shares = [impl.share(r, rng=impl.DeterministicRandomSource(k)) for k, r in enumerate(rows)]
    if impl is ref:
        return tuple([as_list(sh[s]) for sh in shares] for s in (0, 1))
    return tuple(np.asarray([sh[s] for sh in shares], np.uint64).reshape(-1, d) for s in (0, 1))


@pytest.mark.spec("C4.5")
def test_beaver_gram_on_the_triple_of_no_rows_is_the_empty_gram_matrix(impl: ModuleType) -> None:
    # C4.5 makes (A[V], C[V,V]) a Gram triple for |V| x d, V = {} included, and X X^T of a
    # 0 x d matrix is the 0 x 0 matrix (C4.3): both trees return it (the reference raised a
    # bare ValueError cutting E into rows of 0 columns; the optimized tree returned 0 x 0).
    channel = impl.Channel()
    g = _dealer(impl).gram_triple(3, 2, channel=channel)
    none = (g[0].restrict([]), g[1].restrict([]))
    out = impl.beaver_gram(_rows_of(impl, [], 2), none, channel=channel)
    assert as_list(out[0]) == as_list(out[1]) == []
    assert len(out[0]) == len(out[1]) == 0
    # One row: the 1 x 1 Gram matrix |x|^2, through the same restriction.
    one = impl.beaver_gram(
        _rows_of(impl, [[3, 4]], 2), (g[0].restrict([1]), g[1].restrict([1])), channel=channel
    )
    assert _rec(impl, one[0][0], one[1][0]) == [25]
