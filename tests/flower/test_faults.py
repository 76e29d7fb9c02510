"""SecureRobustStrategy under faulty and Byzantine replies (issue 17's review): in every mode a
bad reply — NaN, infinity, a huge value, another length or dtype, a missing array, an array
whose bytes contradict its metadata, shares that do not open — is excluded and reported, the
round goes on for the honest nodes, and the counts in the metrics are the reasons'."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict

import sbrml
import sbrml.api
import sbrml.flower
import sbrml.flower.servers
import sbrml.optimized as opt
from sbrml import modes
from sbrml.core.errors import ParameterError
from sbrml.flower import SecureRobustStrategy, Template
from sbrml.flower.records import SHARES_KEY
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    Grid,
    answer,
    client_replies,
    context,
    identity,
    instructions,
    rows,
    strategy,
)

BAD = FIRST_NODE + 2  # the faulty node: partition 2


def npy(values: Any) -> bytes:
    out = io.BytesIO()
    np.save(out, np.asarray(values), allow_pickle=False)
    return out.getvalue()


def header_only(shape: tuple[int, ...]) -> bytes:
    """A valid ``.npy`` header declaring float64 ``shape``, and 16 bytes of data: NumPy would
    allocate the declared shape before finding the data short (a MemoryError at 10^13)."""
    out = io.BytesIO()
    header = {"descr": "<f8", "fortran_order": False, "shape": shape}
    np.lib.format.write_array_header_1_0(out, header)
    return out.getvalue() + bytes(16)


def record(w: Array, b: Array | None = None) -> ArrayRecord:
    out = ArrayRecord()
    out["w"] = w
    out["b"] = Array(np.zeros(4)) if b is None else b
    return out


def lying(data: bytes, dtype: str = "float64", stype: str = "numpy.ndarray") -> ArrayRecord:
    """``w`` whose metadata say float64 (3, 4) and whose bytes are ``data``."""
    return record(Array(dtype=dtype, shape=(3, 4), stype=stype, data=data))


def with_value(value: float) -> Callable[[Any], ArrayRecord]:
    return lambda x: TEMPLATE.unflatten(np.where(np.arange(16) == 0, value, x))


def without_b(x: Any) -> ArrayRecord:
    out = TEMPLATE.unflatten(x)
    del out["b"]
    return out


# What a Byzantine client may send as its arrays, and a word its published reason contains.
FAULTS: dict[str, tuple[Callable[[Any], ArrayRecord | None], str]] = {
    "nan": (with_value(np.nan), "C1.1"),
    "inf": (with_value(-np.inf), "C1.1"),
    "huge": (with_value(1e20), "C1."),
    "other shape": (lambda x: record(Array(np.zeros((4, 3)))), "D8.1"),
    "bool": (lambda x: record(Array(np.zeros((3, 4), dtype=bool))), "D8.1"),
    "complex": (lambda x: record(Array(np.zeros((3, 4), dtype=complex))), "D8.1"),
    "unknown dtype": (lambda x: lying(npy(np.zeros((3, 4))), dtype="weird"), "D8.1"),
    "bytes of another shape": (lambda x: lying(npy(np.zeros(5))), "D8.1"),
    "bytes of strings": (lambda x: lying(npy(np.full((3, 4), "a"))), "D8.1"),
    "bytes of floats": (lambda x: lying(npy(np.zeros((3, 4), dtype=np.float32))), "D8.1"),
    "garbage bytes": (lambda x: lying(b"garbage"), "D8.1"),
    "another serialization": (lambda x: lying(b"garbage", stype="torch"), "D8.1"),
    "empty bytes": (lambda x: lying(b""), "D8.1"),
    "a header declaring 10^13 items": (lambda x: lying(header_only((10**13,))), "D8.1"),
    "a header of the declared shape, no data": (lambda x: lying(header_only((3, 4))), "D8.1"),
    "missing array": (without_b, "D8.1"),
    "no arrays": (lambda x: None, "D8.1"),
}
PLAIN_MODES = [("plaintext", "median", 1), ("masks", "mean", 0), ("paillier", "mean", 0)]


def faulty(fault: Callable[[Any], ArrayRecord | None], x: Any) -> Any:
    """Node 2 replies ``fault(x[2])`` (with its partition-id) instead of the client piece's."""

    def edit(i: int, reply: Message, instruction: Message) -> Message:
        if i != 2:
            return reply
        content = RecordDict({"metrics": MetricRecord({"partition-id": 2})})
        arrays = fault(x[2])
        if arrays is not None:
            content["arrays"] = arrays
        return answer(instruction, content)

    return edit


