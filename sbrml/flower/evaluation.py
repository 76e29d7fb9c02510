"""Federated evaluation that no single reply can end or drag: ``RobustEvaluation``.

Issue 17's final review, E1. ``FedAvg.aggregate_evaluate`` (Flower 1.42) checks the replies
together (``validate_message_reply_consistency``) and raises ``InconsistentMessageReplies``
when one reply has a second MetricRecord or other metric keys than the first reply, which ends
the run for every node; and it averages each metric weighted by the reply's own
``num-examples``, so one reply of ``num-examples = 10**9`` and ``accuracy = -1e300`` sets the
reported accuracy. ``RobustEvaluation`` (``SecureRobustStrategy``'s base) replaces both steps:

1. Each sampled node counts once, for its own instruction of this run
   (``sbrml.flower.replies.select_replies``, as in training): a reply of a node not sampled,
   of another run or to another instruction, or an identical repeat is ignored; a node with
   two different replies is excluded.
2. The expected layout is the one most replies share (records by name and kind, the
   MetricRecord's keys, each key's scalar or list length); on a tie there is none and every
   reply is excluded. A reply is excluded, with its reason, when it is an error reply, its
   layout is not the expected one, it holds other than exactly one MetricRecord, a metric
   name begins with ``sbrml-`` (the strategy's own), its ``weighted_by_key`` is not an int in
   [1, ``MAX_EXAMPLES``], or another value is not a finite real of magnitude at most
   ``METRIC_BOUND``.
3. Each metric (but ``weighted_by_key``) is the **median** over the accepted replies, one
   value per node, unweighted; a list metric, element by element. With
   ``evaluate_metrics_aggr_fn`` given, that function gets the accepted replies instead, and
   returns a MetricRecord (FedAvg's contract; anything else is a ``ParameterError``).
4. The MetricRecord adds ``sbrml-valid``, ``sbrml-excluded`` (every sampled node not counted,
   so the two sum to the nodes sampled) and ``sbrml-ignored`` (ignored replies, each counted);
   ``self.evaluations[-1]`` keeps the reasons by node, as ``self.rounds`` does for training.

Why the median, unweighted: ``num-examples`` is what the client says, so any weighting by it
hands the result to whoever claims the most examples (a weighted median as much as a weighted
mean). The unweighted median of each metric lies between two accepted replies' values as long
as fewer than half of the accepted replies are Byzantine, needs no ``f`` and holds at any
number of evaluating nodes (the training rule's precondition, Krum's ``n > 2f + 2``, need not
hold for the evaluation sample). It still is what clients say: a Byzantine node may report any
value within range, and a majority of such nodes sets the median. Trustworthy accuracy comes
from central evaluation (``Strategy.start(evaluate_fn=...)``) on data the server holds; the
example evaluates centrally and sets ``fraction_evaluate=0`` (``sbrml.flower.app``).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from logging import WARNING
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, ConfigRecord, Message, MetricRecord, RecordDict
from flwr.common import log
from flwr.serverapp import Grid
from flwr.serverapp.strategy import FedAvg

from sbrml.core.errors import ParameterError, shown
from sbrml.flower.records import CONFIG_PREFIX
from sbrml.flower.replies import (
    check_round,
    conflict_reason,
    public_text,
    select_replies,
    unique_instructions,
)

__all__ = ["MAX_EXAMPLES", "METRIC_BOUND", "EvaluationRecord", "RobustEvaluation"]

# The largest accepted |metric| and num-examples: 2^53, the largest range in which float64
# holds every integer. No accuracy, loss or count of a real evaluation comes near it; a value
# beyond it is a reply's error or an attempt to dominate, excluded rather than clipped.
METRIC_BOUND = float(2**53)
MAX_EXAMPLES = 2**53

# A reply's layout: its records by (name, kind), its MetricRecord's name, and each metric's
# key with its kind (-1 for a scalar, else the list's length).
Layout = tuple[tuple[tuple[str, str], ...], tuple[tuple[str, int], ...]]


@dataclass
class EvaluationRecord:
    """One round of ``aggregate_evaluate``: the nodes sampled (sorted), those counted, those
    excluded with their published reasons (every sampled node not counted), the ignored
    replies' nodes with why and their number (each reply counts)."""

    server_round: int
    nodes: list[int] = field(default_factory=list)
    valid: list[int] = field(default_factory=list)
    excluded: dict[int, str] = field(default_factory=dict)
    ignored: dict[int, str] = field(default_factory=dict)
    ignored_replies: int = 0


