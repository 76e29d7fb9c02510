"""Train replies read as rows of the round (issue 17): one row per sampled node, in order.

``read_rows`` turns the replies of one round into the rows ``SecureRobustStrategy``
aggregates. A row holds the node's update (``vector``, float64 of length ``d``), or in mode
``two-server`` its sealed shares (``sealed``), or the published reason it holds neither
(C0.1: the condition and clause, never a value): an error reply, no reply, conflicting
replies, arrays other than the global model's (D8.1), a NaN or an infinity (C1.1), no sealed
shares, an input the client's encoder refused.

Trust. A node is the reply's ``metadata.src_node_id``, which the SuperLink sets from the node
it authenticated (Flower's SuperNode authentication): the strategy relies on it, and on
nothing a client writes into its reply, to say whose reply it is. So the rows are ordered by
node id (sorted), never by a field of the reply (a ``partition-id`` metric a Byzantine client
could set to take row 0 and win every tie of C6.4), and a node is named by its node id in
every reason. A reply counts only for the run and the round being aggregated: its ``run_id``
must be the instruction's and its ``reply_to_message_id`` the id of the instruction sent to
that node (a stale reply of another run or round is ignored), and in mode ``two-server`` its
shares open only under this run's id, this round and this node id (``share_context``). A node
whose replies to one instruction differ (equivocation, or a second sender using its id) is
excluded with that reason; an identical repeat is ignored.

A reason may quote what a client sent (an error reply's text, a refusal, array names): every
published reason passes through ``public_text``, which escapes control characters and cuts
it to ``REASON_CHARS`` characters, as the network transport cuts a refusal's (C23.3).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from logging import WARNING
from typing import Any

from flwr.app import ArrayRecord, Message, MetricRecord, RecordDict
from flwr.common import log

from sbrml.api import AggregationResult
from sbrml.core.errors import ParameterError, SpecError, shown
from sbrml.core.reasons import REASON_CHARS, public_text
from sbrml.flower.adversary import BYZANTINE_KEY
from sbrml.flower.client import REFUSED
from sbrml.flower.records import METRICS_KEY, SHARES_KEY, Template
from sbrml.flower.servers import SealedUpdate
from sbrml.optimized.ring import F64
from sbrml.optimized.round_offline import RoundSetup

__all__ = [
    "MAX_ROUND",
    "REASON_CHARS",
    "Plan",
    "RoundRecord",
    "Row",
    "Selection",
    "check_round",
    "conflict_reason",
    "public_text",
    "read_rows",
    "reason",
    "select_replies",
    "strategy_error",
    "unique_instructions",
]


# The largest round number: Flower's own rounds count from 1, and a round's labels
# (``rule/{t}``, ``round/{t}``) and records need it printable and in an int64 (a 10**5000
# round cannot even be written in decimal: ValueError beyond 4,300 digits).
MAX_ROUND = 2**63 - 1


def check_round(stage: str, server_round: object) -> int:
    """``server_round`` an int (not a bool) in [1, ``MAX_ROUND``], else ``ParameterError``
    naming ``stage`` (``configure_train``, ``aggregate_evaluate``, ...), D18.1: checked before
    any sampling or label is built from it."""
    if (
        isinstance(server_round, bool)
        or not isinstance(server_round, int)
        or not 1 <= server_round <= MAX_ROUND
    ):
        raise ParameterError(
            stage, "server_round", "an int in [1, 2^63 - 1]", "D18.1", shown(server_round)
        )
    return server_round


def reason(node: int, index: Mapping[int, int], why: str) -> str:
    """An exclusion's published reason, one format in every mode: ``node <id> (row <i>):
    <why>``, escaped and cut (``public_text``)."""
    return public_text(f"node {node} (row {index[node]}): {why}")


def strategy_error(err: SpecError) -> SpecError:
    """``err`` (same class, condition, clause and value) naming ``SecureRobustStrategy``
    rather than the library function the round called (e.g. ``secure_aggregate``)."""
    try:
        return type(err)("SecureRobustStrategy", err.parameter, err.condition, err.clause, err.got)
    except TypeError:  # a SpecError with another signature: kept as it is
        return err


@dataclass
class Plan:
    """What ``configure_train`` decided for a round: the global model's layout, the model
    (``arrays``, kept for a round that releases nothing) and its values, the sampled nodes
    (sorted) with the instruction sent to each (whose ``message_id`` the grid sets when it
    sends it), the run's id, the instruction's ``sbrml-`` entries, the round's set-up
    (two-server), and ``error``, why the round can release nothing before any reply."""

    server_round: int
    template: Template
    arrays: ArrayRecord
    theta: F64
    nodes: list[int]
    entries: dict[str, Any]
    setup: RoundSetup | None
    run_id: int = 0
    instructions: dict[int, Message] | None = None
    error: SpecError | None = None


@dataclass
class Row:
    """One sampled node's row: its update, its sealed shares, or why it has neither."""

    node: int
    vector: F64 | None = None
    sealed: SealedUpdate | None = None
    reason: str | None = None
    byzantine: bool = False


