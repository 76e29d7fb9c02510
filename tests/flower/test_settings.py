"""SecureRobustStrategy's arguments and its aborted rounds (issue 17's second review: N1, N7,
N8, B5): an argument that would make every round abort, overflow the model or not apply is
refused when the strategy is built; too few nodes sampled for mode two-server abort the round
as in the other modes; every mode publishes an exclusion in one format, naming the node."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict

from sbrml.core.errors import ParameterError
from sbrml.flower import SecureRobustStrategy
from sbrml.flower.records import SHARES_KEY
from sbrml.flower.settings import MAX_NODES, MAX_SERVER_LR, least_n
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    Grid,
    answer,
    client_replies,
    identity,
    instructions,
    rows,
    strategy,
)

# -- B5, N1: refused when the strategy is built -----------------------------------------------


@pytest.mark.parametrize(
    ("kw", "parameter", "clause", "text"),
    [
        ({"hyperparameters": {1: 2}}, "hyperparameters", "D6.7", "key 1 (int)"),
        ({"paillier_bits": 3072}, "paillier_bits", "D18.1", "mode 'two-server'"),
        ({"processes": 4}, "processes", "D18.1", "mode 'two-server'"),
        ({"mode": "plaintext", "processes": 2}, "processes", "D18.1", "mode 'plaintext'"),
        ({"server_lr": 1e308}, "server_lr", "D18.1", "65536"),
        ({"server_lr": math.inf}, "server_lr", "D18.1", "65536"),
        ({"f": 10**6}, "f", "C8.4", f"at most {MAX_NODES} nodes"),
        ({"min_train_nodes": 1}, "min_train_nodes", "C8.4", ">= 5, the least n krum accepts"),
        ({"rule": "krum", "f": 2, "min_available_nodes": 6}, "min_available_nodes", "C8.4", ">= 7"),
    ],
)
def test_an_argument_that_cannot_work_is_refused_at_construction(
    kw: dict[str, Any], parameter: str, clause: str, text: str
) -> None:
    rule, f = kw.pop("rule", "krum"), kw.pop("f", 1)
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=f, **kw)
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("SecureRobustStrategy", parameter, clause)
    assert text in str(err)


def test_options_left_at_their_defaults_and_steps_up_to_the_bound_are_accepted() -> None:
    SecureRobustStrategy("krum", f=1, paillier_bits=2048, processes=1, server_lr=MAX_SERVER_LR)
    s = SecureRobustStrategy("mean", f=0, mode="paillier", paillier_bits=3072, processes=2)
    assert (s.paillier_bits, s.processes) == (3072, 2)


@pytest.mark.parametrize(
    ("rule", "f", "least"), [("krum", 1, 5), ("krum", 2, 7), ("nnm+krum", 2, 7), ("median", 1, 3)]
)
def test_the_node_minimums_default_to_the_rules_least_n(rule: str, f: int, least: int) -> None:
    s = SecureRobustStrategy(rule, f=f)
    assert least_n(s.rule) == least == s.min_train_nodes == s.min_available_nodes


# -- N7: the list of accepted keywords is the accepted ones -----------------------------------


def test_an_unknown_keyword_lists_only_the_keywords_taken() -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("krum", f=1, bogus=1)
    assert "min_train_nodes" in str(info.value) and "train_metrics_aggr_fn" not in str(info.value)


# -- N1: too few nodes sampled in mode two-server abort the round, not the run ----------------


def test_too_few_nodes_for_two_server_abort_the_round_and_keep_the_model() -> None:
    # Six nodes for Krum at f = 2 (n > 2f + 2 needs seven): sampling that yields fewer than
    # the rule's least n (here forced past the constructor's check) aborts each round.
    s = strategy("krum", 2, 7, fraction_evaluate=0.0)
    s.min_train_nodes = s.min_available_nodes = 6
    initial = TEMPLATE.unflatten(rows(1, seed=4)[0])
    identity()
    grid = Grid([FIRST_NODE + i for i in range(6)])
    assert list(s.configure_train(1, initial, ConfigRecord(), grid)) == []  # type: ignore[arg-type]
    arrays, metrics = s.aggregate_train(1, [])
    assert metrics is not None and metrics["aborted"] == 1 and metrics["excluded"] == 6
    assert arrays is not None and np.array_equal(
        TEMPLATE.flatten(arrays), TEMPLATE.flatten(initial)
    )
    error = s.rounds[0].error
    assert error is not None and error.startswith("SecureRobustStrategy: ")
    assert "n > 2f + 2 (C6.3)" in error
    why = s.rounds[0].excluded[FIRST_NODE]
    assert why.startswith(f"node {FIRST_NODE} (row 0): the round released nothing")


class SilentGrid(Grid):
    def send_and_receive(self, messages: Any, *, timeout: float | None = None) -> list[Message]:
        assert list(messages) == []  # no node is asked to train in an aborted round
        return []


def test_a_run_with_too_few_nodes_for_two_server_ends_with_the_initial_model() -> None:
    s = strategy("krum", 2, 7, fraction_evaluate=0.0)
    s.min_train_nodes = s.min_available_nodes = 6
    initial = TEMPLATE.unflatten(rows(1, seed=4)[0])
    identity()
    grid: Any = SilentGrid([FIRST_NODE + i for i in range(6)])
    result = s.start(grid=grid, initial_arrays=initial, num_rounds=2)
    assert np.array_equal(TEMPLATE.flatten(result.arrays), TEMPLATE.flatten(initial))
    assert [m["aborted"] for m in result.train_metrics_clientapp.values()] == [1, 1]


# -- N8: one format for an exclusion in every mode --------------------------------------------


def nan_reply(i: int, r: Message, m: Message) -> Message:
    if i != 2:
        return r
    x = rows(7)[2]
    x[0] = np.nan
    return answer(m, RecordDict({"arrays": TEMPLATE.unflatten(x), "metrics": MetricRecord()}))


def garbage_shares(i: int, r: Message, m: Message) -> Message:
    if i != 2:
        return r
    shares = ConfigRecord({"S0": b"x" * 100, "S1": b"y" * 100})
    return answer(m, RecordDict({SHARES_KEY: shares, "metrics": MetricRecord()}))


@pytest.mark.spec("C0.1")
@pytest.mark.parametrize(
    ("mode", "rule", "f", "edit", "text"),
    [
        ("plaintext", "median", 1, nan_reply, "C1.1"),
        ("masks", "mean", 0, nan_reply, "C1.1"),
        ("two-server", "median", 1, garbage_shares, "sealed to S0 does not open"),
        ("two-server", "median", 1, nan_reply, "no sealed shares"),
    ],
)
def test_every_mode_names_the_excluded_node_in_one_format(
    mode: str, rule: str, f: int, edit: Any, text: str
) -> None:
    s = strategy(rule, f, 7, mode=mode)
    s.aggregate_train(1, client_replies(instructions(s, 7), rows(7), edit))
    why = s.rounds[0].excluded[FIRST_NODE + 2]
    assert why.startswith(f"node {FIRST_NODE + 2} (row 2): ") and text in why
    assert "W2" not in why
