"""The strategy's second final review (issue 17): node minimums that Flower would wait for
forever, ``server_round`` checks, reserved hyperparameters, conflict counts, log lines quoting a
client's text, and ``evaluate_metrics_aggr_fn``'s result."""

from __future__ import annotations

import io
import logging
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common.logger import FLOWER_LOGGER

import sbrml.optimized as opt
from sbrml.core.errors import ParameterError, shown
from sbrml.core.reasons import REASON_CHARS
from sbrml.flower import SecureRobustStrategy
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    Grid,
    answer,
    client_replies,
    error_reply,
    identity,
    instructions,
    rows,
    strategy,
)


class Waits(Exception):
    """Flower's ``sample_nodes`` polling for more nodes (it sleeps 1 s, without a deadline)."""


def no_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    def sleep(_: float) -> None:
        raise Waits("Flower's sample_nodes waits for more nodes than are connected")

    monkeypatch.setattr("flwr.serverapp.strategy.strategy_utils.sleep", sleep)


# -- finding 1: the minimums default to what the federation can meet -----------------------


@pytest.mark.parametrize(
    ("rule", "mode"), [("mean", "plaintext"), ("median", "two-server"), ("mean", "paillier")]
)
def test_a_one_node_federation_trains_and_evaluates(
    monkeypatch: pytest.MonkeyPatch, rule: str, mode: str
) -> None:
    no_wait(monkeypatch)
    s = SecureRobustStrategy(rule, f=0, mode=mode, rng=opt.DeterministicRandomSource(0))
    assert (s.min_train_nodes, s.min_evaluate_nodes, s.min_available_nodes) == (1, 1, 1)
    if mode == "paillier":
        return  # a 2048-bit key is too slow for a test; the minimums are the point
    identity()
    grid = Grid([100])
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    messages = list(s.configure_train(1, model, ConfigRecord(), grid))  # type: ignore[arg-type]
    arrays, metrics = s.aggregate_train(1, client_replies(messages, rows(1)))
    assert arrays is not None and metrics is not None and metrics["valid"] == 1
    evaluate = list(s.configure_evaluate(1, arrays, ConfigRecord(), grid))  # type: ignore[arg-type]
    assert [m.metadata.dst_node_id for m in evaluate] == [100]


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({}, (5, 2, 5)),
        ({"min_evaluate_nodes": 9}, (5, 9, 9)),
        ({"min_train_nodes": 6, "min_evaluate_nodes": 9}, (6, 9, 9)),
        ({"min_evaluate_nodes": 9, "fraction_evaluate": 0.0}, (5, 0, 5)),
        ({"min_train_nodes": 7}, (7, 2, 7)),
    ],
)
def test_min_available_nodes_unset_is_the_largest_minimum_waited_for(
    kw: dict[str, Any], expected: tuple[int, int, int]
) -> None:
    s = SecureRobustStrategy("krum", f=1, **kw)
    assert (s.min_train_nodes, s.min_evaluate_nodes, s.min_available_nodes) == expected


# -- finding 2: server_round is an int in [1, 2^63 - 1] ------------------------------------

BAD_ROUNDS = [0, -1, 2**63, 10**5000, "1", None, True, 1.0]


@pytest.mark.parametrize("server_round", BAD_ROUNDS, ids=lambda v: shown(v)[:12])
@pytest.mark.parametrize(
    "stage", ["configure_train", "aggregate_train", "configure_evaluate", "aggregate_evaluate"]
)
def test_a_round_that_is_no_round_number_is_refused(stage: str, server_round: Any) -> None:
    s = strategy("median", 1, 5, mode="plaintext")
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid: Any = Grid([FIRST_NODE + i for i in range(5)])
    calls: dict[str, Callable[[], object]] = {
        "configure_train": lambda: s.configure_train(server_round, model, ConfigRecord(), grid),
        "aggregate_train": lambda: s.aggregate_train(server_round, []),
        "configure_evaluate": lambda: s.configure_evaluate(
            server_round, model, ConfigRecord(), grid
        ),
        "aggregate_evaluate": lambda: s.aggregate_evaluate(server_round, []),
    }
    with pytest.raises(ParameterError) as info:
        calls[stage]()
    err = info.value
    assert (err.function, err.parameter, err.clause) == (stage, "server_round", "D18.1")
    assert err.got == shown(server_round)


def test_the_largest_round_runs() -> None:
    s = strategy("median", 1, 5, mode="plaintext")
    last = 2**63 - 1
    messages = instructions(s, 5, server_round=last)
    _, metrics = s.aggregate_train(last, client_replies(messages, rows(5)))
    assert metrics is not None and metrics["valid"] == 5


# -- finding 3: sbrml.rule's own arguments are no hyperparameters --------------------------


@pytest.mark.parametrize(
    ("key", "value", "why"),
    [
        ("f", 3, "the strategy's own argument 'f'"),
        ("name", "median", "the strategy's own argument 'rule'"),
        ("impl", "reference", "the strategy runs the optimized tree"),
    ],
)
def test_reserved_hyperparameters_are_refused(key: str, value: object, why: str) -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("krum", f=1, mode="plaintext", hyperparameters={key: value})
    err = info.value
    assert (err.function, err.parameter, err.clause) == (
        "SecureRobustStrategy",
        "hyperparameters",
        "D6.7",
    )
    assert repr(key) in err.condition and why in err.condition
    assert err.got == f"{key}={value!r}"


@pytest.mark.parametrize(
    ("rule", "key"), [("geomed", "tol"), ("geomed", "nu"), ("cc", "tau"), ("clip+mean", "c")]
)
def test_a_huge_real_hyperparameter_is_refused_by_its_rule(rule: str, key: str) -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=1, mode="plaintext", hyperparameters={key: 10**5000})
    assert info.value.parameter == key and "an int of" in str(info.value)


