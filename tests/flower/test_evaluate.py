"""Federated evaluation under Byzantine replies (issue 17's final review, E1): one node's
malformed evaluate reply never ends the run, is excluded and counted, and no reply drags the
reported metrics (each is the unweighted median over the nodes)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common import MessageType

from sbrml.flower import SecureRobustStrategy
from sbrml.flower.evaluation import MAX_EXAMPLES, METRIC_BOUND
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    Grid,
    answer,
    client_replies,
    error_reply,
    identity,
    rows,
    strategy,
)

BAD = FIRST_NODE + 2
ACCURACY = [0.5, 0.6, 0.7, 0.8, 0.9, 0.4, 0.3, 0.2]  # node 100 + i reports ACCURACY[i]

Edit = Callable[[Message, RecordDict], Message | RecordDict | None]


def honest(i: int, **extra: Any) -> RecordDict:
    return RecordDict(
        {"metrics": MetricRecord({"accuracy": ACCURACY[i], "num-examples": 10, **extra})}
    )


def with_metrics(**values: Any) -> Edit:
    return lambda m, c: RecordDict({"metrics": MetricRecord(values)})


def extra_record(m: Message, c: RecordDict) -> RecordDict:
    c["more"] = MetricRecord({"x": 1})
    return c


def extra_config(m: Message, c: RecordDict) -> RecordDict:
    c["config"] = ConfigRecord({"x": 1})
    return c


def extra_arrays(m: Message, c: RecordDict) -> RecordDict:
    c["arrays"] = ArrayRecord({"w": Array(np.zeros(2))})
    return c


def nan_metric(m: Message, c: RecordDict) -> RecordDict:
    # MetricRecord refuses nothing finite-or-not: set past its constructor as a decoder would.
    record = MetricRecord({"accuracy": 0.5, "num-examples": 10})
    record["accuracy"] = math.nan
    return RecordDict({"metrics": record})


# Each fault: the evaluate reply node BAD sends instead of its honest one.
FAULTS: dict[str, Edit] = {
    "a second MetricRecord": extra_record,
    "a ConfigRecord besides": extra_config,
    "an ArrayRecord besides": extra_arrays,
    "an extra metric key": with_metrics(accuracy=0.9, **{"num-examples": 10, "extra": 1}),
    "a missing metric key": with_metrics(**{"num-examples": 10}),
    "no num-examples": with_metrics(accuracy=0.9),
    "a huge weight and accuracy": with_metrics(accuracy=-1e300, **{"num-examples": 10**9}),
    "NaN": nan_metric,
    "infinity": with_metrics(accuracy=math.inf, **{"num-examples": 10}),
    "beyond 2^53": with_metrics(accuracy=2.0 * METRIC_BOUND, **{"num-examples": 10}),
    "an int beyond 2^53": with_metrics(accuracy=10**30, **{"num-examples": 10}),
    "num-examples 0": with_metrics(accuracy=0.9, **{"num-examples": 0}),
    "num-examples negative": with_metrics(accuracy=0.9, **{"num-examples": -5}),
    "num-examples a float": with_metrics(accuracy=0.9, **{"num-examples": 10.0}),
    "num-examples beyond 2^53": with_metrics(accuracy=0.9, **{"num-examples": MAX_EXAMPLES + 1}),
    "num-examples a list": with_metrics(accuracy=0.9, **{"num-examples": [1, 2]}),
    "a list for a scalar": with_metrics(accuracy=[0.9, 0.9], **{"num-examples": 10}),
    "the strategy's own name": with_metrics(
        accuracy=0.9, **{"num-examples": 10, "sbrml-excluded": 0}
    ),
    "an error reply": lambda m, c: error_reply(m, "evaluate\nfailed"),
    "no reply": lambda m, c: None,
}


class FedGrid(Grid):
    """A grid whose nodes train through the client piece and evaluate with a MetricRecord;
    node BAD's evaluate reply goes through ``edit``."""

    def __init__(self, n: int, edit: Edit | None = None) -> None:
        super().__init__([FIRST_NODE + i for i in range(n)])
        self.edit = edit

    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> list[Message]:
        messages = list(messages)
        if messages and messages[0].metadata.message_type == MessageType.TRAIN:
            return client_replies(messages, rows(len(self.nodes)))
        return evaluate_replies(messages, self.edit)


