"""Section 22: Krum and Multi-Krum after NNM without revealing D (P22.7, C22.4).

``nnm_krum_selection`` runs in both trees (the ``impl`` fixture) against the library's own
plaintext composition on the exact D (C11.5, C11.6, ties C6.4), on small inputs drawn with many
repeated rows; the round's ``nnm+krum`` and ``nnm+multikrum`` with leakage ``index`` and
``output`` publish the composition's weights and z = sum_a (w_a / (m k)) x_a rounded once. The
trees send byte-identical transcripts, the round's bound is b_nnm (C8.15), shapes and parameters
are refused before any message (C22.3), and what a server receives looks uniform.
"""

from __future__ import annotations

import json
import math
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.cli import main
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.core.leakage import round_bound_log2
from sbrml.core.params import coordinate_bound_log2, hidden_bound_log2, nnm_bound_log2
from sbrml.core.registry import leakages
from sbrml.reference.preaggregation import NearestNeighborMixing, mixed_distances
from sbrml.reference.rules import krum_scores
from sbrml.rulespec import build_rule
from tests.helpers import as_list
from tests.helpers.examples import budget
from tests.spec.test_22_selection import (
    BOTH_TREES,
    CONVENTIONS,
    dealer_and_channel,
    exact_distances,
    rec,
    received_ring,
    ring,
    selection,
    shared_distances,
    split,
    transcript,
)
from tests.statistical.test_uniformity import assert_uniform_u64

F_BITS = 16  # the round's default F (D1.3)


def spec_and_options(offset: int, m: int) -> tuple[str, dict[str, Any]]:
    """The composition's name and options: Krum for m = 1, else Multi-Krum with that m."""
    name = "nnm+krum" if m == 1 else "nnm+multikrum"
    return name, {"m": None if m == 1 else m, "convention": CONVENTIONS[offset]}


def plaintext_weights(tree: ModuleType, dist: list[list[int]], f: int, offset: int, m: int) -> Any:
    """C11.6: the tree's own plaintext composition's weights on the exact integer D."""
    name, options = spec_and_options(offset, m)
    exact = dist if tree is ref else np.array(dist, dtype=np.uint64)
    return as_list(build_rule(tree, name, f, options).weights(exact))


def plaintext_w(dist: list[list[int]], f: int, offset: int, m: int) -> list[int]:
    """w_a = sum_b sel_b N_ba in the clear: NNM's neighbours (D11.2) and the inner rule's
    selection on the exact mixed distances (C11.5), both from the reference library."""
    mixing = NearestNeighborMixing(f).mixing(dist)
    name, options = spec_and_options(offset, m)
    inner = build_rule(ref, name.split("+")[1], f, options)
    chosen = [p > 0 for p in inner.weights(mixed_distances(mixing, dist))]
    v = len(dist)
    return [sum(mixing.numerators[b][a] for b in range(v) if chosen[b]) for a in range(v)]


def published(w: list[int], rows: list[list[int]], m: int, k: int) -> list[float]:
    """C22.4: z_k = sum_a (w_a / (m k)) x_ak with x = e 2^-F, exact, rounded once."""
    d = len(rows[0])
    return [
        float(Fraction(sum(wa * row[c] for wa, row in zip(w, rows, strict=True)), m * k << F_BITS))
        for c in range(d)
    ]