def unique_instructions(messages: list[Message], stage: str) -> list[Message]:
    """``messages`` with one instruction per destination node, the first: a grid that lists a
    node id twice makes Flower's sampling pick it twice (``random.sample`` draws positions), and
    a node sent two instructions would otherwise count twice, its weight doubled (issue 17's
    final review, E2). Every node id counts once; a node's second reply is then ignored or in
    conflict as any node's is (``select_replies``)."""
    out: dict[int, Message] = {}
    for message in messages:
        node = message.metadata.dst_node_id
        if node in out:
            log(WARNING, "%s: node %d was sampled twice; it is sent one instruction", stage, node)
            continue
        out[node] = message
    return list(out.values())


@dataclass
class RoundRecord:
    """One round of ``aggregate_train``: the rows' nodes in row order, the nodes counted, the
    excluded nodes with their published reasons (C0.1; every node not counted, so ``valid``
    and ``excluded`` partition ``nodes``), the ignored replies' nodes with why (not sampled,
    or a second reply; a node's first reason) and ``ignored_replies``, how many replies were
    ignored (each reply counts: a node may send several), the protocol's result, and
    ``error``, why nothing was released (then ``result`` is None and the model is
    unchanged)."""

    server_round: int
    mode: str
    nodes: list[int] = field(default_factory=list)
    valid: list[int] = field(default_factory=list)
    excluded: dict[int, str] = field(default_factory=dict)
    ignored: dict[int, str] = field(default_factory=dict)
    ignored_replies: int = 0
    result: AggregationResult | None = None
    error: str | None = None


class Refused(Exception):
    """A reply that carries no row, with the reason (published as the exclusion's)."""


def _fingerprint(message: Message) -> tuple[object, ...]:
    # Two replies are the same reply when their content (or error) is the same object.
    if message.has_error():
        return ("error", message.error.code, message.error.reason)
    try:
        return ("content", message.content.object_id)
    except (ValueError, TypeError, OverflowError):
        # Content Flower cannot serialize (an int beyond 64 bits, built in-process) has no
        # object_id: the Python object stands for it, rather than the round raising.
        return ("object", id(message.content))


def _stale(run_id: int, instructions: Mapping[int, Message] | None, message: Message) -> str | None:
    """Why a reply of a sampled node does not answer this round's instruction, or None."""
    meta = message.metadata
    if meta.run_id != run_id:
        return f"a reply of run {meta.run_id}, not of run {run_id}"
    sent = (instructions or {}).get(meta.src_node_id)
    if sent is not None and meta.reply_to_message_id != sent.metadata.message_id:
        return "a reply to another instruction than this round's"
    return None


@dataclass
class Selection:
    """The replies of one round by node: the one reply ``chosen`` per node, the number of
    different replies of each node that sent several (``conflicts``: none of them counts), and
    the replies ignored (``ignored``: by node, the reason of its first ignored reply;
    ``ignored_replies``: how many replies were ignored, each counted, a node's too)."""

    chosen: dict[int, Message]
    conflicts: dict[int, int]
    ignored: dict[int, str]
    ignored_replies: int


