"""SecureRobustStrategy on fixed replies, without Flower's runtime: its aggregate is sbrml's
front door's on the same rows (every mode), bad replies are excluded and reported, never
raised, and a round without enough rows keeps the model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

import sbrml
import sbrml.optimized as opt
from sbrml import modes
from sbrml.attacks import ALIE
from sbrml.core.errors import ParameterError
from sbrml.flower import OmniscientAdversary, SecureRobustStrategy, Template
from sbrml.flower.adversary import BYZANTINE_KEY
from sbrml.flower.records import SHARES_KEY
from sbrml.optimized.paillier import generate_keypair
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    answer,
    client_replies,
    error_reply,
    instructions,
    rows,
    strategy,
)


def seeded(label: str) -> Any:
    """Stream ``label`` of the strategy's source (DeterministicRandomSource(0))."""
    return opt.DeterministicRandomSource(0).derive(label)


def aggregate(s: SecureRobustStrategy, x: Any, edit: Any = None) -> tuple[Any, MetricRecord]:
    messages = instructions(s, len(x))
    arrays, metrics = s.aggregate_train(1, client_replies(messages, x, edit))
    assert metrics is not None
    return arrays, metrics


def flat(arrays: ArrayRecord | None) -> Any:
    assert arrays is not None, "the round released no aggregate"
    return TEMPLATE.flatten(arrays)


@pytest.mark.spec("D8.1", "C8.5")
@pytest.mark.parametrize("rule", ["nnm+krum", "krum", "median", "mean"])
def test_two_server_is_the_secure_round_on_the_same_rows(rule: str) -> None:
    x = rows(7)
    arrays, metrics = aggregate(strategy(rule, 1, 7), x)
    source = opt.ChaCha20RandomSource(seeded("round/0").random_bytes(32))
    expected = sbrml.secure_aggregate(x, sbrml.rule(rule, f=1), rng=source)
    assert np.array_equal(flat(arrays), expected.aggregate)
    assert metrics["bytes"] == modes.total_bytes(expected) and metrics["valid"] == 7


def test_two_server_weights_and_links_are_the_front_doors() -> None:
    x = rows(7)
    s = strategy("nnm+krum", 1, 7)
    aggregate(s, x)
    result = s.rounds[0].result
    source = opt.ChaCha20RandomSource(seeded("round/0").random_bytes(32))
    expected = sbrml.secure_aggregate(x, sbrml.rule("nnm+krum", f=1), rng=source)
    assert result is not None and result.weights is not None and expected.weights is not None
    assert np.array_equal(result.weights, expected.weights) and result.bytes == expected.bytes
    assert s.rounds[0].nodes == [FIRST_NODE + i for i in range(7)]  # ordered by partition-id


@pytest.mark.parametrize("rule", ["krum", "nnm+krum", "median", "trimmed-mean", "geomed"])
def test_plaintext_is_the_rule_in_the_clear(rule: str) -> None:
    x = rows(9)
    arrays, metrics = aggregate(strategy(rule, 2, 9, mode="plaintext"), x)
    expected = modes.plaintext(x, sbrml.rule(rule, f=2), rng=seeded("rule/0"))
    assert np.array_equal(flat(arrays), expected.aggregate) and metrics["bytes"] == 0


def test_masks_and_paillier_are_the_front_doors_means() -> None:
    x = rows(5)
    masked, m_metrics = aggregate(strategy("mean", 0, 5, mode="masks"), x)
    expected = modes.masks(x, threshold=3, rng=seeded("masks/0"))
    assert np.array_equal(flat(masked), expected.aggregate)
    assert m_metrics["bytes"] == modes.total_bytes(expected)
    he, _ = aggregate(strategy("mean", 0, 5, mode="paillier"), x)
    keys = generate_keypair(2048, rng=seeded("paillier"))
    bits = math.ceil(math.log2(float(np.abs(x).max()) + 1)) + 1
    expected = modes.paillier(x, keys=keys, rng=seeded("he/0"), int_bits=bits)
    assert np.array_equal(flat(he), expected.aggregate)


def test_the_aggregate_keeps_the_models_names_shapes_and_dtypes() -> None:
    template = Template(("a", "b"), ((2, 2), (3,)), ("float32", "float64"))
    s = strategy("median", 1, 5, mode="plaintext")
    messages = instructions(s, 5, model=template.unflatten(np.zeros(7)))
    x = rows(5, d=7)
    arrays, _ = s.aggregate_train(1, client_replies(messages, x, template=template))
    assert arrays is not None and list(arrays.keys()) == ["a", "b"]
    assert [a.shape for a in arrays.values()] == [(2, 2), (3,)]
    assert [a.dtype for a in arrays.values()] == ["float32", "float64"]


def test_server_lr_returns_the_next_model() -> None:
    x = rows(7)
    theta = rows(1, seed=9)[0]
    s = strategy("krum", 1, 7, mode="plaintext", server_lr=0.5)
    messages = instructions(s, 7, model=TEMPLATE.unflatten(theta))
    arrays, _ = s.aggregate_train(1, client_replies(messages, x))
    z = modes.plaintext(x, sbrml.rule("krum", f=1), rng=seeded("rule/0")).aggregate
    assert np.array_equal(flat(arrays), theta - 0.5 * z)