@st.composite
def mixing_cases(draw: st.DrawFn) -> tuple[list[list[int]], int, int, int, int]:
    """Integer rows in [-2^b, 2^b) with b = b_nnm(v, d), drawn from a small pool so that rows
    repeat and distances, neighbours and scores tie; f within the convention's precondition
    (which implies NNM's v > 2f); m in 1..v."""
    v, d = draw(st.integers(5, 10)), draw(st.integers(1, 3))
    offset = draw(st.sampled_from([2, 1]))
    # C6.3: v > 2f + 2 (offset 2); C6.6 and C11.2: v > 2f (offset 1).
    f = draw(st.integers(0, (v - 3) // 2 if offset == 2 else (v - 1) // 2))
    b = nnm_bound_log2(v, d)
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
# C22.4: the selection after NNM equals the plaintext composition's on the exact D


@pytest.mark.spec("C22.4", "P22.7", "C11.5", "C11.6", "C6.4")
@BOTH_TREES
@budget(90)
@given(case=mixing_cases())
def test_weights_equal_the_plaintext_composition(impl: ModuleType, case: Any) -> None:
    rows, f, offset, m, seed = case
    v, dist = len(rows), exact_distances(rows)
    shares = shared_distances(impl, rows, seed)
    dealer, channel = dealer_and_channel(impl, seed)
    w = rec(
        selection(impl).nnm_krum_selection(
            shares, f=f, offset=offset, m=m, dealer=dealer, channel=channel
        )
    )
    assert w == plaintext_w(dist, f, offset, m)
    assert sum(w) == m * (v - f) and all(0 <= wa <= m for wa in w)
    # Step 4's doubles are the composition's, bit for bit (C11.6).
    k = v - f
    assert [wa * (1.0 / m) / k for wa in w] == plaintext_weights(impl, dist, f, offset, m)


@pytest.mark.spec("C22.4", "P22.7", "C6.4")
@pytest.mark.parametrize(
    ("rows", "f", "offset", "m", "expected"),
    [
        # Every row equal: every neighbour ties (the lowest k indices), every score ties.
        ([[5]] * 6, 1, 2, 1, [1, 1, 1, 1, 1, 0]),
        ([[5]] * 6, 1, 2, 3, [3, 3, 3, 3, 3, 0]),
        # Two equal clusters of three: NNM mixes each row with its cluster and one more.
        ([[0], [0], [0], [9], [9], [9]], 2, 1, 1, [1, 1, 1, 1, 0, 0]),
        # A far row on each side of three close ones, at b_nnm(5, 1) = 22's edges: rows 1-4
        # all mix 1, 2, 3 and the upper far row (nearer than the lower), so y_1 = ... = y_4
        # and Multi-Krum takes y_1 and y_2 (ties to the lower index).
        ([[-(1 << 22)], [1], [2], [3], [(1 << 22) - 1]], 1, 1, 2, [0, 2, 2, 2, 2]),
    ],
)
def test_weights_on_ties_and_bounds(
    impl: ModuleType, rows: list[list[int]], f: int, offset: int, m: int, expected: list[int]
) -> None:
    dist = exact_distances(rows)
    assert plaintext_w(dist, f, offset, m) == expected
    dealer, channel = dealer_and_channel(impl, 7)
    w = selection(impl).nnm_krum_selection(
        split(impl, dist, 3), f=f, offset=offset, m=m, dealer=dealer, channel=channel
    )
    assert rec(w) == expected


# ---------------------------------------------------------------------------------------------
# P22.7's bound: every mixed distance and score below 2^62 under b_nnm (C8.15)


@pytest.mark.spec("P22.7", "C8.15")
@pytest.mark.parametrize(("n", "d"), [(5, 1), (10, 3), (9, 100), (100, 1000)])
def test_b_nnm_keeps_every_score_below_two_to_the_62(n: int, d: int) -> None:
    b = nnm_bound_log2(n, d)
    assert b == (59 - math.ceil(math.log2(d)) - 3 * math.ceil(math.log2(n))) // 2
    assert b <= hidden_bound_log2(n, d) <= coordinate_bound_log2(d)
    # The widest spread: alternate rows at the two ends of [-2^b, 2^b); f = 0 with ByzFL's
    # convention sums the most distances per score. The mixed distances are 2 k^2 ||y - y'||^2.
    rows = [[-(1 << b)] * d if i % 2 else [(1 << b) - 1] * d for i in range(n)]
    dist = exact_distances(rows)
    assert max(max(row) for row in dist) < 1 << 62
    f = (n - 1) // 4
    mixed = [
        [2 * v for v in row] for row in mixed_distances(NearestNeighborMixing(f).mixing(dist), dist)
    ]
    assert max(krum_scores(mixed, f, 1)) < 1 << 62


# ---------------------------------------------------------------------------------------------
# The round: nnm+krum and nnm+multikrum with leakage index and output (C8.15, P22.7 step 5)


def round_inputs(impl: ModuleType, rows: list[list[int]]) -> Any:
    """The workers' inputs x = e 2^-F, exact doubles whose encoding is e (C1.1)."""
    x = [[math.ldexp(v, -F_BITS) for v in row] for row in rows]
    return x if impl is ref else np.asarray(x)


@pytest.mark.spec("C22.4", "C8.15", "P22.7")
@BOTH_TREES
@budget(50)
@given(case=mixing_cases())
def test_round_publishes_the_composition(impl: ModuleType, case: Any) -> None:
    rows, f, offset, m, seed = case
    v, dist = len(rows), exact_distances(rows)
    name, options = spec_and_options(offset, m)
    rule = build_rule(impl, name, f, options)
    w, k = plaintext_w(dist, f, offset, m), v - f
    expected = published(w, rows, m, k)
    exact = [
        sum(
            Fraction(wa, m * k) * Fraction(row[c], 1 << F_BITS)
            for wa, row in zip(w, rows, strict=True)
        )
        for c in range(len(rows[0]))
    ]
    for leakage in ("index", "output"):
        result = impl.secure_aggregate(
            round_inputs(impl, rows),
            rule,
            rng=impl.DeterministicRandomSource(seed),
            leakage=leakage,
        )
        assert result.leakage == leakage and result.valid == list(range(v))
        z = as_list(result.z)
        assert z == expected
        assert all(
            abs(Fraction(zc) - ec) <= abs(Fraction(zc)) / 2**52
            for zc, ec in zip(z, exact, strict=True)
        )
        assert result.distances is None
        if leakage == "index":
            assert as_list(result.weights) == plaintext_weights(impl, dist, f, offset, m)
        else:
            assert result.weights is None


@pytest.mark.spec("C22.4", "C8.15")
@pytest.mark.parametrize("name", ["nnm+krum", "nnm+multikrum"])
def test_round_hidden_modes_match_the_distance_mode(impl: ModuleType, name: str) -> None:
    # Real-valued rows: the hidden modes' weights are the distance mode's (S1 runs the
    # composition on D there), and z agrees up to the weight encoding of C8.6 there.
    x = [[0.5 * math.sin(1.7 * i + c) for c in range(3)] for i in range(8)]
    data = x if impl is ref else np.asarray(x)
    results = {
        leakage: impl.secure_aggregate(
            data,
            build_rule(impl, name, 1),
            rng=impl.DeterministicRandomSource(2),
            leakage=leakage,
        )
        for leakage in ("distances", "index", "output")
    }
    base = results["distances"]
    assert as_list(results["index"].weights) == as_list(base.weights)
    for leakage in ("index", "output"):
        r = results[leakage]
        assert np.allclose(as_list(r.z), as_list(base.z), rtol=0, atol=2.0**-20)
        labels = {msg.label for msg in r.channel.messages}
        assert not labels & {"distances", "weights"}
        assert ("selection" in labels) == (leakage == "index")
    assert as_list(results["index"].z) == as_list(results["output"].z)


@pytest.mark.spec("C22.4", "C7.3", "P22.7")
@pytest.mark.parametrize(
    ("rows", "f", "offset", "m"),
    [
        ([[0], [0], [1], [7], [7], [30]], 1, 2, 1),
        ([[1, 2], [1, 2], [3, -4], [0, 0], [-5, 5], [2, 2], [9, 9]], 2, 1, 3),
        ([[4, 4, 4]] * 5, 1, 2, 2),
    ],
)
def test_trees_send_identical_transcripts(
    rows: list[list[int]], f: int, offset: int, m: int
) -> None:
    results = []
    for tree in (ref, opt):
        dealer, channel = dealer_and_channel(tree, 11)
        w = selection(tree).nnm_krum_selection(
            shared_distances(tree, rows, 5), f=f, offset=offset, m=m, dealer=dealer, channel=channel
        )
        results.append((as_list(w), transcript(channel)))
    assert results[0] == results[1] and len(results[0][1]) > 0
    name, options = spec_and_options(offset, m)
    for leakage in ("index", "output"):
        r, o = (
            tree.secure_aggregate(
                round_inputs(tree, rows),
                build_rule(tree, name, f, options),
                rng=tree.DeterministicRandomSource(4),
                leakage=leakage,
            )
            for tree in (ref, opt)
        )
        assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
        assert as_list(r.z) == as_list(o.z)


# ---------------------------------------------------------------------------------------------
# C8.15: the round's coordinate bound after NNM is b_nnm; the registry lists the modes


@pytest.mark.spec("C8.15", "C8.13", "P22.7")
def test_the_round_applies_b_nnm(impl: ModuleType) -> None:
    n, d = 8, 3
    # b(3) = 30, b_h(8, 3) = 27, b_nnm(8, 3) = 24: a coordinate of 2^24 / 2^16 = 256 is
    # refused by the honest worker in nnm+krum's hidden modes, -256 = -2^24 is not.
    assert (coordinate_bound_log2(d), hidden_bound_log2(n, d), nnm_bound_log2(n, d)) == (30, 27, 24)
    x = [[0.25 * math.sin(1.7 * i + c) for c in range(d)] for i in range(n)]
    x[2][1], x[5][0] = 256.0, -256.0
    data = x if impl is ref else np.asarray(x)
    rule = build_rule(impl, "nnm+krum", 1)
    for leakage in ("index", "output"):
        assert round_bound_log2(leakage, rule, n, d) == 24
        hidden = impl.secure_aggregate(
            data, rule, rng=impl.DeterministicRandomSource(1), leakage=leakage
        )
        assert 2 not in hidden.valid and "C8.13" in hidden.excluded[2] and 5 in hidden.valid
    assert round_bound_log2("distances", rule, n, d) == 30
    kept = impl.secure_aggregate(data, rule, rng=impl.DeterministicRandomSource(1))
    assert kept.leakage == "distances" and 2 in kept.valid
    # Krum alone keeps b_h: the same row passes.
    assert round_bound_log2("output", impl.Krum(1), n, d) == 27
    krum = impl.secure_aggregate(
        data, impl.Krum(1), rng=impl.DeterministicRandomSource(1), leakage="output"
    )
    assert 2 in krum.valid
    with pytest.raises(ShapeError) as info:
        impl.encode_update(x[2], bound_log2=nnm_bound_log2(n, d))
    assert info.value.clause == "C8.13" and "2^24" in str(info.value)


@pytest.mark.spec("C8.15", "P22.7")
def test_registry_lists_the_hidden_modes_of_krum_after_nnm() -> None:
    for name in ("nnm+krum", "nnm+multikrum"):
        assert leakages(name) == ("distances", "index", "output")
    for name in ("nnm+geomed", "bucketing+krum", "bucketing+nnm+krum", "nnm+medoid"):
        assert leakages(name) == ("distances",)


@pytest.mark.spec("C8.15")
@pytest.mark.parametrize(("name", "leakage"), [("bucketing+krum", "output"), ("nnm+mda", "index")])
def test_other_compositions_still_refuse_hidden_modes(
    impl: ModuleType, name: str, leakage: str
) -> None:
    x = [[float(i + c) for c in range(2)] for i in range(8)]
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            x if impl is ref else np.asarray(x),
            build_rule(impl, name, 1),
            rng=impl.DeterministicRandomSource(0),
            leakage=leakage,
        )
    assert info.value.clause == "C8.15"


@pytest.mark.spec("C8.4", "C6.5")
@pytest.mark.parametrize("leakage", ["distances", "index", "output"])
def test_multikrum_after_nnm_with_m_beyond_v_stops_before_any_comparison(
    impl: ModuleType, leakage: str
) -> None:
    # m = 7 of n = 7, one worker's shares dropped: |V| = 6 < m. The round stops with C8.4 on
    # the composition's inner m, as for Multi-Krum alone, before D or a comparison exists.
    x = [[float(i), float(-i)] for i in range(7)]
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            x if impl is ref else np.asarray(x),
            build_rule(impl, "nnm+multikrum", 1, {"m": 7}),
            rng=impl.DeterministicRandomSource(0),
            leakage=leakage,
            tamper=lambda msgs: [msg for msg in msgs if msg.sender != "W3"],
        )
    assert info.value.clause == "C8.4" and "m <= n" in str(info.value)


