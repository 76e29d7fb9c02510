"""SecureRobustStrategy against replies a Byzantine client or a relay controls (issue 17's
second review, B1-B4): whose reply it is comes from Flower's metadata, never from the reply;
conflicting replies exclude their node; rows are ordered by node id; a reason a client wrote
is escaped and cut; a reply counts only for the run and the instruction it answers."""

from __future__ import annotations

import logging
import uuid
from typing import Any

import numpy as np
import pytest
from flwr.app import ConfigRecord, Error, Message, MetricRecord, RecordDict

import sbrml.optimized as opt
import tests.flower.federation as fed
from sbrml.flower import reply
from sbrml.flower.records import SHARES_KEY
from sbrml.flower.replies import REASON_CHARS, public_text
from tests.flower.federation import (
    FIRST_NODE,
    TEMPLATE,
    answer,
    client_replies,
    context,
    instructions,
    rows,
    strategy,
)

FAR = np.full(16, 1000.0)


def sealed(instruction: Message, x: Any, seed: int = 99) -> Message:
    """A valid reply of the client piece to ``instruction`` carrying ``x``."""
    rng = opt.DeterministicRandomSource(seed)
    return reply(instruction, context(instruction), TEMPLATE.unflatten(x), num_examples=1, rng=rng)


def to(messages: list[Message], node: int) -> Message:
    return next(m for m in messages if m.metadata.dst_node_id == node)


# -- B1: equivocation and replies under another node's id ----------------------------------


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize("first", [True, False])
def test_a_node_whose_replies_conflict_is_excluded(first: bool) -> None:
    # Node 2 sends two different valid replies; node 3's genuine reply meets a forged one
    # sealed under its node id (any client can seal for any node id: only the SuperLink's
    # node authentication says who sent a reply). Neither node counts, whatever comes first.
    s = strategy("median", 1, 7)
    messages = instructions(s, 7)
    honest = client_replies(messages, rows(7))
    extra = [sealed(to(messages, FIRST_NODE + 2), FAR), sealed(to(messages, FIRST_NODE + 3), FAR)]
    replies = [*extra, *honest] if first else [*honest, *extra]
    _, metrics = s.aggregate_train(1, replies)
    assert metrics is not None and metrics["valid"] == 5 and metrics["excluded"] == 2
    for node in (FIRST_NODE + 2, FIRST_NODE + 3):
        assert "2 different replies to one instruction" in s.rounds[0].excluded[node]
    assert s.rounds[0].ignored == {}


def test_an_identical_repeat_is_ignored_not_excluded() -> None:
    s = strategy("median", 1, 7)
    replies = client_replies(instructions(s, 7), rows(7))
    _, metrics = s.aggregate_train(1, [*replies, replies[3]])
    assert metrics is not None and metrics["valid"] == 7 and metrics["ignored"] == 1


# -- B2: rows ordered by node id, never by a field of the reply ------------------------------


@pytest.mark.spec("C6.4")
@pytest.mark.parametrize("mode", ["two-server", "plaintext"])
def test_rows_follow_node_ids_whatever_partition_id_a_reply_claims(mode: str) -> None:
    def claim(i: int, r: Message, m: Message) -> Message:
        if i in (5, 6):
            r.content.metric_records["metrics"]["partition-id"] = -1e300 if i == 5 else 0
        return r

    s = strategy("median", 1, 7, mode=mode)
    _, metrics = s.aggregate_train(1, client_replies(instructions(s, 7), rows(7), claim))
    assert s.rounds[0].nodes == [FIRST_NODE + i for i in range(7)]
    assert metrics is not None and metrics["valid"] == 7


def test_rows_follow_node_ids_without_any_partition_id() -> None:
    def bare(i: int, r: Message, m: Message) -> Message:
        del r.content.metric_records["metrics"]["partition-id"]
        return r

    s = strategy("median", 1, 7, mode="plaintext")
    s.aggregate_train(1, client_replies(instructions(s, 7), rows(7), bare))
    assert s.rounds[0].nodes == [FIRST_NODE + i for i in range(7)]


# -- B3: a client's text is escaped and cut ---------------------------------------------------

