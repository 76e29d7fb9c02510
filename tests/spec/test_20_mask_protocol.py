"""Section 20: pairwise-mask secure aggregation with dropouts (spec/20-mask-protocol.md)."""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized.mask_protocol as opt_mp
import sbrml.reference.mask_protocol as ref_mp
import sbrml.reference.mask_vectors as ref_mv
import sbrml.reference.mask_worker as ref_mw
from sbrml.core.channel import Message
from sbrml.core.errors import (
    EncodingError,
    InsufficientWorkersError,
    ParameterError,
    ShapeError,
)
from sbrml.optimized import DeterministicRandomSource as OptSource
from sbrml.reference import DeterministicRandomSource as RefSource
from tests.helpers.examples import budget

ROUNDS = ref_mp.ROUNDS


def run(tree: str, inputs: Any, t: int, seed: int = 0, **kwargs: Any) -> ref_mp.MaskResult:
    if tree == "reference":
        return ref_mp.masked_aggregate(inputs, t=t, rng=RefSource(seed), **kwargs)
    return opt_mp.masked_aggregate(np.asarray(inputs), t=t, rng=OptSource(seed), **kwargs)


def quarter_inputs(n: int, d: int, seed: int) -> list[list[float]]:
    rng = np.random.default_rng(seed)
    values: list[list[float]] = (rng.integers(-400, 400, size=(n, d)) / 4).tolist()
    return values


def expected_sets(n: int, dropouts: dict[int, str]) -> list[list[int]]:
    """U1..U4 of P20.1 when worker u is silent from round dropouts[u] on."""
    return [
        [u for u in range(n) if u not in dropouts or ROUNDS.index(dropouts[u]) > r]
        for r in range(4)
    ]


@st.composite
def scenarios(draw: st.DrawFn, max_n: int = 6) -> tuple[int, int, dict[int, str], int]:
    n = draw(st.integers(2, max_n))
    t = draw(st.integers(2, n))
    drops = draw(st.dictionaries(st.integers(0, n - 1), st.sampled_from(ROUNDS), max_size=n - 1))
    return n, t, drops, draw(st.integers(0, 2**16))


@pytest.mark.spec("C20.6", "C20.3", "P20.1")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
@budget(220)
@given(scenarios())
def test_server_recovers_exactly_the_survivors_sum(
    tree: str, case: tuple[int, int, dict[int, str], int]
) -> None:
    n, t, drops, seed = case
    d = 3 if tree == "reference" else 17
    inputs = quarter_inputs(n, d, seed)
    sets = expected_sets(n, drops)
    if min(len(s) for s in sets) < t:
        with pytest.raises(InsufficientWorkersError) as info:
            run(tree, inputs, t, seed, dropouts=drops)
        assert info.value.clause == "C20.3"
        return
    result = run(tree, inputs, t, seed, dropouts=drops)
    assert result.counted == sets[2]
    assert [result.survivors[r] for r in ROUNDS] == sets
    exact = [sum(Fraction(inputs[u][k]) for u in sets[2]) for k in range(d)]
    assert [Fraction(float(v)) for v in result.total] == exact
    assert [float(v) for v in result.mean] == [float(e / len(sets[2])) for e in exact]
    assert sorted(result.excluded) == sorted(set(range(n)) - set(sets[2]))


@pytest.mark.spec("C20.6")
def test_late_dropout_is_counted_early_dropout_is_not() -> None:
    inputs = [[1.0, 2.0], [10.0, 20.0], [100.0, 200.0], [1000.0, 2000.0]]
    late = run("optimized", inputs, 3, dropouts={1: "unmask"})
    assert late.counted == [0, 1, 2, 3] and late.total.tolist() == [1111.0, 2222.0]
    assert late.survivors["unmask"] == [0, 2, 3] and any("W1" in s for s in late.notes)
    early = run("optimized", inputs, 3, dropouts={1: "input"})
    assert early.counted == [0, 2, 3] and early.total.tolist() == [1101.0, 2202.0]
    assert "W1" in early.excluded[1]


