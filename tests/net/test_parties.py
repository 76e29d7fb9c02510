"""Per-party execution (spec section 23, D23.1, C23.1) without a network: S0, S1, the dealer
and every worker run in their own thread over a channel that plays only that party."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

import sbrml.optimized as tree
from sbrml.core.errors import ShapeError
from sbrml.optimized import DeterministicRandomSource
from sbrml.optimized.ring import WEIGHT_FRAC_BITS
from sbrml.optimized.round import secure_aggregate
from sbrml.optimized.round_offline import round_setup
from sbrml.rulespec import build_rule
from tests.helpers.parties import play_in_threads


def run_parties(
    inputs: np.ndarray[Any, Any], rule_name: str, f: int, seed: int, **options: Any
) -> dict[str, Any]:
    """One round with every party in its own thread; returns each party's channel and the
    servers' results (or the exception a party raised)."""
    n, d = inputs.shape
    setup = round_setup(n, d, build_rule(tree, rule_name, f), **options)
    channels, out = play_in_threads(setup, inputs, seed=seed)
    out["channels"] = channels
    return out


CASES = [
    ("krum", 2, 9, 20, {"variant": "gram"}),
    ("multikrum", 1, 6, 3, {"variant": "pairwise"}),
    ("nnm+krum", 1, 6, 5, {"variant": "gram"}),
    ("mean", 0, 5, 7, {}),
    ("medoid", 1, 5, 4, {"variant": "gram"}),
    # P23.2: rounds that draw dealer material while they compare on shares.
    ("median", 2, 9, 6, {}),
    ("trimmed-mean", 1, 6, 5, {}),
    ("meamed", 1, 5, 4, {}),
    ("krum", 1, 6, 4, {"leakage": "index"}),
    ("multikrum", 1, 6, 4, {"leakage": "output"}),
    ("nnm+krum", 1, 6, 3, {"leakage": "output"}),
    ("nnm+multikrum", 1, 7, 3, {"leakage": "index"}),
]


@pytest.mark.spec("C23.1", "D23.1", "P23.2")
@pytest.mark.parametrize(("rule_name", "f", "n", "d", "options"), CASES)
def test_every_party_in_its_own_thread_gives_the_in_process_views(
    rule_name: str, f: int, n: int, d: int, options: dict[str, Any]
) -> None:
    gen = np.random.default_rng(n * d)
    inputs = gen.normal(size=(n, d))
    inputs[0] += 50.0  # one far-away worker, so that the rule has something to do
    ref = secure_aggregate(
        inputs, build_rule(tree, rule_name, f), rng=DeterministicRandomSource(11), **options
    )
    got = run_parties(inputs, rule_name, f, 11, **options)
    s0, s1 = got["S0"], got["S1"]
    assert not isinstance(s0, Exception), s0
    assert not isinstance(s1, Exception), s1
    np.testing.assert_array_equal(s1.z, ref.z)
    assert s0.z is None
    # S1 holds the rule's weights; S0 records the P_i it received, over 2^W (P8.1 step 4).
    if ref.weights is not None:
        np.testing.assert_array_equal(s1.weights, ref.weights)
        np.testing.assert_allclose(s0.weights, ref.weights, rtol=0, atol=2.0**-WEIGHT_FRAC_BITS)
    else:
        assert s0.weights is None and s1.weights is None
    assert s0.valid == s1.valid == ref.valid
    for party, channel in got["channels"].items():
        assert channel.transcript_bytes() == ref.channel.transcript_bytes(party), party
    assert got["channels"]["S1"].bytes_by_link() == {
        link: size for link, size in ref.channel.bytes_by_link().items() if "S1" in link.split("->")
    }


def _round_with(inputs: np.ndarray[Any, Any], silent: set[str], timeout: float) -> dict[str, Any]:
    """run_parties with the parties in ``silent`` never taking part, and short deadlines."""
    n, d = inputs.shape
    setup = round_setup(n, d, build_rule(tree, "krum", 1))
    _, out = play_in_threads(setup, inputs, seed=3, timeout=timeout, silent=silent, join=30.0)
    return out


@pytest.mark.spec("C23.4")
def test_a_worker_that_never_sends_is_excluded_when_the_deadline_passes() -> None:
    inputs = np.random.default_rng(1).normal(size=(6, 4))
    got = _round_with(inputs, {"W2"}, timeout=1.0)
    assert got["S1"].valid == got["S0"].valid == [0, 1, 3, 4, 5]
    assert "no share received (C8.3)" in got["S1"].excluded[2]
    ref = secure_aggregate(
        np.delete(inputs, 2, axis=0), build_rule(tree, "krum", 1), rng=DeterministicRandomSource(0)
    )
    # Krum picks one worker's update: the same one as a round without W2.
    chosen = [i for i in [0, 1, 3, 4, 5] if np.allclose(got["S1"].z, inputs[i], atol=1e-4)]
    assert chosen and np.allclose(ref.z, got["S1"].z, atol=1e-4)


@pytest.mark.spec("C23.4")
@pytest.mark.parametrize("gone", ["S1", "dealer"])
def test_a_server_aborts_with_nothing_published_when_its_peer_or_the_dealer_is_gone(
    gone: str,
) -> None:
    from sbrml.core.errors import RoundAborted

    inputs = np.random.default_rng(2).normal(size=(6, 4))
    got = _round_with(inputs, {gone}, timeout=0.5)
    assert isinstance(got["S0"], RoundAborted), got["S0"]
    assert got["S0"].clause == "C23.4" and gone in str(got["S0"])


DEVIATIONS = [
    # (deviating server, label it sends short, the server that refuses it, rule, leakage)
    ("S0", "distances", "S1", "krum", None),
    ("S1", "weights", "S0", "krum", None),
    ("S0", "output", "S1", "krum", None),
    ("S0", "output", "S1", "median", None),
    ("S0", "output", "S1", "krum", "index"),
]


@pytest.mark.spec("C23.4", "C8.3")
@pytest.mark.parametrize(("liar", "label", "victim", "rule_name", "leakage"), DEVIATIONS)
def test_a_short_message_from_the_other_server_stops_the_round_by_its_label(
    liar: str, label: str, victim: str, rule_name: str, leakage: str | None
) -> None:
    # A server that sends the other a payload of the wrong length deviates: the receiver
    # refuses it by the message's label (C8.3's length check) and publishes nothing.
    inputs = np.random.default_rng(4).normal(size=(6, 3))
    setup = round_setup(6, 3, build_rule(tree, rule_name, 1), leakage=leakage)
    _, got = play_in_threads(setup, inputs, seed=5, timeout=2.0, join=30.0, cut=(liar, label))
    err = got[victim]
    assert isinstance(err, ShapeError), err
    assert (err.function, err.parameter, err.clause) == ("secure_aggregate", label, "C8.3")
