"""Train replies read as rows of the round (issue 17): one row per sampled node, in order.

``read_rows`` turns the replies of one round into the rows ``SecureRobustStrategy``
aggregates. A row holds the node's update (``vector``, float64 of length ``d``), or in mode
``two-server`` its sealed shares (``sealed``), or the published reason it holds neither
(C0.1: the condition and clause, never a value): an error reply, no reply, arrays other than the
global model's (D8.1), a NaN or an infinity (C1.1), no sealed shares, an input the client's
encoder refused. Rows are ordered by the replies' ``order_key`` metric (``partition-id`` by
default), then node id; a node without that metric comes after those with it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from logging import WARNING
from typing import Any

from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
from flwr.common import log

from sbrml.core.errors import ParameterError, SpecError
from sbrml.flower.adversary import BYZANTINE_KEY
from sbrml.flower.client import REFUSED
from sbrml.flower.records import METRICS_KEY, SHARES_KEY, Template
from sbrml.flower.servers import SealedUpdate
from sbrml.optimized.ring import F64
from sbrml.optimized.round_offline import RoundSetup

__all__ = ["Plan", "Row", "read_rows"]


@dataclass
class Plan:
    """What ``configure_train`` decided for a round: the global model's layout, the model
    (``arrays``, kept for a round that releases nothing) and its values, the sampled nodes,
    the instruction's ``sbrml-`` entries, the round's set-up (two-server)."""

    server_round: int
    template: Template
    arrays: ArrayRecord
    theta: F64
    nodes: list[int]
    entries: dict[str, Any]
    setup: RoundSetup | None


@dataclass
class Row:
    """One sampled node's row: its update, its sealed shares, or why it has neither."""

    node: int
    order: tuple[float, int]
    vector: F64 | None = None
    sealed: SealedUpdate | None = None
    reason: str | None = None
    byzantine: bool = False


class Refused(Exception):
    """A reply that carries no row, with the reason (published as the exclusion's)."""


def read_rows(
    plan: Plan, replies: list[Message], mode: str, order_key: str, arrays_key: str
) -> tuple[list[Row], dict[int, str]]:
    """One row per sampled node, in order (a node that did not reply has the reason), and the
    replies ignored: a node not sampled this round, or a node's second reply (its first one
    is its row), by node with why."""
    rows: dict[int, Row] = {}
    ignored: dict[int, str] = {}
    for message in replies:
        node = message.metadata.src_node_id
        if node not in plan.nodes or node in rows:
            why = "a second reply" if node in rows else "not sampled in this round"
            ignored[node] = why
            log(WARNING, "aggregate_train: ignored a reply of node %d: %s", node, why)
            continue
        rows[node] = read_row(plan, node, message, mode, order_key, arrays_key)
    for node in plan.nodes:
        rows.setdefault(node, Row(node, (math.inf, node), reason="no reply"))
    return sorted(rows.values(), key=lambda r: r.order), ignored


def read_row(
    plan: Plan, node: int, message: Message, mode: str, order_key: str, arrays_key: str
) -> Row:
    """The row of one reply (see the module docstring)."""
    row = Row(node, (math.inf, node))
    if message.has_error():
        row.reason = f"the ClientApp replied with an error: {message.error.reason}"
        return row
    content = message.content
    metrics = content.metric_records.get(METRICS_KEY) or next(
        iter(content.metric_records.values()), MetricRecord()
    )
    order = metrics.get(order_key)
    if isinstance(order, int | float) and not isinstance(order, bool) and math.isfinite(order):
        row.order = (float(order), node)
    if metrics.get(BYZANTINE_KEY) == 1:
        row.byzantine = True
        row.reason = "a Byzantine marker, and no adversary filled it"
        return row
    try:
        if mode == "two-server":
            row.sealed = sealed_update(plan, node, message, content)
        else:
            row.vector = plan.template.flatten(
                update_arrays(content, arrays_key), "aggregate_train"
            )
    except SpecError as err:
        # A layout mismatch is public (names and shapes); a bad value is not (C0.1).
        row.reason = str(err) if err.clause == "D8.1" else err.public_reason()
    except Refused as refused:
        row.reason = str(refused)
    return row


def update_arrays(content: RecordDict, arrays_key: str) -> ArrayRecord:
    """The reply's update: the ArrayRecord ``arrays_key``, or its only ArrayRecord."""
    records = content.array_records
    if arrays_key in records:
        return records[arrays_key]
    if len(records) == 1:
        return next(iter(records.values()))
    raise ParameterError(
        "aggregate_train",
        "reply",
        f"one ArrayRecord (key {arrays_key!r})",
        "D8.1",
        f"array records {list(records.keys())}",
    )


def sealed_update(plan: Plan, node: int, message: Message, content: RecordDict) -> SealedUpdate:
    """The reply's sealed shares with the context they were sealed under."""
    shares = content.config_records.get(SHARES_KEY)
    if shares is None:
        raise Refused(
            "no sealed shares: mode 'two-server' takes the client piece's reply "
            "(sbrml.flower.reply); a plain update would reach the ServerApp in the clear"
        )
    if REFUSED in shares:
        why = shares[REFUSED]
        raise Refused(f"input rejected before sharing: {why if isinstance(why, str) else '?'}")
    return SealedUpdate(dict(shares), message.metadata.run_id, plan.server_round, node)
