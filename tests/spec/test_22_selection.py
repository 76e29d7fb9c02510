"""Section 22: ranks, Krum and Multi-Krum without revealing D, and row_mul (P22.4-P22.6).

Every protocol runs in both trees (the ``impl`` fixture) against plaintext: the selection
against the library's own Krum and Multi-Krum weights on the exact D (C22.2, ties C6.4), ranks
against a plaintext rank with index ties, row_mul against sum_i p_i x_i mod 2^64. The trees
must send byte-identical transcripts, every shape error must come before any message (C22.3),
and what a server receives from the other must look uniform (a small chi-squared check; the
views of section 21's primitives are tested in tests/statistical/test_21_views.py).
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.core.params import hidden_bound_log2
from sbrml.reference.rules import Krum, MultiKrum, krum_scores
from tests.helpers import as_list
from tests.helpers.examples import budget
from tests.statistical.test_uniformity import assert_uniform_u64

M = 1 << 64
MASK = M - 1
CONVENTIONS = {2: "blanchard", 1: "byzfl"}
# For Hypothesis tests, which may not use the function-scoped ``impl`` fixture.
BOTH_TREES = pytest.mark.parametrize("impl", [ref, opt], ids=["reference", "optimized"])


def selection(tree: ModuleType) -> Any:
    """The tree's section 22 selection module."""
    return importlib.import_module(f"{tree.__name__}.secure_selection")


def ring(tree: ModuleType, values: Any) -> Any:
    """A ring vector or matrix in the tree's own representation."""
    return as_list(values) if tree is ref else np.array(values, dtype=np.uint64)


def split(tree: ModuleType, values: Any, seed: int) -> tuple[Any, Any]:
    """Additive shares of a ring vector or matrix: S0 holds uniform masks."""
    arr = np.array(values, dtype=object) % M
    masks = np.random.default_rng(seed).integers(0, M, size=arr.shape, dtype=np.uint64)
    other = (arr - masks.astype(object)) % M
    return ring(tree, masks.tolist()), ring(tree, other.tolist())


def rec(pair: tuple[Any, Any]) -> list[int]:
    """Reconstruct additive shares of a vector of either tree."""
    return [(a + b) & MASK for a, b in zip(as_list(pair[0]), as_list(pair[1]), strict=True)]


def dealer_and_channel(tree: ModuleType, seed: int) -> tuple[Any, Any]:
    """A dealer and one channel for the material and the protocol (the round's layout)."""
    return tree.Dealer(rng=tree.DeterministicRandomSource(seed)), tree.Channel()


def exact_distances(rows: list[list[int]]) -> list[list[int]]:
    """Plaintext: the exact squared distances of integer rows."""
    return [[sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) for q in rows] for p in rows]


def plaintext_selection(dist: list[list[int]], f: int, offset: int, m: int) -> list[int]:
    """C6.1, C6.4: the indices the library's plaintext rule weights on the exact D."""
    convention = CONVENTIONS[offset]
    rule = Krum(f, convention) if m == 1 else MultiKrum(f, m, convention)
    weights = rule.weights(dist)
    return [1 if w > 0 else 0 for w in weights]


def shared_distances(tree: ModuleType, rows: list[list[int]], seed: int) -> tuple[Any, Any]:
    """Shares of D by P5.1 (secure_sq_distances_gram) on shares of the integer rows."""
    v, d = len(rows), len(rows[0])
    x = split(tree, rows, seed)
    dealer, channel = dealer_and_channel(tree, seed + 1)
    triple = dealer.gram_triple(v, d, channel=channel)
    return tree.secure_sq_distances_gram(x, triple, channel=channel)  # type: ignore[no-any-return]