# ---------------------------------------------------------------------------------------------
# C22.3: shapes and parameters are refused before any message


def bad_shape_calls(tree: ModuleType) -> list[tuple[str, Any]]:
    """(name, call(dealer, channel)) for every shape C22.3 must refuse."""
    call = selection(tree).nnm_krum_selection
    d5 = split(tree, [[0] * 5] * 5, 1)
    d6 = split(tree, [[0] * 6] * 6, 1)
    rect = split(tree, [[0] * 5] * 4, 1)
    ragged = ([[0] * 5, [0] * 4, [0] * 5, [0] * 5, [0] * 5], d5[1])
    empty = (ring(tree, []), ring(tree, []))
    return [
        ("non-square D", lambda dl, ch: call(rect, f=0, offset=1, m=1, dealer=dl, channel=ch)),
        (
            "shares of different sizes",
            lambda dl, ch: call((d5[0], d6[1]), f=0, offset=1, m=1, dealer=dl, channel=ch),
        ),
        ("empty D", lambda dl, ch: call(empty, f=0, offset=1, m=1, dealer=dl, channel=ch)),
        ("a ragged row", lambda dl, ch: call(ragged, f=0, offset=1, m=1, dealer=dl, channel=ch)),
        (
            "one share",
            lambda dl, ch: call((d5[0],), f=0, offset=1, m=1, dealer=dl, channel=ch),
        ),
    ]