def select_replies(
    nodes: list[int],
    instructions: Mapping[int, Message] | None,
    run_id: int,
    replies: list[Message],
    stage: str,
) -> Selection:
    """One reply per node of ``nodes`` (the sampled nodes, each once), the rest ignored or in
    conflict (see ``Selection``): a reply of a node not sampled, of another run or to another
    instruction, or an identical repeat (of any reply the node sent before) is ignored; two
    different replies of one node are a conflict, counted by its different replies. ``stage``
    names the caller in the log (``aggregate_train``, ...)."""
    sampled = set(nodes)
    out = Selection({}, {}, {}, 0)
    # The different replies of each node that sent several: a repeat of any of them (A, B, B)
    # is ignored, so that a conflict counts different replies only. Fingerprints are taken
    # only then (object_id hashes the whole content).
    seen: dict[int, list[tuple[object, ...]]] = {}
    for message in replies:
        node = message.metadata.src_node_id
        why = (
            "not sampled in this round"
            if node not in sampled
            else _stale(run_id, instructions, message)
        )
        if why is None and node in out.chosen:
            known = seen.setdefault(node, [_fingerprint(out.chosen[node])])
            fingerprint = _fingerprint(message)
            if fingerprint in known:
                why = "an identical repeat of its reply"
            else:
                known.append(fingerprint)
                out.conflicts[node] = len(known)
                continue
        if why is not None:
            # Each ignored reply counts (the metric ``ignored``); a node's first reason is kept.
            # Escaped and cut as every reason: it quotes the reply's run id.
            why = public_text(why)
            out.ignored.setdefault(node, why)
            out.ignored_replies += 1
            log(WARNING, "%s: ignored a reply of node %d: %s", stage, node, why)
            continue
        out.chosen[node] = message
    return out


def conflict_reason(count: int) -> str:
    """The published reason of a node that sent ``count`` different replies."""
    return (
        f"{count} different replies to one instruction (equivocation, or another sender "
        "under its node id): none is counted"
    )


def read_rows(
    plan: Plan, replies: list[Message], mode: str, arrays_key: str
) -> tuple[list[Row], Selection]:
    """One row per sampled node, ordered by node id (a node that did not reply has the
    reason), and the selection of the replies (``select_replies``: the ignored ones by node
    with why, and their number). A node with two different replies is excluded (the row's
    reason)."""
    selection = select_replies(
        plan.nodes, plan.instructions, plan.run_id, replies, "aggregate_train"
    )
    rows = []
    for node in sorted(set(plan.nodes)):
        if node in selection.conflicts:
            rows.append(Row(node, reason=conflict_reason(selection.conflicts[node])))
        elif node in selection.chosen:
            rows.append(read_row(plan, node, selection.chosen[node], mode, arrays_key))
        else:
            rows.append(Row(node, reason="no reply"))
    return rows, selection


def read_row(plan: Plan, node: int, message: Message, mode: str, arrays_key: str) -> Row:
    """The row of one reply (see the module docstring)."""
    row = Row(node)
    if message.has_error():
        row.reason = (
            f"the ClientApp replied with an error: {public_text(str(message.error.reason))}"
        )
        return row
    content = message.content
    metrics = content.metric_records.get(METRICS_KEY) or next(
        iter(content.metric_records.values()), MetricRecord()
    )
    if metrics.get(BYZANTINE_KEY) == 1:
        row.byzantine = True
        row.reason = "a Byzantine marker, and no adversary filled it"
        return row
    try:
        if mode == "two-server":
            row.sealed = sealed_update(plan, node, content)
        else:
            row.vector = plan.template.flatten(
                update_arrays(content, arrays_key), "aggregate_train"
            )
    except SpecError as err:
        # A layout mismatch is public (names and shapes); a bad value is not (C0.1).
        row.reason = public_text(str(err) if err.clause == "D8.1" else err.public_reason())
    except Refused as refused:
        row.reason = public_text(str(refused))
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


def sealed_update(plan: Plan, node: int, content: RecordDict) -> SealedUpdate:
    """The reply's sealed shares, to be opened under the context of the run and the round
    being aggregated and of the node the SuperLink says sent them (never the reply's own
    metadata: a stale reply then fails to open, C8.3)."""
    shares = content.config_records.get(SHARES_KEY)
    if shares is None:
        raise Refused(
            "no sealed shares: mode 'two-server' takes the client piece's reply "
            "(sbrml.flower.reply); a plain update would reach the ServerApp in the clear"
        )
    if REFUSED in shares:
        why = shares[REFUSED]
        raise Refused(f"input rejected before sharing: {why if isinstance(why, str) else '?'}")
    return SealedUpdate(dict(shares), plan.run_id, plan.server_round, node)