@pytest.mark.spec("C20.6", "C7.3")
@budget(200)
@given(scenarios(max_n=5))
def test_trees_produce_identical_transcripts(case: tuple[int, int, dict[int, str], int]) -> None:
    n, t, drops, seed = case
    inputs = quarter_inputs(n, 4, seed)
    outcomes: list[tuple[bytes, list[Any]]] = []
    for tree in ("reference", "optimized"):
        try:
            r = run(tree, inputs, t, seed, dropouts=drops)
            outcomes.append((r.channel.transcript_bytes(), [float(v) for v in r.total]))
        except InsufficientWorkersError as err:
            outcomes.append((b"abort", [err.clause]))
    assert outcomes[0] == outcomes[1]


@pytest.mark.spec("C20.3")
def test_too_few_survivors_abort_and_release_nothing() -> None:
    inputs = quarter_inputs(5, 2, 1)
    for drops in (
        {0: "advertise", 1: "advertise", 2: "advertise"},
        {0: "share", 1: "share", 2: "input"},
        {0: "input", 1: "input", 2: "input"},
        {0: "unmask", 1: "unmask", 2: "unmask"},
    ):
        for tree in ("reference", "optimized"):
            with pytest.raises(InsufficientWorkersError) as info:
                run(tree, inputs, 3, dropouts=drops)
            assert info.value.clause == "C20.3"
            assert "nothing is released" in str(info.value)


@pytest.mark.spec("C20.3")
def test_workers_check_the_roster_size() -> None:
    state = ref_mw.WorkerState(0, RefSource(1))
    ref_mw.worker_advertise(state, ref_mp.REFERENCE)
    roster = ref_mw.le32(1) + ref_mw.le32(0) + bytes(64)
    with pytest.raises(InsufficientWorkersError) as info:
        ref_mw.worker_share(state, roster, 2, 3, ref_mp.REFERENCE)
    assert info.value.clause == "C20.3"


@pytest.mark.spec("C20.1")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_bad_parameters_raise(tree: str) -> None:
    inputs = quarter_inputs(4, 3, 0)
    bad: list[tuple[Any, dict[str, Any], type[Exception]]] = [
        (inputs, {"t": 1}, ParameterError),
        (inputs, {"t": 5}, ParameterError),
        (inputs, {"t": True}, ParameterError),
        (inputs, {"t": 2.0}, ParameterError),
        (inputs, {"t": 2, "dropouts": {4: "input"}}, ParameterError),
        (inputs, {"t": 2, "dropouts": {0: "later"}}, ParameterError),
    ]
    if tree == "reference":
        bad.append(([[1.0, 2.0], [1.0]], {"t": 2}, ShapeError))
        bad.append(([[], []], {"t": 2}, ShapeError))
    for data, kwargs, cls in bad:
        with pytest.raises(cls) as info:
            run(tree, data, **kwargs)
        assert info.value.clause == "C20.1", kwargs  # type: ignore[attr-defined]
        assert "masked_aggregate" in str(info.value)


@pytest.mark.spec("C20.2")
@pytest.mark.parametrize("encode", [ref_mv.encode_input, opt_mp.encode_input])
def test_inputs_that_could_wrap_the_sum_are_refused(encode: Callable[..., Any]) -> None:
    n = 2048  # (2^63 - 1) // 2048 = 2^52 - 1, exactly representable
    limit = 2**52 - 1
    for ok in (float(limit), -float(limit), 0.0):
        encode([ok], 0, n)
    for over in (float(limit + 1), -float(limit + 1), 1e300):
        with pytest.raises(EncodingError) as info:
            encode([0.0, over], 0, n)
        assert info.value.clause in {"C20.2", "C1.2"}
        assert "[1]" in str(info.value)
    with pytest.raises(EncodingError) as info:
        encode([float(limit + 1)], 0, n)
    assert info.value.clause == "C20.2"


@pytest.mark.spec("C20.2", "C20.4")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_a_worker_with_a_bad_input_is_excluded_not_the_round(tree: str) -> None:
    inputs = quarter_inputs(4, 2, 3)
    inputs[1][0] = float("nan")
    inputs[2][1] = 2.0**45  # 2^61 encoded: above (2^63 - 1) // 4
    result = run(tree, inputs, 2)
    assert result.counted == [0, 3]
    assert "C1.1" in result.excluded[1] and "C20.2" in result.excluded[2]
    assert [float(v) for v in result.total] == [inputs[0][k] + inputs[3][k] for k in range(2)]