@pytest.mark.spec("C22.3", "P22.7")
@pytest.mark.parametrize("case", range(5))
def test_shape_errors_come_before_any_message(impl: ModuleType, case: int) -> None:
    name, call = bad_shape_calls(impl)[case]
    dealer, channel = dealer_and_channel(impl, 0)
    with pytest.raises(ShapeError) as info:
        call(dealer, channel)
    assert info.value.clause == "C22.3", name
    assert info.value.function == "nnm_krum_selection", name
    assert channel.messages == [], name


@pytest.mark.spec("C22.3", "P22.7", "C11.2", "C6.2", "C6.3", "C6.5", "C6.6")
@pytest.mark.parametrize(
    ("v", "kwargs", "error", "clause"),
    [
        (5, {"f": -1, "offset": 2, "m": 1}, ParameterError, "C6.2"),
        (5, {"f": True, "offset": 2, "m": 1}, ParameterError, "C6.2"),
        (5, {"f": 0, "offset": 3, "m": 1}, ParameterError, "C6.6"),
        (5, {"f": 0, "offset": 2, "m": 0}, ParameterError, "C6.5"),
        (5, {"f": 0, "offset": 2, "m": 6}, ParameterError, "C6.5"),
        # NNM's precondition first (D11.6), for either convention.
        (4, {"f": 2, "offset": 1, "m": 1}, InsufficientWorkersError, "C11.2"),
        (4, {"f": 2, "offset": 2, "m": 1}, InsufficientWorkersError, "C11.2"),
        # NNM's holds (5 > 2f), Krum's does not (5 <= 2f + 2).
        (5, {"f": 2, "offset": 2, "m": 1}, InsufficientWorkersError, "C6.3"),
    ],
    ids=str,
)
def test_parameter_errors_come_before_any_message(
    impl: ModuleType, v: int, kwargs: dict[str, Any], error: type[Exception], clause: str
) -> None:
    dealer, channel = dealer_and_channel(impl, 0)
    with pytest.raises(error) as info:
        selection(impl).nnm_krum_selection(
            split(impl, [[0] * v] * v, 1), dealer=dealer, channel=channel, **kwargs
        )
    assert info.value.clause == clause  # type: ignore[attr-defined]
    assert info.value.function == "nnm_krum_selection"  # type: ignore[attr-defined]
    assert channel.messages == []


