"""Each node id counts once (issue 17's final review, E2): a grid that lists a node twice must
not double its weight in any mode, and the metric ``ignored`` counts ignored replies, each one,
as the README and the changelog say (a node may send several)."""

from __future__ import annotations

import numpy as np
import pytest
from flwr.app import ConfigRecord, Message

from sbrml.flower import SecureRobustStrategy
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    Grid,
    client_replies,
    identity,
    instructions,
    rows,
    strategy,
)

MODES = [
    ("plaintext", "mean", 0),
    ("two-server", "median", 1),
    ("masks", "mean", 0),
    ("paillier", "mean", 0),
]
TWICE = FIRST_NODE + 2
# Node 102 is listed twice: Flower's random.sample then draws it twice among the 7.
LISTED = [FIRST_NODE + i for i in range(6)] + [TWICE]


def sampled_twice(s: SecureRobustStrategy) -> list[Message]:
    identity()
    model = TEMPLATE.unflatten(np.zeros(TEMPLATE.dim))
    return list(s.configure_train(1, model, ConfigRecord(), Grid(LISTED)))  # type: ignore[arg-type]


@pytest.mark.parametrize(("mode", "rule", "f"), MODES)
def test_a_node_listed_twice_gets_one_instruction_and_counts_once(
    mode: str, rule: str, f: int
) -> None:
    s = strategy(rule, f, 6, mode=mode)
    messages = sampled_twice(s)
    assert sorted(m.metadata.dst_node_id for m in messages) == sorted(set(LISTED))
    x = rows(7)
    arrays, metrics = s.aggregate_train(1, client_replies(messages, x))
    record = s.rounds[-1]
    assert record.nodes == record.valid == sorted(set(LISTED))
    assert metrics is not None and metrics["valid"] == 6 and metrics["ignored"] == 0
    if rule == "mean":  # each of the six once: node 102's row is not counted twice
        assert arrays is not None
        assert np.allclose(TEMPLATE.flatten(arrays), x[:6].mean(axis=0), atol=2e-5)


def test_the_round_is_set_up_for_the_nodes_it_instructs() -> None:
    # Mode two-server's public parameters depend on n: n is the number of distinct nodes.
    s = strategy("median", 1, 6)
    messages = sampled_twice(s)
    assert s._plan is not None and s._plan.setup is not None
    assert s._plan.nodes == sorted(set(LISTED)) and len(messages) == 6


def test_ignored_counts_every_ignored_reply() -> None:
    s = strategy("median", 1, 7, mode="plaintext")
    replies = client_replies(instructions(s, 7), rows(7))
    others = instructions(strategy("median", 1, 8, mode="plaintext"), 8)
    elsewhere = next(m for m in others if m.metadata.dst_node_id == FIRST_NODE + 7)
    stranger = client_replies([elsewhere], rows(8))[0]
    # Node 100 repeats its reply twice and the stranger sends twice: four replies ignored.
    _, metrics = s.aggregate_train(1, [*replies, replies[-1], replies[-1], stranger, stranger])
    assert metrics is not None and metrics["ignored"] == 4 and metrics["valid"] == 7
    record = s.rounds[0]
    assert record.ignored_replies == 4
    assert record.ignored == {
        FIRST_NODE: "an identical repeat of its reply",
        FIRST_NODE + 7: "not sampled in this round",
    }


def test_the_plan_holds_the_instructions_sent() -> None:
    # A reply counts only for the instruction sent to its node: the plan's, one per node.
    s = strategy("mean", 0, 6, mode="plaintext")
    messages = sampled_twice(s)
    assert s._plan is not None and s._plan.instructions is not None
    assert {m.metadata.dst_node_id: m for m in messages} == s._plan.instructions