@pytest.fixture(scope="module")
def plain_strategies() -> dict[str, SecureRobustStrategy]:
    # One strategy per mode for every fault: Paillier's key is generated once (about a second).
    return {mode: strategy(rule, f, 7, mode=mode) for mode, rule, f in PLAIN_MODES}


@pytest.mark.spec("C8.3", "C1.1", "C1.2", "C14.2")
@pytest.mark.parametrize("fault", sorted(FAULTS))
@pytest.mark.parametrize("mode", [m for m, _, _ in PLAIN_MODES])
def test_a_bad_reply_is_excluded_in_every_plain_mode(
    plain_strategies: dict[str, SecureRobustStrategy], mode: str, fault: str
) -> None:
    s = plain_strategies[mode]
    make, clause = FAULTS[fault]
    x = rows(7)
    server_round = len(s.rounds) + 1
    messages = instructions(s, 7, server_round=server_round)
    arrays, metrics = s.aggregate_train(server_round, client_replies(messages, x, faulty(make, x)))
    why = s.rounds[-1].excluded
    assert metrics is not None and metrics["aborted"] == 0, s.rounds[-1].error
    assert set(why) == {BAD} and metrics["excluded"] == 1 and metrics["valid"] == 6
    assert clause in why[BAD] and "1e+20" not in why[BAD] and "nan" not in why[BAD].lower()
    kept = [0, 1, 3, 4, 5, 6]
    assert arrays is not None
    if mode != "plaintext":  # the mean of the six others, to the protocols' fixed point
        assert np.allclose(TEMPLATE.flatten(arrays), x[kept].mean(axis=0), atol=2e-5)


@pytest.mark.spec("C14.2")
@pytest.mark.parametrize("value", [1e13, 1e14])
def test_paillier_excludes_a_value_beyond_its_slots_and_goes_on(
    plain_strategies: dict[str, SecureRobustStrategy], value: float
) -> None:
    # Encodable values too large for the packing's slots at this n: the row is excluded under
    # C14.2 instead of the round failing to build its packing (C14.1) for everyone.
    s = plain_strategies["paillier"]
    x = rows(7)
    x[2, 5] = value
    server_round = len(s.rounds) + 1
    messages = instructions(s, 7, server_round=server_round)
    arrays, metrics = s.aggregate_train(server_round, client_replies(messages, x))
    assert metrics is not None and metrics["aborted"] == 0, s.rounds[-1].error
    why = s.rounds[-1].excluded
    assert set(why) == {BAD} and "C14.2" in why[BAD] and metrics["valid"] == 6
    assert arrays is not None
    assert np.allclose(TEMPLATE.flatten(arrays), np.delete(x, 2, axis=0).mean(axis=0), atol=2e-5)


def test_masks_count_a_value_within_its_range_as_the_mean_does() -> None:
    # Masks average what they are given (not robust): a value inside C20.2's range counts.
    x = rows(5)
    x[2, 0] = 1e9
    s = strategy("mean", 0, 5, mode="masks")
    messages = instructions(s, 5)
    arrays, metrics = s.aggregate_train(1, client_replies(messages, x))
    assert metrics is not None and metrics["valid"] == 5 and arrays is not None
    assert np.allclose(TEMPLATE.flatten(arrays), x.mean(axis=0), atol=2e-5)


# -- mode two-server: shares that do not open -----------------------------------------------


def shares_edit(make: Callable[[ConfigRecord], ConfigRecord]) -> Any:
    def edit(i: int, reply: Message, instruction: Message) -> Message:
        if i != 2:
            return reply
        shares = make(reply.content.config_records[SHARES_KEY])
        content = RecordDict({"metrics": MetricRecord({"partition-id": 2}), SHARES_KEY: shares})
        return answer(instruction, content)

    return edit


@pytest.mark.spec("C8.3")
def test_a_worker_whose_two_shares_fail_reports_both_servers() -> None:
    s = strategy("median", 1, 7)
    messages = instructions(s, 7)
    garbage = shares_edit(lambda _: ConfigRecord({"S0": b"x" * 100, "S1": b"y" * 100}))
    _, metrics = s.aggregate_train(1, client_replies(messages, rows(7), garbage))
    why = s.rounds[0].excluded[BAD]
    assert metrics is not None and metrics["excluded"] == 1
    assert "sealed to S0 does not open" in why and "sealed to S1 does not open" in why


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize(
    ("make", "text"),
    [
        (lambda s: ConfigRecord({"S0": s["S0"]}), "sealed to S1 does not open"),
        (lambda s: ConfigRecord({"S0": 3, "S1": "x"}), "sealed to S0 does not open"),
        (lambda s: ConfigRecord({"refused": 5}), "input rejected before sharing"),
        (lambda s: ConfigRecord(), "sealed to S0 does not open"),
    ],
)
def test_two_server_excludes_malformed_sealed_records(
    make: Callable[[ConfigRecord], ConfigRecord], text: str
) -> None:
    s = strategy("median", 1, 7)
    messages = instructions(s, 7)
    _, metrics = s.aggregate_train(1, client_replies(messages, rows(7), shares_edit(make)))
    assert metrics is not None and metrics["excluded"] == 1 and metrics["valid"] == 6
    assert text in s.rounds[0].excluded[BAD]