# -- finding 4: a conflict counts different replies; repeats are ignored -------------------


def evaluate_content(accuracy: float) -> RecordDict:
    return RecordDict({"metrics": MetricRecord({"accuracy": accuracy, "num-examples": 10})})


def test_a_conflict_in_evaluation_counts_different_replies() -> None:
    s = strategy("median", 1, 5, mode="plaintext")
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid: Any = Grid([FIRST_NODE + i for i in range(5)])
    sent = sorted(
        s.configure_evaluate(1, model, ConfigRecord(), grid), key=lambda m: m.metadata.dst_node_id
    )
    replies = [answer(m, evaluate_content(0.5)) for m in sent]
    b = answer(sent[0], evaluate_content(0.1))
    metrics = s.aggregate_evaluate(1, [*replies, b, b, b])
    assert metrics is not None
    record = s.evaluations[-1]
    assert record.excluded[FIRST_NODE].startswith(f"node {FIRST_NODE} (row 0): 2 different")
    assert (metrics["sbrml-ignored"], record.ignored_replies) == (2, 2)
    assert record.ignored == {FIRST_NODE: "an identical repeat of its reply"}


def test_a_conflict_in_training_counts_different_replies() -> None:
    s = strategy("median", 1, 5, mode="plaintext")
    sent = instructions(s, 5)
    first = client_replies(sent, rows(5))
    other = client_replies(sent, rows(5, seed=1))  # reverse order: other[0] is node 104's
    a_again = first[0]
    _, metrics = s.aggregate_train(1, [*first, other[0], other[0], a_again])
    assert metrics is not None
    node = FIRST_NODE + 4
    assert s.rounds[-1].excluded[node].startswith(f"node {node} (row 4): 2 different")
    assert metrics["ignored"] == 2 and metrics["excluded"] == 1 and metrics["valid"] == 4


def test_a_repeated_reply_flower_cannot_serialize_is_ignored_not_raised() -> None:
    # object_id serializes the content: an int beyond 64 bits raised ValueError there.
    s = strategy("median", 1, 5, mode="plaintext")
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid: Any = Grid([FIRST_NODE + i for i in range(5)])
    sent = sorted(
        s.configure_evaluate(1, model, ConfigRecord(), grid), key=lambda m: m.metadata.dst_node_id
    )
    bad = answer(sent[0], evaluate_content(10**30))
    replies = [answer(m, evaluate_content(0.5)) for m in sent[1:]]
    metrics = s.aggregate_evaluate(1, [*replies, bad, bad])
    assert metrics is not None and metrics["sbrml-ignored"] == 1
    assert "is not a finite real" in s.evaluations[-1].excluded[FIRST_NODE]


# -- finding 5: a client's text reaches a log line escaped and cut -------------------------

FORGED = "\nINFO :      aggregate: all nodes valid (forged)\n" + "A" * 100_000


@pytest.fixture
def flower_log() -> Iterator[io.StringIO]:
    """Everything Flower's logger writes during the test."""
    text = io.StringIO()
    handler = logging.StreamHandler(text)
    FLOWER_LOGGER.addHandler(handler)
    yield text
    FLOWER_LOGGER.removeHandler(handler)


def test_no_reply_can_forge_a_log_line(flower_log: io.StringIO) -> None:
    """Evaluation quoted a metric key raw in its WARNING; training (checked alike) logs the
    published reasons."""
    s = strategy("median", 1, 5, mode="plaintext")
    sent = instructions(s, 5)

    def forge(i: int, reply: Message, instruction: Message) -> Message:
        return error_reply(instruction, FORGED) if i == 0 else reply

    arrays, _ = s.aggregate_train(1, client_replies(sent, rows(5), edit=forge))
    assert len(s.rounds[-1].excluded) == 1
    grid: Any = Grid([FIRST_NODE + i for i in range(5)])
    assert arrays is not None
    sent = sorted(
        s.configure_evaluate(1, arrays, ConfigRecord(), grid), key=lambda m: m.metadata.dst_node_id
    )
    replies = [answer(m, evaluate_content(0.5)) for m in sent[:3]]
    forged = RecordDict({"metrics": MetricRecord({"accuracy": 0.5, "num-examples": 10, FORGED: 1})})
    replies.append(answer(sent[3], forged))
    replies.append(error_reply(sent[4], FORGED))
    s.aggregate_evaluate(1, replies)
    assert len(s.evaluations[-1].excluded) == 2
    log = flower_log.getvalue()
    assert "\nINFO :      aggregate: all nodes valid" not in log
    assert "A" * (REASON_CHARS + 1) not in log
    assert log.count("excluded node") == 3  # each exclusion logged, by its published reason


# -- finding 6: evaluate_metrics_aggr_fn returns a MetricRecord ----------------------------


@pytest.mark.parametrize(("returned", "kind"), [(None, "NoneType"), ({"a": 1.0}, "dict")])
def test_an_evaluate_metrics_function_returning_no_metric_record_is_named(
    returned: object, kind: str
) -> None:
    s = strategy("mean", 0, 3, mode="plaintext", evaluate_metrics_aggr_fn=lambda c, k: returned)
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    grid: Any = Grid([FIRST_NODE + i for i in range(3)])
    sent = list(s.configure_evaluate(1, model, ConfigRecord(), grid))
    with pytest.raises(ParameterError) as info:
        s.aggregate_evaluate(1, [answer(m, evaluate_content(0.5)) for m in sent])
    err = info.value
    assert (err.function, err.parameter, err.clause) == (
        "aggregate_evaluate",
        "evaluate_metrics_aggr_fn",
        "D18.1",
    )
    assert "MetricRecord" in err.condition and err.got == f"it returned a {kind}"
