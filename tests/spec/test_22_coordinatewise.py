"""Section 22, coordinate-wise rules on shares (spec/22-secure-rules.md, D22.1, P22.1-P22.3).

The secure median, trimmed mean and Meamed are run on shares of random and edge inputs in both
trees and compared with the reference tree's plaintext rules of section 9 on the decoded
inputs (C22.1); the trees must send byte-identical transcripts; every bad argument must be
refused before any message (C22.3).
"""

from __future__ import annotations

import itertools
import math
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized.beaver as opt_beaver
import sbrml.optimized.secure_coordinatewise as opt_scw
import sbrml.reference.beaver as ref_beaver
import sbrml.reference.secure_coordinatewise as ref_scw
from sbrml.core.channel import Channel
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.core.network import comparator_count, sorting_layers
from sbrml.core.params import coordinate_bound_log2
from sbrml.reference.coordinatewise import CoordinateMedian, Meamed, TrimmedMean
from sbrml.reference.randomness import DeterministicRandomSource
from sbrml.reference.ring import decode
from sbrml.reference.sharing import share
from tests.helpers import as_list
from tests.helpers.examples import budget

MASK = (1 << 64) - 1
F = 16
PLAINTEXT: dict[str, Any] = {
    "median": CoordinateMedian,
    "trimmed-mean": TrimmedMean,
    "meamed": Meamed,
}
TREES = {"reference": (ref_scw, ref_beaver), "optimized": (opt_scw, opt_beaver)}


@pytest.fixture(params=sorted(TREES))
def tree(request: pytest.FixtureRequest) -> tuple[ModuleType, ModuleType]:
    """Each test runs once per tree: (secure_coordinatewise module, beaver module)."""
    return TREES[request.param]


def shared_rows(values: list[list[int]], seed: int = 3) -> tuple[list[list[int]], ...]:
    """Shares (P3.1) of v rows of signed integers, as two lists of v ring vectors."""
    rng = DeterministicRandomSource(seed)
    pairs = [share([x & MASK for x in row], rng=rng) for row in values]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def in_tree(module: ModuleType, rows: tuple[list[list[int]], ...]) -> Any:
    """The shares in the tree's own representation."""
    if module is ref_scw:
        return rows[0], rows[1]
    return tuple(np.array(r, dtype=np.uint64) for r in rows)


def run_rule(
    tree: tuple[ModuleType, ModuleType],
    name: str,
    f: int,
    values: list[list[int]],
    *,
    bits: int,
    channel: Channel | None = None,
) -> list[float]:
    """P22.2 on shares of ``values`` in one tree, S reconstructed and published."""
    scw, beaver = tree
    channel = channel if channel is not None else Channel()
    dealer = beaver.Dealer(rng=beaver_source(beaver, 7))
    (s0, s1), q = scw.coordinatewise_numerator(
        name, f, in_tree(scw, shared_rows(values)), bits=bits, dealer=dealer, channel=channel
    )
    total = [(a + b) & MASK for a, b in zip(as_list(s0), as_list(s1), strict=True)]
    out = scw.publish(total if scw is ref_scw else np.array(total, dtype=np.uint64), q, F)
    return list(as_list(out))


def signed_rec(share0: Any, share1: Any) -> list[int]:
    """Reconstruct two shares of a ring vector as signed integers (D1.2)."""
    total = [(int(a) + int(b)) & MASK for a, b in zip(share0, share1, strict=True)]
    return [x - (1 << 64) if x >> 63 else x for x in total]


def beaver_source(beaver: ModuleType, seed: int) -> Any:
    """A deterministic source of the tree's own type (both draw the same keystream)."""
    if beaver is ref_beaver:
        return DeterministicRandomSource(seed)
    from sbrml.optimized.randomness import DeterministicRandomSource as OptSource

    return OptSource(seed)


def plaintext(name: str, f: int, values: list[list[int]]) -> list[float]:
    """The reference tree's section 9 rule on the decoded inputs."""
    decoded = [decode([x & MASK for x in row], frac_bits=F) for row in values]
    out: list[float] = PLAINTEXT[name](f)(decoded)
    return out