# -- one conversion of a two-server round ---------------------------------------------------


def test_the_servers_and_the_front_door_publish_a_round_through_one_function() -> None:
    assert vars(sbrml.flower.servers).get("two_server_result") is sbrml.api.two_server_result
    x = rows(7)
    result = sbrml.secure_aggregate(
        x, sbrml.rule("krum", f=1), rng=opt.DeterministicRandomSource(1)
    )
    assert result.transcript is None and modes.total_bytes(result) > 0


# -- every constructor argument is checked when the strategy is built ----------------------


@pytest.mark.parametrize(
    ("kw", "parameter", "clause"),
    [
        ({"mode": "paillier", "rule": "mean", "paillier_bits": 512}, "paillier_bits", "C13.1"),
        ({"paillier_bits": 2048.0}, "paillier_bits", "C13.1"),
        ({"processes": 0}, "processes", "C0.2"),
        ({"processes": True}, "processes", "C0.2"),
        ({"order_key": ""}, "order_key", "D18.1"),
        ({"order_key": 3}, "order_key", "D18.1"),
        ({"rule": 3}, "rule", "D6.7"),
        ({"hyperparameters": 5}, "hyperparameters", "D6.7"),
        ({"mode": "plaintext", "leakage": "index"}, "leakage", "D18.1"),
        ({"adversary": "alie"}, "adversary", "D18.1"),
        ({"bogus": 3}, "bogus", "D18.1"),
        ({"fraction_train": 2.0}, "fraction_train", "D18.1"),
        ({"fraction_evaluate": -0.5}, "fraction_evaluate", "D18.1"),
        ({"min_train_nodes": -1}, "min_train_nodes", "D18.1"),
        ({"min_available_nodes": 2.5}, "min_available_nodes", "D18.1"),
        ({"arrayrecord_key": ""}, "arrayrecord_key", "D18.1"),
        ({"evaluate_metrics_aggr_fn": 3}, "evaluate_metrics_aggr_fn", "D18.1"),
        ({"train_metrics_aggr_fn": lambda r, k: None}, "train_metrics_aggr_fn", "D18.1"),
    ],
)
def test_every_argument_is_checked_at_construction(
    kw: dict[str, Any], parameter: str, clause: str
) -> None:
    rule = kw.pop("rule", "krum")
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=1, **kw)
    err = info.value
    assert err.function == "SecureRobustStrategy" and err.parameter == parameter
    assert err.clause == clause and str(err).endswith(f"got {err.got}")


def test_fedavgs_other_arguments_pass_through() -> None:
    def evaluate_metrics(records: Any, key: str) -> MetricRecord:
        return MetricRecord()

    s = SecureRobustStrategy(
        "krum",
        f=1,
        fraction_train=0.5,
        fraction_evaluate=0.25,
        min_train_nodes=5,
        min_evaluate_nodes=4,
        min_available_nodes=6,
        weighted_by_key="examples",
        arrayrecord_key="model",
        configrecord_key="settings",
        evaluate_metrics_aggr_fn=evaluate_metrics,
    )
    assert (s.fraction_train, s.fraction_evaluate) == (0.5, 0.25)
    assert (s.min_train_nodes, s.min_evaluate_nodes, s.min_available_nodes) == (5, 4, 6)
    assert (s.weighted_by_key, s.arrayrecord_key, s.configrecord_key) == (
        "examples",
        "model",
        "settings",
    )
    assert s.evaluate_metrics_aggr_fn is evaluate_metrics


# -- the counts are the reasons', in every path; an aborted round keeps the model ------------


def plain(i: int, reply: Message, instruction: Message) -> Message:
    """Every node answers a secure mode with its update in the clear."""
    content = RecordDict({"arrays": TEMPLATE.unflatten(rows(7)[i]), "metrics": MetricRecord()})
    return answer(instruction, content)


@pytest.mark.spec("C8.3", "C8.4")
def test_all_plain_replies_to_two_server_are_all_excluded_and_counted() -> None:
    s = strategy("median", 1, 7)
    messages = instructions(s, 7)
    arrays, metrics = s.aggregate_train(1, client_replies(messages, rows(7), plain))
    assert metrics is not None and metrics["aborted"] == 1
    assert metrics["excluded"] == 7 and metrics["valid"] == 0
    assert all("no sealed shares" in why for why in s.rounds[0].excluded.values())
    assert arrays is not None and np.array_equal(TEMPLATE.flatten(arrays), np.zeros(16))