def test_the_instruction_carries_the_rounds_public_parameters_and_keys() -> None:
    s = strategy("krum", 1, 7)
    config = instructions(s, 7)[0].content.config_records["config"]
    assert config["sbrml-mode"] == "two-server" and config["server-round"] == 1
    assert config["sbrml-frac-bits"] == 16 and isinstance(config["sbrml-bound-log2"], int)
    assert s.servers is not None
    assert config["sbrml-key-S0"] == s.servers.public_keys["S0"] != config["sbrml-key-S1"]


def bad_replies(i: int, reply: Message, instruction: Message) -> Message | None:
    """Node 1 errs, node 2 sends other shapes, node 3 NaN, node 4 does not reply."""
    if i == 1:
        return error_reply(instruction, "out of memory")
    if i == 2:
        other = Template(("w", "b"), ((4, 3), (4,)), ("float64", "float64")).unflatten(rows(1)[0])
        return answer(instruction, RecordDict({"arrays": other, "metrics": MetricRecord()}))
    if i == 3:
        nan = TEMPLATE.unflatten(np.full(16, np.nan))
        return answer(instruction, RecordDict({"arrays": nan, "metrics": MetricRecord()}))
    return None if i == 4 else reply


@pytest.mark.spec("C8.3", "C1.1")
def test_bad_replies_are_excluded_with_their_reasons_not_raised() -> None:
    x = rows(9)
    s = strategy("median", 1, 9, mode="plaintext")
    arrays, metrics = aggregate(s, x, bad_replies)
    kept = [0, 5, 6, 7, 8]
    expected = modes.plaintext(x[kept], sbrml.rule("median", f=1), rng=seeded("rule/0"))
    assert np.array_equal(flat(arrays), expected.aggregate)
    assert metrics["excluded"] == 4 and metrics["valid"] == 5 and metrics["aborted"] == 0
    why = s.rounds[0].excluded
    assert "out of memory" in why[FIRST_NODE + 1]
    assert "D8.1" in why[FIRST_NODE + 2] and "shape" in why[FIRST_NODE + 2]
    assert "C1.1" in why[FIRST_NODE + 3] and "nan" not in why[FIRST_NODE + 3].lower()
    assert why[FIRST_NODE + 4] == f"node {FIRST_NODE + 4} (row 4): no reply"


@pytest.mark.spec("C8.3", "C8.13")
def test_two_server_excludes_plain_updates_foreign_shares_and_refused_inputs() -> None:
    x = rows(9)
    x[3, 0] = 10_000.0  # outside the round's coordinate bound 2^13 at d = 16 (C8.13)
    s = strategy("nnm+krum", 1, 9)

    def edit(i: int, reply: Message, instruction: Message) -> Message:
        if i == 1:  # a plain update: it would reach the ServerApp in the clear
            content = RecordDict({"arrays": TEMPLATE.unflatten(x[1]), "metrics": MetricRecord()})
            return answer(instruction, content)
        if i == 2:  # node 2 relays node 5's ciphertexts: sealed under another node's context
            shares = replies_by_node[5].content.config_records[SHARES_KEY]
            return answer(instruction, RecordDict({SHARES_KEY: shares}))
        replies_by_node[i] = reply
        return reply

    replies_by_node: dict[int, Message] = {}
    messages = instructions(s, 9)
    arrays, metrics = s.aggregate_train(1, client_replies(messages, x, edit))
    assert metrics is not None
    why = s.rounds[0].excluded
    assert set(why) == {FIRST_NODE + i for i in (1, 2, 3)} and metrics["valid"] == 6
    assert "no sealed shares" in why[FIRST_NODE + 1]
    assert "does not open" in why[FIRST_NODE + 2] and "C8.3" in why[FIRST_NODE + 2]
    assert "input rejected before sharing" in why[FIRST_NODE + 3] and "C8.13" in why[FIRST_NODE + 3]
    assert "10000" not in why[FIRST_NODE + 3]  # C0.1: the reason, never the value
    source = opt.ChaCha20RandomSource(seeded("round/0").random_bytes(32))
    kept = [0, 4, 5, 6, 7, 8]
    expected = sbrml.secure_aggregate(x[kept], sbrml.rule("nnm+krum", f=1), rng=source)
    assert arrays is not None and np.allclose(flat(arrays), expected.aggregate, atol=1e-12)


@pytest.mark.spec("C8.4")
def test_too_few_rows_keep_the_model_and_say_why() -> None:
    x = rows(5)
    s = strategy("krum", 1, 5, mode="plaintext")
    arrays, metrics = aggregate(s, x, lambda i, r, m: None if i < 2 else r)
    assert np.array_equal(flat(arrays), np.zeros(16))  # the round's model, unchanged
    assert metrics["aborted"] == 1 and metrics["valid"] == 0 and metrics["excluded"] == 5
    assert s.rounds[0].error is not None and "n > 2f + 2" in s.rounds[0].error
    why = s.rounds[0].excluded
    assert why[FIRST_NODE] == f"node {FIRST_NODE} (row 0): no reply"
    assert "released nothing" in why[FIRST_NODE + 2]


