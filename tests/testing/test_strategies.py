"""The kit's Hypothesis strategies generate valid objects of the spec."""

from __future__ import annotations

import hashlib
import importlib
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.reference as ref
from sbrml.core.params import coordinate_bound_log2
from sbrml.extras import MissingExtraError
from sbrml.testing import strategies
from sbrml.testing.strategies import RecordedRound


@given(x=strategies.inputs(n=(3, 9), d=(1, 6), f=2))
def test_inputs_are_valid_round_inputs(x: np.ndarray) -> None:
    n, d = x.shape
    assert 3 <= n <= 9 and 1 <= d <= 6 and x.dtype == np.float64
    assert np.all(np.abs(x) < strategies.round_bound(d))
    for row in x.tolist():
        e = [v - 2**64 if v >= 2**63 else v for v in ref.encode(row)]
        assert all(-(2 ** coordinate_bound_log2(d)) <= v < 2 ** coordinate_bound_log2(d) for v in e)
        assert sum(v * v for v in e) < 2**62  # C8.2


@given(x=strategies.inputs(n=7, d=3, f=2, outliers=True))
def test_outliers_are_far_or_copies(x: np.ndarray) -> None:
    honest, byzantine = x[:5], x[5:]
    spread = max(1e-300, float(np.max(np.abs(honest))))
    for row in byzantine:
        far = float(np.max(np.abs(row))) >= 5 * spread
        copy = any(np.array_equal(row, h) for h in honest)
        assert far or copy


def test_a_round_accepts_every_generated_input() -> None:
    @given(x=strategies.inputs(n=5, d=(1, 3), f=1))
    def run(x: np.ndarray) -> None:
        result = ref.secure_aggregate(x.tolist(), ref.Krum(1), rng=ref.DeterministicRandomSource(0))
        assert result.valid == list(range(5)) and not result.excluded

    run()


@given(item=strategies.shared_vectors(bits=64))
def test_shares_reconstruct_their_vector(
    item: tuple[list[int], tuple[list[int], list[int]]],
) -> None:
    x, (s0, s1) = item
    assert ref.reconstruct(s0, s1) == x
    assert all(0 <= v < 2**64 for v in s0 + s1)


@given(data=st.data(), bits=st.integers(2, 64))
def test_shares_of_a_given_vector(data: st.DataObject, bits: int) -> None:
    x = data.draw(strategies.ring_vectors((1, 5), bits=bits))
    s0, s1 = data.draw(strategies.shares(x, bits=bits))
    assert ref.reconstruct(s0, s1, bits=bits) == x


@given(exact=st.booleans(), euclidean=st.booleans(), data=st.data())
def test_distance_matrices_are_valid(exact: bool, euclidean: bool, data: st.DataObject) -> None:
    d = data.draw(strategies.distance_matrices(n=(1, 7), exact=exact, euclidean=euclidean))
    n = len(d)
    kind = int if exact else float
    assert all(len(row) == n and all(type(v) is kind and v >= 0 for v in row) for row in d)
    assert all(d[i][i] == 0 and d[i][j] == d[j][i] for i in range(n) for j in range(n))
    if n >= 5:  # D6.2: a Krum (f = 1) accepts it
        assert sum(ref.Krum(1).weights(d)) == 1


@given(recorded=strategies.transcripts(rule="krum", f=1, party="S1"))
def test_transcripts_are_a_rounds_canonical_bytes(recorded: RecordedRound) -> None:
    assert recorded.transcript.startswith(b"SBRMLTR1")  # D7.3
    assert hashlib.sha256(recorded.transcript).hexdigest() == recorded.digest
    assert recorded.messages and all("S1" in (m.sender, m.receiver) for m in recorded.messages)
    again = ref.secure_aggregate(
        recorded.inputs,
        ref.Krum(1),
        rng=ref.DeterministicRandomSource(recorded.seed),
        variant=recorded.variant,
    )
    assert again.channel.transcript_bytes("S1") == recorded.transcript
    assert len(recorded.z) == len(recorded.inputs[0])


def test_the_strategies_name_the_testing_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "hypothesis", None)
    for name in [m for m in sys.modules if m.startswith("sbrml.testing.")]:
        if name != "sbrml.testing.vectors" and not name.startswith("sbrml.testing.vectors."):
            monkeypatch.delitem(sys.modules, name)
    for module in ("sbrml.testing.strategies", "sbrml.testing.checks"):
        with pytest.raises(MissingExtraError) as info:
            importlib.import_module(module)
        assert str(info.value) == (
            f"{module} needs the 'testing' extra: pip install 'sbrml[testing]' "
            "(missing: hypothesis)"
        )


def test_inputs_need_an_honest_row() -> None:
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        data.draw(strategies.inputs(n=(3, 9), f=3))

    with pytest.raises(ValueError, match=r"inputs: need 0 <= f < n; got f=3, n=\(3, 9\)"):
        run()