def lower_value_meamed(column: list[int], f: int) -> float:
    """P22.3's documented result: the k = v - f values nearest the median, a value below the
    median winning a distance tie against one above (the lower value), mean published."""
    v = len(column)
    y = sorted(column)
    two_m = 2 * y[v // 2] if v % 2 else y[v // 2 - 1] + y[v // 2]
    nearest = sorted(y, key=lambda x: (abs(2 * x - two_m), x))[: v - f]
    return math.ldexp(sum(nearest) / (v - f), -F)


def tie_across_median(column: list[int]) -> bool:
    """C22.1's exception: a value below and one above the median at the same distance."""
    v = len(column)
    y = sorted(column)
    two_m = 2 * y[v // 2] if v % 2 else y[v // 2 - 1] + y[v // 2]
    below = {two_m - 2 * x for x in y if 2 * x < two_m}
    above = {2 * x - two_m for x in y if 2 * x > two_m}
    return bool(below & above)


@st.composite
def cases(draw: st.DrawFn) -> tuple[str, int, list[list[int]], int]:
    """(rule, f, v x d signed values in [-2^b, 2^b), b) with b = b(d), edges favoured."""
    v, d = draw(st.integers(1, 10)), draw(st.integers(1, 5))
    bits = coordinate_bound_log2(d)
    edge = st.sampled_from([-(1 << bits), (1 << bits) - 1, 0, -1, 1])
    value = st.one_of(edge, st.integers(-(1 << bits), (1 << bits) - 1), st.integers(-3, 3))
    rows = draw(st.lists(st.lists(value, min_size=d, max_size=d), min_size=v, max_size=v))
    name = draw(st.sampled_from(sorted(PLAINTEXT)))
    return name, draw(st.integers(0, (v - 1) // 2)), rows, bits


# D22.1: the network.


@pytest.mark.spec("D22.1")
@pytest.mark.parametrize(("v", "comparators", "depth"), [(5, 9, 6), (9, 28, 10), (100, 1104, 28)])
def test_network_counts_stated_in_the_spec(v: int, comparators: int, depth: int) -> None:
    layers = sorting_layers(v)
    assert (comparator_count(v), len(layers)) == (comparators, depth)
    for layer in layers:
        positions = [p for pair in layer for p in pair]
        assert len(set(positions)) == len(positions), "a layer touches a position twice"
        assert all(0 <= i < j < v for i, j in layer)


@pytest.mark.spec("D22.1")
@pytest.mark.parametrize("v", range(1, 13))
def test_network_sorts_every_zero_one_input(v: int) -> None:
    # The 0-1 principle: a comparator network that sorts every 0/1 input sorts every input.
    layers = sorting_layers(v)
    for bits in itertools.product((0, 1), repeat=v):
        y = list(bits)
        for layer in layers:
            for i, j in layer:
                y[i], y[j] = min(y[i], y[j]), max(y[i], y[j])
        assert y == sorted(bits), bits


# P22.1, C22.1: correctness against the plaintext rules.


@pytest.mark.spec("C22.1")
@budget(500)
@given(case=cases())
def test_rules_on_shares_equal_the_plaintext_rules(
    case: tuple[str, int, list[list[int]], int],
) -> None:
    name, f, values, bits = case
    want = plaintext(name, f, values)
    columns = [list(c) for c in zip(*values, strict=True)]
    for tree in TREES.values():
        got = run_rule(tree, name, f, values, bits=bits)
        if name != "meamed":
            assert got == want
            continue
        for k, column in enumerate(columns):
            assert got[k] == lower_value_meamed(column, f)
            if not tie_across_median(column):
                assert got[k] == want[k]


@pytest.mark.spec("C22.1")
def test_meamed_tie_across_the_median_takes_the_lower_value(
    tree: tuple[ModuleType, ModuleType],
) -> None:
    # Median 1; worker 0's 2 and worker 1's 0 are both at distance 1. C9.2 keeps worker 0
    # (lower index): mean of {2, 1}. P22.3 keeps the lower value: mean of {0, 1}.
    values = [[2], [0], [1]]
    got = run_rule(tree, "meamed", 1, values, bits=coordinate_bound_log2(1))
    assert plaintext("meamed", 1, values) == [math.ldexp(1.5, -F)]
    assert got == [math.ldexp(0.5, -F)]


@pytest.mark.spec("C22.1")
@pytest.mark.parametrize("name", sorted(PLAINTEXT))
@pytest.mark.parametrize(("v", "f"), [(1, 0), (2, 0), (7, 3), (8, 3), (9, 4), (10, 2)])
def test_rules_on_edge_values(
    tree: tuple[ModuleType, ModuleType], name: str, v: int, f: int
) -> None:
    d = 3
    bits = coordinate_bound_log2(d)
    low, high = -(1 << bits), (1 << bits) - 1
    # Column 0 alternates the two bounds; column 1 is all -2^b; column 2 all 2^b - 1.
    values = [[low if i % 2 else high, low, high] for i in range(v)]
    got, want = run_rule(tree, name, f, values, bits=bits), plaintext(name, f, values)
    if name != "meamed":
        assert got == want
        return
    # With v even, column 0's median is -1/2 and the two bounds tie across it (C22.1).
    for k, column in enumerate(zip(*values, strict=True)):
        assert got[k] == lower_value_meamed(list(column), f)
        if not tie_across_median(list(column)):
            assert got[k] == want[k]


@pytest.mark.spec("C22.1")
@pytest.mark.parametrize("name", sorted(PLAINTEXT))
def test_both_trees_send_identical_transcripts(name: str) -> None:
    d = 6
    bits = coordinate_bound_log2(d)
    rng = np.random.default_rng(5)
    values = rng.integers(-(1 << bits), 1 << bits, size=(9, d)).tolist()
    channels = {key: Channel() for key in TREES}
    outputs = {
        key: run_rule(tree, name, 2, values, bits=bits, channel=channels[key])
        for key, tree in TREES.items()
    }
    assert outputs["reference"] == outputs["optimized"] == plaintext(name, 2, values)
    assert channels["reference"].transcript_bytes() == channels["optimized"].transcript_bytes()
    assert channels["reference"].bytes_by_link() == channels["optimized"].bytes_by_link()


@pytest.mark.spec("C22.1")
def test_secure_sort_sorts_every_coordinate(tree: tuple[ModuleType, ModuleType]) -> None:
    scw, beaver = tree
    bits = 4
    rng = np.random.default_rng(9)
    values = rng.integers(-(1 << bits), 1 << bits, size=(7, 5)).tolist()
    rows = in_tree(scw, shared_rows(values))
    before = as_list(rows)
    y = scw.secure_sort(
        rows, width=bits + 1, dealer=beaver.Dealer(rng=beaver_source(beaver, 1)), channel=Channel()
    )
    signed = [signed_rec(r0, r1) for r0, r1 in zip(*as_list(y), strict=True)]
    assert [list(c) for c in zip(*signed, strict=True)] == [
        sorted(c) for c in zip(*values, strict=True)
    ]
    assert as_list(rows) == before, "the input shares were written to"


@pytest.mark.spec("C22.1")
def test_compare_exchange_requests_material_in_the_spec_order(
    tree: tuple[ModuleType, ModuleType],
) -> None:
    scw, beaver = tree
    values = [[5, -3], [1, 2], [-4, 7], [0, 0]]
    channel = Channel()
    rows = in_tree(scw, shared_rows(values))
    out = scw.compare_exchange(
        rows,
        [(0, 2), (1, 3)],
        width=5,
        dealer=beaver.Dealer(rng=beaver_source(beaver, 2)),
        channel=channel,
    )
    # P22.1: mask (w + 1 planes, no high part), A(w) AND triples, N daBits, N scalar triples.
    labels = [m.label for m in channel.messages if m.sender == "dealer"]
    assert labels == [
        x
        for x in ("offline/masks", "offline/and", "offline/dabits", "offline/triples")
        for _ in (0, 1)
    ]
    lanes = 4
    masks = [m for m in channel.messages if m.label == "offline/masks"]
    assert masks[0].size == 8 * lanes + 6 * 8  # r, then 6 planes of one word
    assert signed_rec(*([x for row in as_list(o) for x in row] for o in out)) == [
        -4,
        -3,
        0,
        0,
        5,
        7,
        1,
        2,
    ]


# P22.2: publish.


@pytest.mark.spec("C22.1")
@given(
    numerator=st.lists(st.integers(-(1 << 63), (1 << 63) - 1), min_size=1, max_size=6),
    q=st.integers(1, 20),
    frac_bits=st.sampled_from([0, 16, 30, 62]),
)
def test_publish_rounds_the_quotient_correctly_in_both_trees(
    numerator: list[int], q: int, frac_bits: int
) -> None:
    ring = [s & MASK for s in numerator]
    want = [math.ldexp(float(Fraction(s, q)), -frac_bits) for s in numerator]
    assert ref_scw.publish(ring, q, frac_bits) == want
    assert opt_scw.publish(np.array(ring, dtype=np.uint64), q, frac_bits).tolist() == want


def test_publish_rejects_bad_arguments() -> None:
    for scw in (ref_scw, opt_scw):
        with pytest.raises(ParameterError) as info:
            scw.publish([1, 2], 0, 16)
        assert info.value.clause == "P22.2"
        with pytest.raises(ParameterError) as info:
            scw.publish([1, 2], 2, 63)
        assert info.value.clause == "D1.3"


# Preconditions and C22.3: refused before any message.


@pytest.mark.spec("C9.1")
@pytest.mark.parametrize("name", sorted(PLAINTEXT))
@pytest.mark.parametrize(("v", "f"), [(2, 1), (4, 2), (5, 3)])
def test_too_few_rows_raise_c9_1_before_any_message(
    tree: tuple[ModuleType, ModuleType], name: str, v: int, f: int
) -> None:
    scw, beaver = tree
    channel = Channel()
    rows = in_tree(scw, shared_rows([[0, 1]] * v))
    with pytest.raises(InsufficientWorkersError) as info:
        scw.coordinatewise_numerator(
            name,
            f,
            rows,
            bits=4,
            dealer=beaver.Dealer(rng=beaver_source(beaver, 1)),
            channel=channel,
        )
    assert info.value.clause == "C9.1"
    assert channel.messages == []


def bad_calls() -> dict[str, tuple[type[Exception], str, Any]]:
    """Bad arguments: (error class, clause, call(scw, rows, dealer, channel))."""
    good_layer = [(0, 1)]
    return {
        "unknown rule": (
            ParameterError,
            "P22.2",
            lambda s, r, d, c: s.coordinatewise_numerator(
                "krum", 0, r, bits=4, dealer=d, channel=c
            ),
        ),
        "negative f": (
            ParameterError,
            "C6.2",
            lambda s, r, d, c: s.coordinatewise_numerator(
                "median", -1, r, bits=4, dealer=d, channel=c
            ),
        ),
        "bound too wide": (
            ParameterError,
            "P22.2",
            lambda s, r, d, c: s.coordinatewise_numerator(
                "meamed", 0, r, bits=61, dealer=d, channel=c
            ),
        ),
        "width zero": (
            ParameterError,
            "C21.4",
            lambda s, r, d, c: s.compare_exchange(r, good_layer, width=0, dealer=d, channel=c),
        ),
        "sort width 64": (
            ParameterError,
            "C21.4",
            lambda s, r, d, c: s.secure_sort(r, width=64, dealer=d, channel=c),
        ),
        "empty layer": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.compare_exchange(r, [], width=5, dealer=d, channel=c),
        ),
        "reversed comparator": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.compare_exchange(r, [(1, 0)], width=5, dealer=d, channel=c),
        ),
        "comparator beyond v": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.compare_exchange(r, [(0, 3)], width=5, dealer=d, channel=c),
        ),
        "overlapping comparators": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.compare_exchange(
                r, [(0, 1), (1, 2)], width=5, dealer=d, channel=c
            ),
        ),
        "one share": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.secure_sort((r[0],), width=5, dealer=d, channel=c),
        ),
        "shares of different shapes": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.secure_sort((r[0], r[1][:2]), width=5, dealer=d, channel=c),
        ),
        "no rows": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.coordinatewise_numerator(
                "median", 0, (r[0][:0], r[1][:0]), bits=4, dealer=d, channel=c
            ),
        ),
        "not ring elements": (
            ShapeError,
            "C22.3",
            lambda s, r, d, c: s.secure_sort(
                ([[-1, 0]] * 3, [[0, 0]] * 3), width=5, dealer=d, channel=c
            ),
        ),
    }