FORGED = "C1.1\nINFO : aggregate_train: round 1 node 104 OK\x1b[2J\u202e" + "A" * 100_000


@pytest.mark.spec("C0.1")
def test_a_clients_text_is_escaped_and_cut_in_the_record_and_the_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def evil(i: int, r: Message, m: Message) -> Message:
        if i == 2:
            refused = ConfigRecord({"refused": FORGED})
            metrics = MetricRecord({"partition-id": 2})
            return answer(m, RecordDict({SHARES_KEY: refused, "metrics": metrics}))
        if i == 3:
            return Message(Error(code=0, reason="x\n" * 50_000), reply_to=m)
        return r

    s = strategy("median", 1, 7)
    with caplog.at_level(logging.WARNING):
        s.aggregate_train(1, client_replies(instructions(s, 7), rows(7), evil))
    for node in (FIRST_NODE + 2, FIRST_NODE + 3):
        why = s.rounds[0].excluded[node]
        assert len(why) <= REASON_CHARS + len("... (cut)") and why.endswith("... (cut)")
        assert why.isprintable() and why.startswith(f"node {node} (row {node - FIRST_NODE}): ")
    assert "\\n" in s.rounds[0].excluded[FIRST_NODE + 3]  # escaped, not dropped
    logged = [r.getMessage() for r in caplog.records if "excluded" in r.getMessage()]
    assert len(logged) == 2 and all(m.isprintable() and len(m) < 400 for m in logged)


def test_public_text_keeps_printable_text_and_escapes_the_rest() -> None:
    assert public_text("need finite values (C1.1)") == "need finite values (C1.1)"
    assert public_text("a\nb\x1b[2J\u202ec") == "a\\nb\\x1b[2J\\u202ec"
    assert public_text("é" * 400) == "é" * REASON_CHARS + "... (cut)"


def test_the_cut_is_the_network_transports() -> None:
    listener = pytest.importorskip("sbrml.net.listener")
    assert listener.REASON_CHARS == REASON_CHARS


# -- B4: a reply counts only for the run and the instruction it answers -----------------------


@pytest.mark.spec("C8.3")
def test_a_reply_of_another_run_is_ignored(monkeypatch: pytest.MonkeyPatch) -> None:
    # Run 7 and run 8 of the same seeded configuration (the same servers' keys): node 2's
    # reply of run 7, replayed into run 8, is not its row there.
    old = client_replies(instructions(strategy("median", 1, 7), 7), rows(7, seed=1))
    monkeypatch.setattr(fed, "RUN_ID", 8)
    s = strategy("median", 1, 7)
    fresh = client_replies(instructions(s, 7), rows(7, seed=2))
    node = FIRST_NODE + 2
    mixed = [r for r in old if r.metadata.src_node_id == node]
    mixed += [r for r in fresh if r.metadata.src_node_id != node]
    _, metrics = s.aggregate_train(1, mixed)
    assert metrics is not None and metrics["valid"] == 6 and metrics["ignored"] == 1
    assert s.rounds[0].ignored[node] == "a reply of run 7, not of run 8"
    assert s.rounds[0].excluded[node].endswith("no reply")


def sent(messages: list[Message]) -> list[Message]:
    """``messages`` with the ids a grid gives them when it sends them."""
    for m in messages:
        m.metadata.__dict__["_message_id"] = uuid.uuid4().hex
    return messages


@pytest.mark.spec("C8.3")
def test_a_reply_to_another_instruction_is_ignored() -> None:
    s = strategy("median", 1, 7, mode="plaintext")
    first = client_replies(sent(instructions(s, 7)), rows(7))
    s.aggregate_train(1, first)
    second = sent(instructions(s, 7, server_round=2))
    replies = client_replies(second, rows(7, seed=3))
    node = FIRST_NODE + 4
    stale = next(r for r in first if r.metadata.src_node_id == node)
    replies = [r for r in replies if r.metadata.src_node_id != node] + [stale]
    _, metrics = s.aggregate_train(2, replies)
    assert metrics is not None and metrics["valid"] == 6 and metrics["ignored"] == 1
    assert s.rounds[1].ignored[node] == "a reply to another instruction than this round's"