def test_the_rows_follow_partition_id_whatever_the_reply_order() -> None:
    s = strategy("mean", 0, 6, mode="plaintext")
    aggregate(s, rows(6))
    assert s.rounds[0].nodes == sorted(s.rounds[0].nodes) and len(s.rounds[0].nodes) == 6


def byzantine_last(byzantine: int) -> Any:
    def edit(i: int, reply: Message, instruction: Message) -> Message:
        if i < byzantine:
            return reply
        record = MetricRecord({"num-examples": 0, BYZANTINE_KEY: 1, "partition-id": i})
        return answer(instruction, RecordDict({"metrics": record}))

    return edit


@pytest.mark.spec("D16.4")
@pytest.mark.parametrize("mode", ["plaintext", "two-server"])
def test_the_simulated_adversary_fills_the_byzantine_rows(mode: str) -> None:
    x = rows(9)
    rng = opt.DeterministicRandomSource(0)
    s = strategy("krum", 2, 9, mode=mode, rng=rng, adversary=OmniscientAdversary(ALIE(2), rng=rng))
    arrays, metrics = aggregate(s, x, byzantine_last(7))
    # In mode two-server the adversary reads the updates as the servers would open them: in
    # fixed point (C1.4), so its vectors are computed from the decoded rows.
    honest = x[:7] if mode == "plaintext" else opt.decode(opt.encode(x[:7]))
    sent = np.vstack([x[:7], ALIE(2)(honest)])
    if mode == "plaintext":
        expected = modes.plaintext(sent, sbrml.rule("krum", f=2), rng=seeded("rule/0"))
    else:
        source = opt.ChaCha20RandomSource(seeded("round/0").random_bytes(32))
        expected = sbrml.secure_aggregate(sent, sbrml.rule("krum", f=2), rng=source)
    assert np.array_equal(flat(arrays), expected.aggregate) and metrics["valid"] == 9


def test_a_byzantine_marker_without_an_adversary_is_excluded() -> None:
    s = strategy("mean", 0, 5, mode="plaintext")
    _, metrics = aggregate(s, rows(5), byzantine_last(4))
    assert metrics["excluded"] == 1 and "no adversary" in s.rounds[0].excluded[FIRST_NODE + 4]


@pytest.mark.parametrize(
    ("kw", "clause", "text"),
    [
        ({"mode": "quantum"}, "D18.1", "two-server, plaintext, masks, paillier"),
        ({"mode": "masks", "rule": "krum"}, "D18.1", "computes the mean"),
        ({"rule": "no-such-rule"}, "D6.7", "a rule of the library"),
        ({"rule": "bulyan"}, "C8.11", "runs on shares"),
        ({"rule": "median", "leakage": "distances"}, "C8.15", "output"),
        ({"server_lr": 0.0}, "D18.1", "finite real in (0, 65536]"),
        ({"server_lr": math.nan}, "D18.1", "finite real in (0, 65536]"),
        ({"rng": np.random.default_rng(0)}, "C2.8", "RandomSource"),
    ],
)
def test_bad_parameters_fail_at_construction(kw: dict[str, Any], clause: str, text: str) -> None:
    rule = kw.pop("rule", "krum")
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=1, **kw)
    assert info.value.clause == clause and text in str(info.value)


def test_aggregate_train_needs_its_rounds_instructions() -> None:
    s = strategy("mean", 0, 3, mode="plaintext")
    with pytest.raises(ParameterError) as info:
        s.aggregate_train(1, [])
    assert "configure_train" in str(info.value)


def test_the_client_piece_needs_an_sbrml_instruction() -> None:
    s = strategy("mean", 0, 3, mode="plaintext")
    message = instructions(s, 3)[0]
    del message.content.config_records["config"]["sbrml-mode"]
    with pytest.raises(ParameterError) as info:
        client_replies([message], rows(3))
    assert "sbrml-mode" in str(info.value)


def test_a_foreign_config_record_does_not_confuse_the_client() -> None:
    s = strategy("mean", 0, 3, mode="plaintext")
    messages = instructions(s, 3)
    messages[0].content.config_records["other"] = ConfigRecord({"x": 1})
    assert len(client_replies(messages, rows(3))) == 3


@pytest.mark.parametrize(
    ("attack", "rng", "clause"),
    [
        ("alie", opt.DeterministicRandomSource(0), "C16.1"),
        (ALIE(2), np.random.default_rng(0), "C2.8"),
    ],
)
def test_the_adversary_needs_a_vector_attack_and_a_random_source(
    attack: Any, rng: Any, clause: str
) -> None:
    with pytest.raises(ParameterError) as info:
        OmniscientAdversary(attack, rng=rng)
    assert info.value.clause == clause