def evaluate_replies(messages: list[Message], edit: Edit | None = None) -> list[Message]:
    out = []
    for m in messages:
        i = m.metadata.dst_node_id - FIRST_NODE
        content: Message | RecordDict | None = honest(i)
        if edit is not None and i == BAD - FIRST_NODE:
            content = edit(m, honest(i))
        if isinstance(content, RecordDict):
            out.append(answer(m, content))
        elif content is not None:
            out.append(content)
    return out


def evaluate_instructions(s: SecureRobustStrategy, nodes: list[int], server_round: int = 1) -> Any:
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid = Grid(nodes)
    return list(s.configure_evaluate(server_round, model, ConfigRecord(), grid))  # type: ignore[arg-type]


def nodes(n: int) -> list[int]:
    return [FIRST_NODE + i for i in range(n)]


@pytest.mark.parametrize("fault", sorted(FAULTS))
def test_a_malformed_evaluate_reply_is_excluded_and_counted(fault: str) -> None:
    s = strategy("median", 1, 7, mode="plaintext")
    messages = evaluate_instructions(s, nodes(7))
    metrics = s.aggregate_evaluate(1, evaluate_replies(messages, FAULTS[fault]))
    assert metrics is not None
    assert (metrics["sbrml-valid"], metrics["sbrml-excluded"]) == (6, 1)
    others = [a for i, a in enumerate(ACCURACY[:7]) if i != BAD - FIRST_NODE]
    assert metrics["accuracy"] == pytest.approx(float(np.median(others)))
    assert set(metrics) == {"accuracy", "sbrml-valid", "sbrml-excluded", "sbrml-ignored"}
    record = s.evaluations[-1]
    assert set(record.excluded) == {BAD} and record.excluded[BAD].startswith(f"node {BAD} (row 2)")
    assert "\n" not in record.excluded[BAD] and "1e+300" not in record.excluded[BAD]


@pytest.mark.parametrize("fault", ["a second MetricRecord", "an extra metric key"])
def test_a_malformed_evaluate_reply_does_not_end_the_run(fault: str) -> None:
    # FedAvg's default fraction_evaluate (1.0): every node evaluates after every round.
    s = strategy("median", 1, 7)
    identity()
    result = s.start(
        grid=FedGrid(7, FAULTS[fault]),  # type: ignore[arg-type]
        initial_arrays=TEMPLATE.unflatten(np.zeros(TEMPLATE.dim)),
        num_rounds=2,
    )
    for r in (1, 2):
        metrics = result.evaluate_metrics_clientapp[r]
        assert metrics["sbrml-excluded"] == 1 and metrics["sbrml-valid"] == 6
    assert [e.server_round for e in s.evaluations] == [1, 2]


def test_a_huge_weight_does_not_drag_the_metrics() -> None:
    # In range, but claiming 10^9 examples: the median counts the node once, as any other.
    s = strategy("median", 1, 7, mode="plaintext")
    messages = evaluate_instructions(s, nodes(7))
    liar = with_metrics(accuracy=0.0, **{"num-examples": 10**9})
    metrics = s.aggregate_evaluate(1, evaluate_replies(messages, liar))
    assert metrics is not None and metrics["sbrml-valid"] == 7
    accuracies = [0.0 if i == BAD - FIRST_NODE else a for i, a in enumerate(ACCURACY[:7])]
    assert metrics["accuracy"] == pytest.approx(float(np.median(accuracies)))
    reported = metrics["accuracy"]
    assert isinstance(reported, float) and min(ACCURACY[:7]) <= reported <= max(ACCURACY[:7])


