"""Section 8: the secure aggregation round (spec/08-round.md)."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.attacks.protocol import InconsistentShares
from sbrml.core.channel import Message
from sbrml.core.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.reference.channel import unpack_ring
from sbrml.reference.ring import encode as ref_encode
from sbrml.rulespec import build_rule
from tests.helpers import as_list, decoded_inputs, replace_worker, shares_of

M = 1 << 64
F, W = 16, 30


def inputs(n: int, d: int, scale: float = 1.0) -> list[list[float]]:
    return [[scale * math.sin(1.7 * i + 0.3 * k) for k in range(d)] for i in range(n)]


def _rule(tree: ModuleType, name: str, f: int, m: int | None = None) -> object:
    return tree.Krum(f) if name == "krum" else tree.MultiKrum(f, m)


@pytest.mark.spec("C8.1")
def test_randomness_labels(impl: ModuleType) -> None:
    n, d = 5, 3
    root = impl.DeterministicRandomSource(11)
    result = impl.secure_aggregate(inputs(n, d), impl.Krum(1), rng=root)
    for i in range(n):
        (msg,) = [m for m in result.channel.messages if m.sender == f"W{i}" and m.receiver == "S0"]
        expected = ref.ring_elements(ref.DeterministicRandomSource(11).derive(f"worker/{i}"), d)
        assert unpack_ring("t", "share", msg.payload, d) == expected
    dealer_msg = result.channel.messages[0]
    assert dealer_msg.sender == "dealer"
    expected_a0 = ref.ring_elements(ref.DeterministicRandomSource(11).derive("dealer"), n * d)
    assert unpack_ring("t", "a0", dealer_msg.payload, n * d + n * n)[: n * d] == expected_a0


@pytest.mark.spec("C8.2")
def test_norm_bound_at_the_boundary(impl: ModuleType) -> None:
    limit = 2.0 ** (31 - F)  # a single coordinate with e = 2^31 has e^2 = 2^62
    impl.encode_update([limit - 2.0**-F])  # d = 1: b(1) = 31 admits e = 2^31 - 1
    with pytest.raises(ShapeError) as info:
        impl.encode_update([limit, 0.0])
    assert info.value.clause == "C8.2"
    with pytest.raises(ShapeError):
        impl.encode_update([2.0**30, 2.0**30])  # each coordinate alone is far out of the bound
    # 2^62 split over two coordinates: e = 2^30.5 is not an integer, so use 4 coordinates of 2^30.
    with pytest.raises(ShapeError):
        impl.encode_update([2.0 ** (30 - F)] * 4)
    impl.encode_update([2.0 ** (30 - F) - 2.0**-F] * 4)


@pytest.mark.spec("C8.13")
def test_coordinate_bound_at_the_boundary(impl: ModuleType) -> None:
    # d = 2: b(2) = 30, so e must lie in [-2^30, 2^30); the norm bound C8.2 holds throughout.
    top = 2.0 ** (30 - F)
    impl.encode_update([top - 2.0**-F, -top])
    for bad in ([top, 0.0], [0.0, -top - 2.0**-F]):
        with pytest.raises(ShapeError) as info:
            impl.encode_update(bad)
        assert info.value.clause == "C8.13"
        assert "1 of 2 coordinates outside" in str(info.value)
    # d = 1.25M: b = 20, so |x_k| < 16 at F = 16 (the contract change of spec 0.6).
    assert impl.encode_update([15.99] + [0.0] * 1_249_999) is not None
    with pytest.raises(ShapeError) as info:
        impl.encode_update([16.0] + [0.0] * 1_249_999)
    assert info.value.clause == "C8.13"


@pytest.mark.spec("C8.2", "C8.3")
def test_a_worker_over_the_bound_is_excluded_not_fatal(impl: ModuleType) -> None:
    x = inputs(7, 2)
    x[5] = [1e6, 0.0]
    x[4] = [math.nan, 0.0]
    result = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(1))
    assert result.valid == [0, 1, 2, 3, 6]
    assert "C8.2" in result.excluded[5] and "C1.1" in result.excluded[4]
    assert as_list(result.weights)[4:6] == [0.0, 0.0]


def _tampers() -> dict[str, object]:
    def short(messages: list[Message]) -> list[Message]:
        return [
            Message(m.sender, m.receiver, m.label, bytes(m.payload)[:-1])
            if m.sender == "W2" and m.receiver == "S1"
            else m
            for m in messages
        ]

    def missing_half(messages: list[Message]) -> list[Message]:
        return [m for m in messages if not (m.sender == "W2" and m.receiver == "S0")]

    def duplicate(messages: list[Message]) -> list[Message]:
        return messages + [m for m in messages if m.sender == "W2" and m.receiver == "S0"]

    def float_payload(messages: list[Message]) -> list[Message]:
        # "Wrong dtype": float32 values are 4 bytes each, so the length is wrong.
        bad = np.zeros(3, dtype=np.float32).tobytes()
        return [
            Message(m.sender, m.receiver, m.label, bad) if m.sender == "W2" else m for m in messages
        ]

    def silent(messages: list[Message]) -> list[Message]:
        return [m for m in messages if m.sender != "W2"]

    return {
        "short": short,
        "missing_half": missing_half,
        "duplicate": duplicate,
        "float_payload": float_payload,
        "silent": silent,
    }


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize("kind", sorted(_tampers()))
def test_malformed_messages_exclude_the_sender(impl: ModuleType, kind: str) -> None:
    x = inputs(7, 3)
    rule = impl.MultiKrum(1)
    result = impl.secure_aggregate(
        x, rule, rng=impl.DeterministicRandomSource(3), tamper=_tampers()[kind]
    )
    assert result.valid == [0, 1, 3, 4, 5, 6]
    assert set(result.excluded) == {2} and "C8.3" in result.excluded[2]
    # The round completed for the others: it equals the round without worker 2.
    rest = [row for i, row in enumerate(x) if i != 2]
    clean = impl.secure_aggregate(rest, rule, rng=impl.DeterministicRandomSource(3))
    assert as_list(result.z) == pytest.approx(as_list(clean.z), abs=1e-6)


@pytest.mark.spec("C8.3")
def test_messages_from_strangers_are_ignored(impl: ModuleType) -> None:
    x = inputs(5, 2)
    stranger = shares_of(9, [1, 2])
    result = impl.secure_aggregate(
        x, impl.Krum(1), rng=impl.DeterministicRandomSource(3), tamper=lambda ms: ms + stranger
    )
    assert result.valid == [0, 1, 2, 3, 4] and result.excluded == {}


@pytest.mark.spec("C8.4")
def test_too_few_workers_left(impl: ModuleType) -> None:
    x = inputs(5, 2)
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            x, impl.Krum(1), rng=impl.DeterministicRandomSource(3), tamper=replace_worker(0, [])
        )
    assert info.value.clause == "C8.4"
    assert "4 valid of n=5, f=1" in str(info.value) and "0:" in str(info.value)


round_cases = st.tuples(
    st.integers(5, 7),
    st.integers(1, 4),
    st.sampled_from(["krum", "multikrum"]),
    st.sampled_from(["gram", "pairwise"]),
    st.integers(0, 2**32),
    st.floats(1e-3, 1e3),
)


@pytest.mark.spec("C8.5", "C8.10")
@given(round_cases, st.data())
def test_secure_round_matches_plaintext_rule_on_decoded_inputs(
    case: tuple[int, int, str, str, int, float], data: st.DataObject
) -> None:
    n, d, name, variant, seed, scale = case
    f = data.draw(st.integers(0, (n - 3) // 2))
    m = data.draw(st.one_of(st.none(), st.integers(1, n))) if name == "multikrum" else None
    x = data.draw(
        st.lists(st.lists(st.floats(-scale, scale), min_size=d, max_size=d), min_size=n, max_size=n)
    )
    xhat = decoded_inputs(x)
    p_plain = _rule(ref, name, f, m).weights(ref.sq_distances(xhat))  # type: ignore[attr-defined]
    z_plain = _rule(ref, name, f, m)(xhat)  # type: ignore[operator]
    for tree in (ref, opt):
        result = tree.secure_aggregate(
            x, _rule(tree, name, f, m), rng=tree.DeterministicRandomSource(seed), variant=variant
        )
        assert as_list(result.weights) == p_plain
        for k, zk in enumerate(as_list(result.z)):
            support = sum(abs(row[k]) for pi, row in zip(p_plain, xhat, strict=True) if pi > 0)
            bound = 2.0**-W * support + 2.0**-52 * abs(zk)
            assert abs(zk - z_plain[k]) <= bound + 2 * math.ulp(z_plain[k])


@pytest.mark.spec("C8.10")
def test_output_exact_at_the_norm_bound(impl: ModuleType) -> None:
    top = (2**31 - 1) / 2**F  # the largest coordinate an honest worker may send
    p = round(2**W / 3)
    expected = 3 * p * (2**31 - 1) / 2 ** (F + W)
    for sign in (1.0, -1.0):
        x = [[sign * top]] * 5
        result = impl.secure_aggregate(
            x, impl.MultiKrum(1, 3), rng=impl.DeterministicRandomSource(0)
        )
        assert as_list(result.z) == [sign * expected]


@pytest.mark.spec("C8.6")
@pytest.mark.parametrize(
    ("frac_bits", "weight_frac_bits"), [(-1, 30), (16, 0), (16, 32), (40, 30), (1.5, 30)]
)
def test_bad_fixed_point_parameters(
    impl: ModuleType, frac_bits: object, weight_frac_bits: object
) -> None:
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            inputs(5, 1),
            impl.Krum(1),
            rng=impl.DeterministicRandomSource(0),
            frac_bits=frac_bits,
            weight_frac_bits=weight_frac_bits,
        )
    assert info.value.clause == "C8.6"


@pytest.mark.spec("C8.6")
def test_weights_message_is_the_encoded_weights(impl: ModuleType) -> None:
    result = impl.secure_aggregate(
        inputs(7, 2), impl.MultiKrum(1, 3), rng=impl.DeterministicRandomSource(0)
    )
    (msg,) = [m for m in result.channel.messages if m.label == "weights"]
    got = unpack_ring("t", "weights", msg.payload, 7)
    assert sorted(got) == [0] * 4 + [round(2**W / 3)] * 3


@pytest.mark.spec("D8.1")
def test_bad_round_shapes(impl: ModuleType) -> None:
    with pytest.raises(ShapeError) as info:
        impl.secure_aggregate([], impl.Krum(0), rng=impl.DeterministicRandomSource(0))
    assert info.value.clause == "D8.1"
    with pytest.raises(ShapeError):
        impl.secure_aggregate(
            inputs(5, 2), impl.Krum(1), rng=impl.DeterministicRandomSource(0), dim=0
        )


@pytest.mark.spec("D8.1", "C8.3")
def test_a_worker_with_the_wrong_dimension_is_excluded(impl: ModuleType) -> None:
    x = inputs(6, 3)
    x[3] = x[3][:2]
    result = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(0))
    assert 3 in result.excluded and result.valid == [0, 1, 2, 4, 5]


@pytest.mark.spec("C8.9", "C8.14")
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_ring_wrap_attack_is_excluded(impl: ModuleType, variant: str) -> None:
    # Before range validation, e + 2^63 in one coordinate left D unchanged and moved the
    # Multi-Krum output by 2^17. Now the worker is excluded and the round equals the round
    # in which it sent nothing.
    n, d = 6, 3
    x = inputs(n, d, 0.5)
    e = ref_encode(x[0])
    e[1] = (e[1] + (1 << 63)) % M
    silent = impl.secure_aggregate(
        x,
        impl.MultiKrum(1, 3),
        rng=impl.DeterministicRandomSource(4),
        variant=variant,
        tamper=lambda msgs: [m for m in msgs if m.sender != "W0"],
    )
    wrapped = impl.secure_aggregate(
        x,
        impl.MultiKrum(1, 3),
        rng=impl.DeterministicRandomSource(4),
        variant=variant,
        tamper=replace_worker(0, shares_of(0, e)),
    )
    assert wrapped.valid == [1, 2, 3, 4, 5]
    assert "C8.14" in wrapped.excluded[0] and "1 of 3 coordinates" in wrapped.excluded[0]
    assert as_list(wrapped.z) == as_list(silent.z)
    assert as_list(wrapped.weights) == as_list(silent.weights)
    assert as_list(wrapped.distances) == as_list(silent.distances)


@pytest.mark.spec("C8.12", "C8.14", "D16.8")
@pytest.mark.parametrize("spec", ["bucketing+geomed", "bucketing+mean", "bucketing+medoid"])
def test_inconsistent_shares_no_longer_abort_bucketing(spec: str) -> None:
    # InconsistentShares makes worker 0 reconstruct to a random ring vector. Before range
    # validation bucketing's mixed distances could go negative and abort the round for
    # everyone; now the worker is excluded and the round completes, alike in both trees.
    x = [[(i + k) / 4 for k in range(3)] for i in range(10)]
    for seed in range(12):
        results = []
        for tree in (ref, opt):
            attack = InconsistentShares(
                0, [1e4, -1e4, 1e4], rng=opt.DeterministicRandomSource(seed)
            )
            data = np.asarray(x) if tree is opt else x
            results.append(
                tree.secure_aggregate(
                    data,
                    build_rule(tree, spec, 2),
                    rng=tree.DeterministicRandomSource(seed),
                    tamper=attack,
                )
            )
        for result in results:
            assert result.valid == list(range(1, 10)) and "C8.14" in result.excluded[0]
        assert results[0].channel.transcript_bytes() == results[1].channel.transcript_bytes()


@pytest.mark.spec("C8.12")
def test_a_non_euclidean_distance_matrix_aborts_alike() -> None:
    # Unreachable from workers since C8.14; S1's guard still refuses a D that is not
    # Euclidean (here: one point far from two that coincide, violating the triangle
    # inequality), naming the pre-aggregation and no entry of D.
    from sbrml.core.round import s1_weights

    dist = [[0, 1, 10**6, 1], [1, 0, 1, 1], [10**6, 1, 0, 1], [1, 1, 1, 0]]
    refused = []
    for tree in (ref, opt):
        rule = build_rule(tree, "bucketing+mean", 0)
        matrix = dist if tree is ref else np.asarray(dist, dtype=np.uint64)
        for seed in range(20):
            try:
                s1_weights(rule, matrix, 0, tree.DeterministicRandomSource(seed))
                refused.append((tree.__name__, seed, False))
            except ShapeError as err:
                assert err.clause == "C8.12" and err.function == "secure_aggregate"
                assert "1000000" not in str(err)
                refused.append((tree.__name__, seed, True))
    by_tree = [[r[2] for r in refused if r[0] == name] for name in (ref.__name__, opt.__name__)]
    assert by_tree[0] == by_tree[1] and any(by_tree[0])


@pytest.mark.spec("C8.4", "C6.5")
def test_multikrum_m_beyond_the_workers_left_is_c8_4(impl: ModuleType) -> None:
    # n = 9, m = 8: two workers excluded leave 7 < m; the round stops with C8.4 before S1
    # learns anything (it used to raise C6.5 after S1 had received D).
    x = inputs(9, 3)
    tamper = replace_worker(0, shares_of(0, [1 << 63] * 3))
    tamper2 = replace_worker(1, shares_of(1, [1 << 62] * 3))
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            x,
            impl.MultiKrum(2, 8),
            rng=impl.DeterministicRandomSource(1),
            tamper=lambda m: tamper2(tamper(m)),
        )
    assert info.value.clause == "C8.4" and "m <= n" in str(info.value)


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize("payload", [None, "text", 7, memoryview(bytes(48))[::2]])
def test_a_payload_that_is_not_bytes_excludes_its_sender(impl: ModuleType, payload: object) -> None:
    # A strided memoryview of the right length is bytes all the same (D7.1): both trees parse
    # it (zeros here, so the pair reconstructs out of range and C8.14 excludes it); anything
    # else that is not bytes excludes the sender under C8.3 instead of raising.
    x = inputs(6, 3)

    def tamper(messages: list[Message]) -> list[Message]:
        return [
            Message(m.sender, m.receiver, m.label, payload)  # type: ignore[arg-type]
            if m.sender == "W2" and m.receiver == "S1"
            else m
            for m in messages
        ]

    result = impl.secure_aggregate(
        x, impl.MultiKrum(1), rng=impl.DeterministicRandomSource(3), tamper=tamper
    )
    if isinstance(payload, memoryview):
        assert 2 not in result.valid and "C8.14" in result.excluded[2]
    else:
        assert 2 not in result.valid and "C8.3" in result.excluded[2]
