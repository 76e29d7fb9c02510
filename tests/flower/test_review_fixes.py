"""The strategy's second final review (issue 17): node minimums that Flower would wait for
forever, ``server_round`` checks, reserved hyperparameters, conflict counts, log lines quoting a
client's text, and ``evaluate_metrics_aggr_fn``'s result."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flwr.app import ConfigRecord

import sbrml.optimized as opt
from sbrml.flower import SecureRobustStrategy
from tests.flower.federation import TEMPLATE, Grid, client_replies, identity, rows


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