@dataclass
class _EvaluatePlan:
    server_round: int
    nodes: list[int]
    run_id: int
    instructions: dict[int, Message]


def _kind(value: object) -> int:
    return len(value) if isinstance(value, list) else -1


def layout(content: RecordDict) -> Layout:
    """The layout of an evaluate reply's content (see ``Layout``)."""
    records = tuple(sorted((name, type(record).__name__) for name, record in content.items()))
    keys = tuple(
        sorted(
            (key, _kind(value))
            for record in content.metric_records.values()
            for key, value in record.items()
        )
    )
    return records, keys


def _describe(shape: Layout) -> str:
    records = ", ".join(f"{name} ({kind})" for name, kind in shape[0])
    return f"records [{records}], metrics [{', '.join(key for key, _ in shape[1])}]"


def _real(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    if isinstance(value, float) and not math.isfinite(value):
        return False
    # An int is compared exactly, however large: no conversion to float that could overflow.
    return abs(value) <= METRIC_BOUND


def check_reply(message: Message, expected: Layout | None, weighted_by_key: str) -> str | None:
    """Why ``message`` is excluded from the evaluation (step 2), or None."""
    if message.has_error():
        return f"the ClientApp replied with an error: {public_text(str(message.error.reason))}"
    content = message.content
    shape = layout(content)
    if expected is None:
        return f"no layout is shared by most replies (this one: {_describe(shape)})"
    if shape != expected:
        return f"{_describe(shape)}, where most replies have {_describe(expected)}"
    if len(content.metric_records) != 1 or len(content) != 1:
        return f"{_describe(shape)}: an evaluate reply holds exactly one MetricRecord"
    metrics = next(iter(content.metric_records.values()))
    for key, value in metrics.items():
        if key.startswith(CONFIG_PREFIX):
            return f"metric {key!r}: names beginning {CONFIG_PREFIX!r} are the strategy's"
        if key == weighted_by_key:
            good = isinstance(value, int) and not isinstance(value, bool)
            if not (good and 1 <= value <= MAX_EXAMPLES):  # type: ignore[operator]
                return f"{key!r} is not an int in [1, 2^53]"
        elif not all(_real(v) for v in (value if isinstance(value, list) else [value])):
            return f"metric {key!r} is not a finite real of magnitude at most 2^53"
    if weighted_by_key not in metrics:
        return f"no {weighted_by_key!r} metric"
    return None


def median_metrics(records: list[MetricRecord], weighted_by_key: str) -> MetricRecord:
    """Each metric's median over ``records`` (one layout), element by element for a list;
    ``weighted_by_key`` left out."""
    out = MetricRecord()
    for key, value in records[0].items():
        if key == weighted_by_key:
            continue
        column = np.array([record[key] for record in records], dtype=np.float64)
        middle = np.median(column, axis=0)
        out[key] = [float(v) for v in middle] if isinstance(value, list) else float(middle)
    return out


class RobustEvaluation(FedAvg):
    """``FedAvg`` whose federated evaluation excludes malformed replies and reports the median
    of each metric (the module docstring's steps); ``self.evaluations`` keeps each round's
    record. Clients' metrics stay untrusted: a Byzantine node can report any value within
    range. Training is the subclass's (``SecureRobustStrategy``)."""

    def __init__(self, **flower: Any) -> None:
        super().__init__(**flower)
        # FedAvg replaces a missing function by its weighted mean; only the caller's is used.
        self._evaluate_fn = flower.get("evaluate_metrics_aggr_fn")
        self._evaluate_plan: _EvaluatePlan | None = None
        self.evaluations: list[EvaluationRecord] = []

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        """FedAvg's evaluate instructions, one per node (a node sampled twice gets one)."""
        check_round("configure_evaluate", server_round)
        messages = unique_instructions(
            list(super().configure_evaluate(server_round, arrays, config, grid)),
            "configure_evaluate",
        )
        self._evaluate_plan = _EvaluatePlan(
            server_round,
            sorted(m.metadata.dst_node_id for m in messages),
            messages[0].metadata.run_id if messages else 0,
            {m.metadata.dst_node_id: m for m in messages},
        )
        return messages

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        """The median of each metric over the well-formed replies, with ``sbrml-valid``,
        ``sbrml-excluded`` and ``sbrml-ignored``; None when no node was sampled. A malformed
        reply is excluded and reported (``self.evaluations[-1].excluded``), never raised."""
        check_round("aggregate_evaluate", server_round)
        plan = self._evaluate_plan
        if plan is None or plan.server_round != server_round:
            raise ParameterError(
                "aggregate_evaluate",
                "server_round",
                "the round of the last configure_evaluate",
                "D18.1",
                f"{shown(server_round)}, configured {None if plan is None else plan.server_round}",
            )
        if not plan.nodes:
            return None
        selection = select_replies(
            plan.nodes, plan.instructions, plan.run_id, list(replies), "aggregate_evaluate"
        )
        record = EvaluationRecord(server_round, nodes=list(plan.nodes))
        record.ignored, record.ignored_replies = selection.ignored, selection.ignored_replies
        self.evaluations.append(record)
        chosen = {n: m for n, m in selection.chosen.items() if n not in selection.conflicts}
        shapes = Counter(layout(m.content) for m in chosen.values() if not m.has_error())
        ranked = shapes.most_common(2)
        # The layout most replies share; a tie names none, so that no minority sets it.
        tied = len(ranked) == 2 and ranked[0][1] == ranked[1][1]
        expected = ranked[0][0] if ranked and not tied else None
        accepted: list[Message] = []
        for row, node in enumerate(plan.nodes):
            if node in selection.conflicts:
                why: str | None = conflict_reason(selection.conflicts[node])
            elif node not in chosen:
                why = "no reply"
            else:
                why = check_reply(chosen[node], expected, self.weighted_by_key)
            if why is None:
                record.valid.append(node)
                accepted.append(chosen[node])
                continue
            record.excluded[node] = public_text(f"node {node} (row {row}): {why}")
            # The published reason, never ``why``: it may quote a client's metric keys, which
            # could forge log lines (a newline) or flood the log (review 17, finding 5).
            log(
                WARNING,
                "aggregate_evaluate: round %d excluded %s",
                server_round,
                record.excluded[node],
            )
        metrics = MetricRecord()
        if accepted and self._evaluate_fn is not None:
            metrics = self._evaluate_fn([m.content for m in accepted], self.weighted_by_key)
            if not isinstance(metrics, MetricRecord):
                # FedAvg's contract, (list[RecordDict], str) -> MetricRecord: the strategy adds
                # its counts to the record, so anything else is the caller's error, named.
                raise ParameterError(
                    "aggregate_evaluate",
                    "evaluate_metrics_aggr_fn",
                    "a function returning a MetricRecord (FedAvg's contract: "
                    "(list[RecordDict], str) -> MetricRecord)",
                    "D18.1",
                    f"it returned a {type(metrics).__name__}",
                )
        elif accepted:
            records = [next(iter(m.content.metric_records.values())) for m in accepted]
            metrics = median_metrics(records, self.weighted_by_key)
        metrics[f"{CONFIG_PREFIX}valid"] = len(record.valid)
        metrics[f"{CONFIG_PREFIX}excluded"] = len(record.excluded)
        metrics[f"{CONFIG_PREFIX}ignored"] = record.ignored_replies
        return metrics