@pytest.mark.spec("C8.4")
@pytest.mark.parametrize("mode", ["masks", "paillier"])
def test_an_aborted_averaging_round_counts_every_node(
    plain_strategies: dict[str, SecureRobustStrategy], mode: str
) -> None:
    # Every update is out of the protocol's range: each simulated worker refuses its own.
    s = plain_strategies[mode]
    server_round = len(s.rounds) + 1
    messages = instructions(s, 7, server_round=server_round)
    arrays, metrics = s.aggregate_train(server_round, client_replies(messages, rows(7) + 1e14))
    assert metrics is not None and metrics["aborted"] == 1
    assert metrics["excluded"] == 7 and metrics["valid"] == 0 and s.rounds[-1].error
    assert arrays is not None and np.array_equal(TEMPLATE.flatten(arrays), np.zeros(16))


def test_ignored_replies_are_counted_apart() -> None:
    s = strategy("median", 1, 7, mode="plaintext")
    messages = instructions(s, 7)
    replies = client_replies(messages, rows(7))
    # Node FIRST_NODE + 7 answers an instruction of another federation: not sampled here.
    others = instructions(strategy("median", 1, 8, mode="plaintext"), 8)
    elsewhere = next(m for m in others if m.metadata.dst_node_id == FIRST_NODE + 7)
    stranger = client_replies([elsewhere], rows(8))[0]
    _, metrics = s.aggregate_train(1, [*replies, replies[0], stranger])
    assert metrics is not None and metrics["ignored"] == 2 and metrics["valid"] == 7
    assert s.rounds[0].ignored == {
        replies[0].metadata.src_node_id: "an identical repeat of its reply",
        FIRST_NODE + 7: "not sampled in this round",
    }


class PlainGrid(Grid):
    """A grid whose nodes answer every train instruction in the clear (to mode two-server)."""

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> list[Message]:
        out = []
        for m in messages:
            i = m.metadata.dst_node_id - FIRST_NODE
            out.append(plain(i, Message(RecordDict(), reply_to=m), m))
        return out


def test_a_run_whose_every_round_aborts_ends_with_the_initial_model() -> None:
    s = strategy("median", 1, 7, fraction_evaluate=0.0)
    initial = TEMPLATE.unflatten(rows(1, seed=4)[0])
    identity()
    grid = PlainGrid([FIRST_NODE + i for i in range(7)])
    result = s.start(grid=grid, initial_arrays=initial, num_rounds=2)  # type: ignore[arg-type]
    assert np.array_equal(TEMPLATE.flatten(result.arrays), TEMPLATE.flatten(initial))
    assert [r.error is not None for r in s.rounds] == [True, True]
    assert all(m["aborted"] == 1 for m in result.train_metrics_clientapp.values())


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_bad_plain_reply_to_two_server_is_excluded(fault: str) -> None:
    s = strategy("median", 1, 7)
    x = rows(7)
    messages = instructions(s, 7)
    _, metrics = s.aggregate_train(1, client_replies(messages, x, faulty(FAULTS[fault][0], x)))
    assert metrics is not None and metrics["valid"] == 6 and metrics["excluded"] == 1
    assert "no sealed shares" in s.rounds[0].excluded[BAD]


@pytest.mark.spec("C8.3", "C1.1", "C1.2")
@pytest.mark.parametrize(
    ("update", "text"),
    [
        (TEMPLATE.unflatten(np.full(16, np.nan)), "C1.1"),
        (TEMPLATE.unflatten(np.full(16, np.inf)), "C1.1"),
        (TEMPLATE.unflatten(np.full(16, 1e20)), "C1.2"),
        (Template(("w",), ((9,),), ("float64",)).unflatten(np.zeros(9)), "malformed share"),
    ],
)
def test_the_client_piece_on_a_bad_update_gets_its_node_excluded(
    update: ArrayRecord, text: str
) -> None:
    # In mode two-server the client piece refuses what it cannot share (C1.x) and says why;
    # an update of another length is shared, and the servers find its shares malformed (C8.3).
    s = strategy("median", 1, 7)
    messages = instructions(s, 7)

    def edit(i: int, reply: Message, instruction: Message) -> Message:
        if i != 2:
            return reply
        rng = opt.DeterministicRandomSource(2)
        return sbrml.flower.reply(
            instruction, context(instruction), update, num_examples=1, rng=rng
        )

    _, metrics = s.aggregate_train(1, client_replies(messages, rows(7), edit))
    assert metrics is not None and metrics["valid"] == 6 and metrics["excluded"] == 1
    assert text in s.rounds[0].excluded[BAD]