def test_a_byzantine_first_reply_does_not_set_the_layout() -> None:
    # FedAvg takes the first reply's keys as the expected ones; here most replies set them.
    s = strategy("median", 1, 7, mode="plaintext")
    messages = evaluate_instructions(s, nodes(7))
    replies = evaluate_replies(messages, with_metrics(odd=1.0, **{"num-examples": 10}))
    first = next(r for r in replies if r.metadata.src_node_id == BAD)
    metrics = s.aggregate_evaluate(1, [first, *(r for r in replies if r is not first)])
    assert metrics is not None and metrics["sbrml-excluded"] == 1 and "odd" not in metrics


def test_no_layout_shared_by_most_replies_excludes_all_without_raising() -> None:
    s = strategy("mean", 0, 2, mode="plaintext")
    messages = evaluate_instructions(s, nodes(2))
    replies = [
        answer(messages[0], honest(0)),
        answer(messages[1], honest(1, loss=0.1)),
    ]
    metrics = s.aggregate_evaluate(1, replies)
    assert metrics is not None and dict(metrics) == {
        "sbrml-valid": 0,
        "sbrml-excluded": 2,
        "sbrml-ignored": 0,
    }
    assert all("no layout is shared" in why for why in s.evaluations[-1].excluded.values())


def test_list_metrics_take_the_median_element_by_element() -> None:
    s = strategy("mean", 0, 3, mode="plaintext")
    messages = evaluate_instructions(s, nodes(3))
    replies = [answer(m, honest(i, per_class=[float(i), 10.0 * i])) for i, m in enumerate(messages)]
    metrics = s.aggregate_evaluate(1, replies)
    assert metrics is not None and metrics["per_class"] == [1.0, 10.0]


def test_ignored_and_conflicting_evaluate_replies_count_as_in_training() -> None:
    s = strategy("median", 1, 7, mode="plaintext")
    messages = evaluate_instructions(s, nodes(7))
    replies = evaluate_replies(messages)
    # Node 107 answers an evaluate instruction of another federation: not sampled here.
    elsewhere = evaluate_replies(evaluate_instructions(strategy("median", 1, 8), nodes(8)))
    stranger = next(r for r in elsewhere if r.metadata.src_node_id == FIRST_NODE + 7)
    again = next(r for r in replies if r.metadata.src_node_id == FIRST_NODE)
    bad = next(m for m in messages if m.metadata.dst_node_id == BAD)
    other = answer(bad, honest(0))
    metrics = s.aggregate_evaluate(1, [*replies, again, again, stranger, other])
    assert metrics is not None
    assert (metrics["sbrml-valid"], metrics["sbrml-excluded"], metrics["sbrml-ignored"]) == (
        6,
        1,
        3,
    )
    assert "2 different replies" in s.evaluations[-1].excluded[BAD]


def test_a_node_listed_twice_evaluates_once() -> None:
    s = strategy("median", 1, 6, mode="plaintext")
    messages = evaluate_instructions(s, [*nodes(6), BAD])
    assert sorted(m.metadata.dst_node_id for m in messages) == nodes(6)
    metrics = s.aggregate_evaluate(1, evaluate_replies(messages))
    assert metrics is not None and metrics["sbrml-valid"] == 6


def test_the_callers_aggregation_gets_only_the_accepted_replies() -> None:
    seen: list[int] = []

    def aggregate(contents: list[RecordDict], key: str) -> MetricRecord:
        seen.append(len(contents))
        return MetricRecord({"n": len(contents)})

    s = strategy("median", 1, 7, mode="plaintext", evaluate_metrics_aggr_fn=aggregate)
    messages = evaluate_instructions(s, nodes(7))
    metrics = s.aggregate_evaluate(1, evaluate_replies(messages, FAULTS["NaN"]))
    assert seen == [6] and metrics is not None and metrics["n"] == 6


def test_no_evaluation_sampled_returns_none() -> None:
    s = strategy("median", 1, 7, mode="plaintext", fraction_evaluate=0.0)
    assert evaluate_instructions(s, nodes(7)) == []
    assert s.aggregate_evaluate(1, []) is None