# ---------------------------------------------------------------------------------------------
# C22.4, leakage: with output, no D, selection or weights are sent, and openings look uniform


@pytest.mark.spec("C22.4", "C8.15")
def test_output_mode_sends_no_distances_weights_or_selection(impl: ModuleType) -> None:
    rows = [[0], [0], [1], [7], [7], [30], [2]]
    result = impl.secure_aggregate(
        round_inputs(impl, rows),
        build_rule(impl, "nnm+multikrum", 1, {"m": 2}),
        rng=impl.DeterministicRandomSource(9),
        leakage="output",
    )
    labels = {msg.label for msg in result.channel.messages}
    assert not labels & {"distances", "weights", "selection"}
    # Between the servers only masked openings and the output share cross (P21, P4.2, P22.6).
    between = {
        msg.label for msg in result.channel.messages if {msg.sender, msg.receiver} == {"S0", "S1"}
    }
    assert between <= {"valid", "range/open", "range/high", "cmp/open", "cmp/and", "cmp/b2a"} | {
        "beaver/open",
        "output",
    }
    assert result.weights is None and result.distances is None


@pytest.mark.spec("C22.4")
@pytest.mark.parametrize(
    "rows", [[[0]] * 6, [[0], [1], [3], [7], [15], [31]]], ids=["tie", "spread"]
)
def test_mixing_ring_openings_look_uniform(rows: list[list[int]]) -> None:
    # The ring openings S1 receives (masked differences, Beaver's e and f) in the optimized
    # tree; the trees send identical bytes (test_trees_send_identical_transcripts).
    dist = exact_distances(rows)
    got = []
    for run in range(24):
        dealer, channel = dealer_and_channel(opt, 3000 + run)
        selection(opt).nnm_krum_selection(
            split(opt, dist, run), f=1, offset=2, m=2, dealer=dealer, channel=channel
        )
        got.append(received_ring(channel, "S1", ("cmp/open", "beaver/open")))
    assert_uniform_u64(np.concatenate(got), "nnm_krum_selection openings")


# ---------------------------------------------------------------------------------------------
# The command line: --leakage index/output for the compositions (docs/cli.md)


@pytest.mark.spec("C8.15")
def test_cli_runs_krum_after_nnm_without_d(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.array([[0.25 * math.sin(1.3 * i + c) for c in range(4)] for i in range(7)])
    path = tmp_path / "x.npy"
    np.save(path, x)
    for leakage in ("index", "output"):
        args = ["aggregate", str(path), "--rule", "nnm+krum", "-f", "1", "--leakage", leakage]
        assert main([*args, "--json", "--seed", "3"]) == 0
        report = json.loads(capsys.readouterr().out)
        assert report["leakage"] == leakage
        assert (report["weights"] is None) == (leakage == "output")