def tampering(stage: str, edit: Callable[[Message], list[Message]], who: int) -> Any:
    def tamper(current: str, messages: list[Message]) -> list[Message]:
        if current != stage:
            return messages
        out: list[Message] = []
        for m in messages:
            out.extend(edit(m) if m.sender == f"W{who}" else [m])
        return out

    return tamper


def with_payload(m: Message, payload: bytes) -> list[Message]:
    return [Message(m.sender, m.receiver, m.label, payload)]


TAMPERS: dict[str, tuple[str, Callable[[Message], list[Message]]]] = {
    "duplicate advertise": ("advertise", lambda m: [m, m]),
    "short advertise": ("advertise", lambda m: with_payload(m, bytes(m.payload)[:63])),
    "equal keys": ("advertise", lambda m: with_payload(m, bytes(m.payload)[:32] * 2)),
    "low-order key": ("advertise", lambda m: with_payload(m, bytes(m.payload)[:32] + bytes(32))),
    "truncated shares": ("share", lambda m: with_payload(m, bytes(m.payload)[:-1])),
    "shares out of order": (
        "share",
        lambda m: with_payload(m, bytes(m.payload)[176:352] + bytes(m.payload)[:176]),
    ),
    "duplicate input": ("input", lambda m: [m, m]),
    "long input": ("input", lambda m: with_payload(m, bytes(m.payload) + bytes(8))),
}


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize("case", sorted(TAMPERS))
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_malformed_or_duplicated_messages_exclude_their_sender(tree: str, case: str) -> None:
    stage, edit = TAMPERS[case]
    inputs = quarter_inputs(4, 3, 5)
    result = run(tree, inputs, 2, tamper=tampering(stage, edit, who=1))
    assert result.counted == [0, 2, 3]
    assert "C20.4" in result.excluded[1], result.excluded
    exact = [sum(inputs[u][k] for u in (0, 2, 3)) for k in range(3)]
    assert [float(v) for v in result.total] == exact


@pytest.mark.spec("C20.4")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
def test_bad_unmask_message_leaves_the_worker_counted(tree: str) -> None:
    def wrong_kind(m: Message) -> list[Message]:
        raw = bytearray(m.payload)
        raw[4] ^= 1
        return with_payload(m, bytes(raw))

    inputs = quarter_inputs(4, 3, 6)
    result = run(tree, inputs, 2, tamper=tampering("unmask", wrong_kind, who=2))
    assert result.counted == [0, 1, 2, 3] and result.survivors["unmask"] == [0, 1, 3]
    assert any("C20.4" in note for note in result.notes)
    assert [float(v) for v in result.total] == [sum(x[k] for x in inputs) for k in range(3)]


@pytest.mark.spec("C20.4")
def test_messages_from_outside_the_set_are_ignored() -> None:
    def impostor(current: str, messages: list[Message]) -> list[Message]:
        if current == "input":
            extra = Message("W0", "S", "mask/input", bytes(16))  # W0 dropped at share
            return [*messages, extra]
        return messages

    inputs = quarter_inputs(4, 2, 7)
    result = run("optimized", inputs, 2, dropouts={0: "share"}, tamper=impostor)
    assert result.counted == [1, 2, 3]
    assert any("ignored mask/input from W0" in note for note in result.notes)


@pytest.mark.spec("C19.3", "C20.4")
def test_a_forged_box_is_skipped_and_reported() -> None:
    def forge(m: Message) -> list[Message]:
        raw = bytearray(m.payload)
        raw[10] ^= 0xFF  # inside W3's first box (to W0)
        return with_payload(m, bytes(raw))

    inputs = quarter_inputs(5, 2, 8)
    result = run("optimized", inputs, 3, tamper=tampering("share", forge, who=3))
    assert result.counted == [0, 1, 2, 3, 4]
    assert any("W0: box from W3 rejected" in note for note in result.notes)
    assert result.total.tolist() == [sum(x[k] for x in inputs) for k in range(2)]