@st.composite
def krum_cases(draw: st.DrawFn) -> tuple[list[list[int]], int, int, int, int]:
    """Rows in [-2^b, 2^b) with b = b_h(v, d), drawn from a small pool so that rows repeat
    and distances and scores tie; f within the convention's precondition; m in 1..v."""
    v, d = draw(st.integers(4, 10)), draw(st.integers(1, 4))
    offset = draw(st.sampled_from([2, 1]))
    # C6.3: v > 2f + 2 (offset 2); C6.6: v > 2f (offset 1).
    f = draw(st.integers(0, (v - 3) // 2 if offset == 2 else (v - 1) // 2))
    b = hidden_bound_log2(v, d)
    coord = draw(
        st.sampled_from(
            [
                st.integers(-2, 2),
                st.sampled_from([-(1 << b), (1 << b) - 1, 0]),
                st.integers(-(1 << b), (1 << b) - 1),
            ]
        )
    )
    pool = draw(st.lists(st.lists(coord, min_size=d, max_size=d), min_size=1, max_size=v))
    rows = [draw(st.sampled_from(pool)) for _ in range(v)]
    m = draw(st.integers(1, v))
    return rows, f, offset, m, draw(st.integers(0, 2**32))


# ---------------------------------------------------------------------------------------------
# C22.2: the selection equals the plaintext rule's on the exact D


@pytest.mark.spec("C22.2", "P22.5", "C6.4")
@BOTH_TREES
@budget(260)
@given(case=krum_cases())
def test_selection_equals_plaintext_krum(impl: ModuleType, case: Any) -> None:
    rows, f, offset, m, seed = case
    dist = exact_distances(rows)
    # P22.5's bound: with b_h every score is below 2^62, so ranks compare them exactly.
    assert max(krum_scores(dist, f, offset)) < 1 << 62
    shares = shared_distances(impl, rows, seed)
    assert [rec((shares[0][i], shares[1][i])) for i in range(len(rows))] == dist
    dealer, channel = dealer_and_channel(impl, seed)
    sel = selection(impl).krum_selection(
        shares, f=f, offset=offset, m=m, dealer=dealer, channel=channel
    )
    assert rec(sel) == plaintext_selection(dist, f, offset, m)


@pytest.mark.spec("C22.2", "P22.5", "C6.4")
@pytest.mark.parametrize(
    ("rows", "f", "offset", "m", "expected"),
    [
        # Every row equal: every score ties, the lowest indices win (C6.4).
        ([[5]] * 6, 1, 2, 1, [1, 0, 0, 0, 0, 0]),
        ([[5]] * 6, 1, 2, 4, [1, 1, 1, 1, 0, 0]),
        # Two equal clusters: rows 0-2 and 3-5 score alike; index order decides.
        ([[0], [0], [0], [9], [9], [9]], 1, 1, 3, [1, 1, 1, 0, 0, 0]),
        # Far values (2^14, well inside b_h(5, 1) = 28), beside three close honest rows.
        ([[-(1 << 14)], [1], [2], [3], [(1 << 14) - 1]], 1, 1, 3, [0, 1, 1, 1, 0]),
        # m = v selects every row.
        ([[1], [4], [9], [16], [25]], 1, 2, 5, [1] * 5),
    ],
)
def test_selection_on_ties_and_bounds(
    impl: ModuleType, rows: list[list[int]], f: int, offset: int, m: int, expected: list[int]
) -> None:
    dist = exact_distances(rows)
    assert plaintext_selection(dist, f, offset, m) == expected
    dealer, channel = dealer_and_channel(impl, 7)
    sel = selection(impl).krum_selection(
        split(impl, dist, 3), f=f, offset=offset, m=m, dealer=dealer, channel=channel
    )
    assert rec(sel) == expected


@pytest.mark.spec("C22.2", "P22.5")
@pytest.mark.parametrize(("v", "f", "offset"), [(1, 0, 1), (2, 0, 1), (3, 1, 1), (3, 0, 2)])
def test_selection_with_the_fewest_workers(impl: ModuleType, v: int, f: int, offset: int) -> None:
    # v = 1 has no distance to rank; at v = 2 the neighbours' ranks (P22.4) have groups of
    # one value and send nothing; v = 2f + 1 is ByzFL's smallest n (C6.6). The selection
    # must still be the plaintext rule's.
    rows = [[3 * i] for i in range(v)]
    dist = exact_distances(rows)
    dealer, channel = dealer_and_channel(impl, v)
    sel = selection(impl).krum_selection(
        split(impl, dist, v), f=f, offset=offset, m=1, dealer=dealer, channel=channel
    )
    assert rec(sel) == plaintext_selection(dist, f, offset, 1)


# ---------------------------------------------------------------------------------------------
# P22.4: ranks


def plaintext_ranks(values: list[int], groups: int, size: int) -> list[int]:
    out: list[int] = []
    for g in range(groups):
        u = values[g * size : (g + 1) * size]
        out.extend(sum(1 for j in range(size) if (u[j], j) < (u[i], i)) for i in range(size))
    return out


@pytest.mark.spec("P22.4", "C22.2")
@BOTH_TREES
@given(
    groups=st.integers(1, 4),
    size=st.integers(1, 6),
    pool=st.lists(
        st.one_of(st.sampled_from([0, 1, (1 << 62) - 1]), st.integers(0, (1 << 62) - 1)),
        min_size=1,
        max_size=4,
    ),
    data=st.data(),
)
def test_ranks_equal_plaintext_ranks_with_index_ties(
    impl: ModuleType, groups: int, size: int, pool: list[int], data: st.DataObject
) -> None:
    values = [data.draw(st.sampled_from(pool)) for _ in range(groups * size)]
    dealer, channel = dealer_and_channel(impl, groups * 10 + size)
    rho = selection(impl).ranks(
        split(impl, values, size), groups=groups, size=size, dealer=dealer, channel=channel
    )
    assert rec(rho) == plaintext_ranks(values, groups, size)
    if size == 1:
        assert channel.messages == []


# ---------------------------------------------------------------------------------------------
# P22.6: row_mul and its material


@pytest.mark.spec("P22.6")
@pytest.mark.parametrize(("rows", "cols"), [(1, 1), (3, 5), (4, 65)])
def test_row_triples_are_correct(impl: ModuleType, rows: int, cols: int) -> None:
    dealer, channel = dealer_and_channel(impl, rows)
    t0, t1 = dealer.row_triples(rows, cols, channel=channel)
    a = rec((t0.a, t1.a))
    b = [rec((t0.b[i], t1.b[i])) for i in range(rows)]
    c = [rec((t0.c[i], t1.c[i])) for i in range(rows)]
    assert c == [[a[i] * bk & MASK for bk in b[i]] for i in range(rows)]
    assert [(m.sender, m.receiver, m.label) for m in channel.messages] == [
        ("dealer", "S0", "offline/rows"),
        ("dealer", "S1", "offline/rows"),
    ]
    assert [m.size for m in channel.messages] == [8 * (rows + 2 * rows * cols)] * 2
    # Each server's message is its a, B, C in that order (P22.6).
    payload = np.frombuffer(bytes(channel.messages[1].payload), dtype="<u8").tolist()
    flat = [as_list(t1.a), *as_list(t1.b), *as_list(t1.c)]
    assert payload == [v for part in flat for v in part]


@pytest.mark.spec("P22.6")
@pytest.mark.parametrize(("rows", "cols"), [(0, 1), (1, 0), (True, 2)])
def test_row_triples_refuse_bad_requests(impl: ModuleType, rows: int, cols: int) -> None:
    dealer, channel = dealer_and_channel(impl, 0)
    with pytest.raises(ParameterError) as info:
        dealer.row_triples(rows, cols, channel=channel)
    assert info.value.clause == "D4.4" and info.value.function == "Dealer.row_triples"
    assert channel.messages == []


EDGE = [0, 1, 1 << 63, MASK, (1 << 62) - 1]


@pytest.mark.spec("P22.6", "C22.2")
@BOTH_TREES
@given(
    rows=st.integers(1, 5),
    cols=st.integers(1, 5),
    data=st.data(),
)
def test_row_mul_equals_plaintext(
    impl: ModuleType, rows: int, cols: int, data: st.DataObject
) -> None:
    element = st.one_of(st.sampled_from(EDGE), st.integers(0, MASK))
    p = data.draw(st.lists(element, min_size=rows, max_size=rows))
    x = data.draw(
        st.lists(st.lists(element, min_size=cols, max_size=cols), min_size=rows, max_size=rows)
    )
    dealer, channel = dealer_and_channel(impl, rows * 7 + cols)
    triples = dealer.row_triples(rows, cols, channel=channel)
    z = selection(impl).row_mul(split(impl, p, 1), split(impl, x, 2), triples, channel=channel)
    assert rec(z) == [sum(p[i] * x[i][k] for i in range(rows)) & MASK for k in range(cols)]
    opened = [m for m in channel.messages if m.label == "beaver/open"]
    assert [(m.sender, m.size) for m in opened] == [
        ("S0", 8 * (rows + rows * cols)),
        ("S1", 8 * (rows + rows * cols)),
    ]


def test_optimized_row_mul_takes_rows_as_a_sequence() -> None:
    # The round passes the received share messages as a list of rows, never copied.
    dealer, channel = dealer_and_channel(opt, 1)
    triples = dealer.row_triples(3, 4, channel=channel)
    p = split(opt, [1, 2, 3], 1)
    x = split(opt, [[k + 4 * i for k in range(4)] for i in range(3)], 2)
    z = selection(opt).row_mul(p, (list(x[0]), list(x[1])), triples, channel=channel)
    assert rec(z) == [sum((i + 1) * (k + 4 * i) for i in range(3)) for k in range(4)]


# ---------------------------------------------------------------------------------------------
# C22.2 (with C7.3): both trees send byte-identical transcripts


def transcript(channel: Any) -> list[tuple[str, str, str, bytes]]:
    return [(m.sender, m.receiver, m.label, bytes(m.payload)) for m in channel.messages]


@pytest.mark.spec("C22.2", "C7.3")
@pytest.mark.parametrize(
    ("rows", "f", "offset", "m"),
    [
        ([[0], [0], [1], [7], [7], [30]], 1, 2, 1),
        ([[1, 2], [1, 2], [3, -4], [0, 0], [-5, 5], [2, 2], [9, 9]], 2, 1, 3),
        ([[4], [4]], 0, 1, 2),
    ],
)
def test_trees_send_identical_transcripts(
    rows: list[list[int]], f: int, offset: int, m: int
) -> None:
    results = []
    for tree in (ref, opt):
        dist = shared_distances(tree, rows, 5)
        dealer, channel = dealer_and_channel(tree, 11)
        sel = selection(tree).krum_selection(
            dist, f=f, offset=offset, m=m, dealer=dealer, channel=channel
        )
        weights = (
            ring(tree, [s << 16 & MASK for s in as_list(sel[0])]),
            ring(tree, as_list(sel[1])),
        )
        triples = dealer.row_triples(len(rows), len(rows[0]), channel=channel)
        z = selection(tree).row_mul(weights, split(tree, rows, 9), triples, channel=channel)
        results.append((as_list(sel), as_list(z), transcript(channel)))
    assert results[0] == results[1]
    assert len(results[0][2]) > 0


# ---------------------------------------------------------------------------------------------
# C22.3: shapes are checked before any message; parameters as the rules check them


def bad_shape_calls(tree: ModuleType) -> list[tuple[str, Any]]:
    """(name, call(dealer, channel)) for every shape C22.3 must refuse."""
    mod = selection(tree)
    d3 = split(tree, [[0, 1, 2], [1, 0, 1], [2, 1, 0]], 1)
    d4 = split(tree, [[0] * 4] * 4, 1)
    rect = split(tree, [[0, 1, 2], [1, 0, 1]], 1)
    vec6 = split(tree, [1, 2, 3, 4, 5, 6], 1)
    vec5 = split(tree, [1, 2, 3, 4, 5], 1)

    def triples(rows: int, cols: int) -> Any:
        return tree.Dealer(rng=tree.DeterministicRandomSource(0)).row_triples(
            rows, cols, channel=tree.Channel()
        )

    t34 = triples(3, 4)
    t24 = triples(2, 4)
    t35 = triples(3, 5)
    p3, x34 = split(tree, [1, 2, 3], 2), split(tree, [[1] * 4] * 3, 3)
    calls: list[tuple[str, Any]] = [
        (
            "ranks: fewer values than groups x size",
            lambda dl, ch: mod.ranks(vec5, groups=2, size=3, dealer=dl, channel=ch),
        ),
        (
            "ranks: shares of different lengths",
            lambda dl, ch: mod.ranks((vec6[0], vec5[1]), groups=2, size=3, dealer=dl, channel=ch),
        ),
        (
            "krum: non-square D",
            lambda dl, ch: mod.krum_selection(rect, f=0, offset=1, m=1, dealer=dl, channel=ch),
        ),
        (
            "krum: shares of different sizes",
            lambda dl, ch: mod.krum_selection(
                (d3[0], d4[1]), f=0, offset=1, m=1, dealer=dl, channel=ch
            ),
        ),
        (
            "krum: empty D",
            lambda dl, ch: mod.krum_selection(
                (ring(tree, []), ring(tree, [])), f=0, offset=1, m=1, dealer=dl, channel=ch
            ),
        ),
        (
            "row_mul: p too short",
            lambda dl, ch: mod.row_mul(split(tree, [1, 2], 2), x34, t34, channel=ch),
        ),
        (
            "row_mul: x with too few rows",
            lambda dl, ch: mod.row_mul(p3, split(tree, [[1] * 4] * 2, 3), t34, channel=ch),
        ),
        (
            "row_mul: x with too many columns",
            lambda dl, ch: mod.row_mul(p3, split(tree, [[1] * 5] * 3, 3), t34, channel=ch),
        ),
        (
            "row_mul: material of other rows",
            lambda dl, ch: mod.row_mul(p3, x34, (t34[0], t24[1]), channel=ch),
        ),
        (
            "row_mul: material of other columns",
            lambda dl, ch: mod.row_mul(p3, x34, (t35[0], t34[1]), channel=ch),
        ),
    ]
    ragged = ([[0, 1, 2], [1, 0], [2, 1, 0]], d3[1])
    calls.append(
        (
            "krum: a ragged row",
            lambda dl, ch: mod.krum_selection(ragged, f=0, offset=1, m=1, dealer=dl, channel=ch),
        )
    )
    return calls


@pytest.mark.spec("C22.3")
@pytest.mark.parametrize("case", range(11))
def test_shape_errors_come_before_any_message(impl: ModuleType, case: int) -> None:
    name, call = bad_shape_calls(impl)[case]
    dealer, channel = dealer_and_channel(impl, 0)
    with pytest.raises(ShapeError) as info:
        call(dealer, channel)
    assert info.value.clause == "C22.3", name
    assert channel.messages == [], name


@pytest.mark.spec("C22.3", "C6.2", "C6.3", "C6.5", "C6.6")
@pytest.mark.parametrize(
    ("kwargs", "error", "clause"),
    [
        ({"f": -1, "offset": 2, "m": 1}, ParameterError, "C6.2"),
        ({"f": True, "offset": 2, "m": 1}, ParameterError, "C6.2"),
        ({"f": 0, "offset": 3, "m": 1}, ParameterError, "C6.6"),
        ({"f": 0, "offset": 2, "m": 0}, ParameterError, "C6.5"),
        ({"f": 0, "offset": 2, "m": 6}, ParameterError, "C6.5"),
        ({"f": 2, "offset": 2, "m": 1}, InsufficientWorkersError, "C6.3"),
        ({"f": 2, "offset": 1, "m": 1}, InsufficientWorkersError, "C6.6"),
    ],
    ids=str,
)
def test_parameter_errors_come_before_any_message(
    impl: ModuleType, kwargs: dict[str, Any], error: type[Exception], clause: str
) -> None:
    # v = 5: the blanchard convention needs f <= 1 (5 > 2f + 2), byzfl f <= 2 (5 > 2f);
    # f = 2 with byzfl would pass, so its case uses v = 4.
    v = 4 if kwargs["offset"] == 1 else 5
    dealer, channel = dealer_and_channel(impl, 0)
    with pytest.raises(error) as info:
        selection(impl).krum_selection(
            split(impl, [[0] * v] * v, 1), dealer=dealer, channel=channel, **kwargs
        )
    assert info.value.clause == clause  # type: ignore[attr-defined]
    assert channel.messages == []


# ---------------------------------------------------------------------------------------------
# C22.2, leakage: what a server receives looks uniform (small chi-squared checks)


def received_ring(channel: Any, receiver: str, labels: tuple[str, ...]) -> np.ndarray:
    """The ring elements ``receiver`` got from the other server under ``labels``."""
    parts = [
        np.frombuffer(bytes(m.payload), dtype="<u8")
        for m in channel.messages
        if m.receiver == receiver and m.sender != "dealer" and m.label in labels
    ]
    return np.concatenate(parts).astype(np.uint64)


@pytest.mark.spec("C22.2")
@pytest.mark.parametrize("inputs", ["zeros", "spread"])
def test_row_mul_openings_look_uniform(impl: ModuleType, inputs: str) -> None:
    rows, cols, runs = 4, 40, 32
    p = [0] * rows if inputs == "zeros" else [1 << 16, 0, 0, 0]
    x = [[0] * cols] * rows if inputs == "zeros" else [[k - 20 for k in range(cols)]] * rows
    got = []
    for run in range(runs):
        dealer, channel = dealer_and_channel(impl, 1000 + run)
        triples = dealer.row_triples(rows, cols, channel=channel)
        selection(impl).row_mul(split(impl, p, 1), split(impl, x, 2), triples, channel=channel)
        got.append(received_ring(channel, "S1", ("beaver/open",)))
    assert_uniform_u64(np.concatenate(got), f"row_mul openings ({inputs})")


@pytest.mark.spec("C22.2")
@pytest.mark.parametrize(
    "rows", [[[0]] * 6, [[0], [1], [3], [7], [15], [31]]], ids=["tie", "spread"]
)
def test_selection_ring_openings_look_uniform(rows: list[list[int]]) -> None:
    # The ring openings S1 receives (masked differences c, Beaver's e and f) in the optimized
    # tree; the trees send identical bytes (test_trees_send_identical_transcripts).
    dist = exact_distances(rows)
    got = []
    for run in range(40):
        dealer, channel = dealer_and_channel(opt, 2000 + run)
        selection(opt).krum_selection(
            split(opt, dist, run), f=1, offset=2, m=2, dealer=dealer, channel=channel
        )
        got.append(received_ring(channel, "S1", ("cmp/open", "beaver/open")))
    assert_uniform_u64(np.concatenate(got), "krum_selection openings")