@pytest.mark.spec("C22.3")
@pytest.mark.parametrize("case", sorted(bad_calls()))
def test_bad_arguments_are_refused_before_any_message(
    tree: tuple[ModuleType, ModuleType], case: str
) -> None:
    scw, beaver = tree
    error, clause, call = bad_calls()[case]
    channel = Channel()
    rows = in_tree(scw, shared_rows([[1, 2], [3, 4], [5, 6]]))
    with pytest.raises(error) as info:
        call(scw, rows, beaver.Dealer(rng=beaver_source(beaver, 1)), channel)
    assert info.value.clause == clause  # type: ignore[attr-defined]
    assert channel.messages == []


@pytest.mark.spec("C22.3")
def test_ragged_rows_are_refused(tree: tuple[ModuleType, ModuleType]) -> None:
    scw, beaver = tree
    channel = Channel()
    rows = ([[1, 2], [3]], [[1, 2], [3]])
    with pytest.raises(ShapeError) as info:
        scw.secure_sort(
            rows, width=5, dealer=beaver.Dealer(rng=beaver_source(beaver, 1)), channel=channel
        )
    assert info.value.clause == "C22.3"
    assert channel.messages == []


class ShortDealer:
    """A dealer whose ``part`` material covers one lane too many (a faulty provider)."""

    def __init__(self, dealer: Any, part: str):
        self._dealer, self._part = dealer, part

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._dealer, name)
        if name != self._part:
            return method
        return lambda lanes, *args, **kwargs: method(lanes + 1, *args, **kwargs)


@pytest.mark.spec("C22.3")
@pytest.mark.parametrize("part", ["masks", "and_triples", "dabits", "scalar_triples"])
def test_material_of_the_wrong_shape_is_refused_before_the_servers_send(
    tree: tuple[ModuleType, ModuleType], part: str
) -> None:
    scw, beaver = tree
    channel = Channel()
    rows = in_tree(scw, shared_rows([[1, 2], [3, 4], [5, 6]]))
    dealer = ShortDealer(beaver.Dealer(rng=beaver_source(beaver, 1)), part)
    with pytest.raises(ShapeError) as info:
        scw.compare_exchange(rows, [(0, 2)], width=5, dealer=dealer, channel=channel)
    assert info.value.clause == "C22.3"
    assert {m.sender for m in channel.messages} == {"dealer"}