def _through_input(n: int, t: int) -> tuple[list[ref_mw.WorkerState], list[int]]:
    """Run rounds 0-2 by hand for all n workers (honest server), returning the states."""
    backend = ref_mp.REFERENCE
    rng = RefSource(3)
    states = [ref_mw.WorkerState(i, rng.derive(f"worker/{i}")) for i in range(n)]
    keys = [bytes(ref_mw.worker_advertise(s, backend).payload) for s in states]
    roster = ref_mw.le32(n) + b"".join(ref_mw.le32(i) + k for i, k in enumerate(keys))
    boxes = [
        ref_mp.parse_shares(list(range(n)))(
            i, ref_mw.worker_share(s, roster, t, n, backend).payload
        )
        for i, s in enumerate(states)
    ]
    for v, s in enumerate(states):
        forward = [ref_mw.le32(u) + boxes[u][v] for u in range(n) if u != v]
        payload = ref_mw.le32(len(forward)) + b"".join(forward)
        ref_mw.worker_input(s, payload, [0.5], t, n, 16, backend)
    return states, list(range(n))


@pytest.mark.spec("C20.5")
def test_workers_refuse_a_survivor_set_outside_u2() -> None:
    states, _ = _through_input(4, 2)
    backend = ref_mp.REFERENCE

    def listing(ids: list[int]) -> bytes:
        return ref_mw.le32(len(ids)) + b"".join(ref_mw.le32(i) for i in ids)

    for bad in ([0, 1, 7], [1, 2, 3]):  # 7 is not in U2; W0 is not in [1, 2, 3]
        with pytest.raises(ShapeError) as info:
            ref_mw.worker_unmask(states[0], listing(bad), 2, [], backend)
        assert info.value.clause == "C20.5"
    notes: list[str] = []
    message = ref_mw.worker_unmask(states[0], listing([0, 2]), 2, notes, backend)
    records = ref_mp.parse_unmask([0, 1, 2, 3], [0, 2])(0, message.payload)
    raw = bytes(message.payload)
    kinds = {ref_mw.read32(raw, a): raw[a + 4] for a in range(0, len(raw), ref_mw.UNMASK_RECORD)}
    # One share per worker of U2: b for the survivors, s_sk for the others, never both.
    assert sorted(records) == [0, 1, 2, 3]
    assert kinds == {0: ref_mw.SELF_SHARE, 1: ref_mw.KEY_SHARE, 2: 0, 3: ref_mw.KEY_SHARE}
    assert notes == []


@pytest.mark.spec("C20.6")
def test_inconsistent_shares_abort_instead_of_a_wrong_sum() -> None:
    def corrupt(m: Message) -> list[Message]:
        raw = bytearray(m.payload)
        for a in range(0, len(raw), ref_mw.UNMASK_RECORD):
            if raw[a + 4] == ref_mw.KEY_SHARE:
                raw[a + 6] ^= 1  # bit 8: bits 0-2 are clamped away (D19.1)
        return with_payload(m, bytes(raw))

    inputs = quarter_inputs(4, 2, 9)
    with pytest.raises(ShapeError) as info:
        # W3 drops before its input; W0's share of s_sk(W3) is wrong, and t = 3 uses it.
        run("optimized", inputs, 3, dropouts={3: "input"}, tamper=tampering("unmask", corrupt, 0))
    assert info.value.clause == "C20.6"


@pytest.mark.spec("C20.2", "D19.4")
def test_optimized_chunked_masking_equals_encode_then_mask() -> None:
    d = 2 * opt_mp.CHUNK + 5
    gen = np.random.default_rng(4)
    x = gen.integers(-(2**20), 2**20, size=d) / 8  # many exact half-ties at F = 2
    x[7] = 0.5 * 2**-2 * 3  # 1.5 ulps of 2^-2: a tie that rounds to even
    terms = [(1, bytes([1]) * 32), (-1, bytes([2]) * 32), (1, bytes([3]) * 32)]
    fused = opt_mp.mask_input(x, 2, 5, terms)
    plain = opt_mp.apply_masks(opt_mp.encode_input(x, 2, 5), terms, d)
    assert np.array_equal(fused, plain)
    # Round-trip: removing the masks gives the encoding back.
    back = opt_mp.apply_masks(fused, [(-s, k) for s, k in terms], d)
    assert np.array_equal(back, opt_mp.encode_input(x, 2, 5))
    for bad, clause in ((np.nan, "C1.1"), (np.inf, "C1.1"), (2.0**59, "C20.2"), (2.0**62, "C1.2")):
        y = x.copy()
        y[opt_mp.CHUNK + 3] = bad
        with pytest.raises(EncodingError) as info:
            opt_mp.mask_input(y, 2, 5, terms)
        assert info.value.clause == clause and f"[{opt_mp.CHUNK + 3}]" in str(info.value)
