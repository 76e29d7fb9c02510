"""What Flower's own robust strategies return beside sbrml's rules on the same replies.

    python examples/flower/flower_rules.py [--trials 200]

Runs Flower 1.42's ``Krum``, ``MultiKrum``, ``FedMedian`` and ``FedTrimmedAvg`` (their
``aggregate_train``, on reply messages built here, no simulation engine) and sbrml's rules in
the clear on the same rows: ``trials`` draws of n = 10 rows of d = 5, 8 honest ~ N(0, 1) and
2 Byzantine ~ N(0, 3^2), f = 2; each with ``num-examples`` 1 (equal weights), and where
Flower weighs by ``num-examples``, with ``num-examples`` = 1..10. Prints a Markdown table: for
each pair, in how many draws the two outputs are equal to the last bit, and the largest
coordinate gap. Then the cases where one refuses what the other accepts.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable
from typing import Any

import numpy as np
from flwr.app import ArrayRecord, Message, MessageType, MetricRecord, RecordDict
from flwr.serverapp.strategy import FedMedian, FedTrimmedAvg, Krum, MultiKrum
from flwr.supercore.task_identity import TaskIdentity

import sbrml
from sbrml.core.errors import SpecError

N, D, F = 10, 5, 2


def replies(x: Any, weights: Any) -> list[Message]:
    """One reply per row, as a ClientApp would send its model: an ArrayRecord and metrics."""
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 1, 1
    out = []
    for i, (row, w) in enumerate(zip(x, weights, strict=True)):
        instruction = Message(
            RecordDict({"arrays": ArrayRecord()}),
            dst_node_id=100 + i,
            message_type=MessageType.TRAIN,
        )
        content = RecordDict(
            {"arrays": ArrayRecord([row]), "metrics": MetricRecord({"num-examples": int(w)})}
        )
        out.append(Message(content, reply_to=instruction))
    return out


def flower(strategy: Any, x: Any, weights: Any) -> Any:
    arrays, _ = strategy.aggregate_train(1, replies(x, weights))
    return np.concatenate([a.numpy().ravel() for a in arrays.values()])


def draw(seed: int, n: int = N) -> Any:
    gen = np.random.default_rng(seed)
    return np.vstack([gen.normal(size=(n - F, D)), 3.0 * gen.normal(size=(F, D))])


def ours(name: str, **kw: Any) -> Callable[[Any], Any]:
    """sbrml's rule ``name`` with f = 2, in the clear."""
    return lambda x: sbrml.rule(name, f=F, **kw)(x)


KRUM = ("Krum(num_malicious_nodes=2)", lambda: Krum(num_malicious_nodes=F))
MULTIKRUM = (
    "MultiKrum(2, num_nodes_to_select=3)",
    lambda: MultiKrum(num_malicious_nodes=F, num_nodes_to_select=3),
)
TRIMMED = ("FedTrimmedAvg(beta=0.2)", lambda: FedTrimmedAvg(beta=0.2))
# (Flower's strategy, its factory), (sbrml's rule, the rule), weights 1..10 (else all 1).
PAIRS: list[tuple[tuple[str, Callable[[], Any]], tuple[str, Callable[[Any], Any]], bool]] = [
    (KRUM, ("krum (Blanchard, n - f - 2)", ours("krum")), False),
    (KRUM, ("krum, convention='byzfl' (n - f - 1)", ours("krum", convention="byzfl")), False),
    (MULTIKRUM, ("multikrum, m=3", ours("multikrum", m=3)), False),
    (MULTIKRUM, ("multikrum, m=3", ours("multikrum", m=3)), True),
    (("FedMedian()", FedMedian), ("median", ours("median")), False),
    (TRIMMED, ("trimmed-mean, f=2", ours("trimmed-mean")), False),
    (TRIMMED, ("trimmed-mean, f=2", ours("trimmed-mean")), True),
]


def table(trials: int) -> list[str]:
    lines = [
        f"| Flower 1.42 | sbrml | num-examples | equal (of {trials}) | largest gap |",
        "|---|---|---|---|---|",
    ]
    for (flower_name, make), (sbrml_name, rule), weighted in PAIRS:
        weights = np.arange(1, N + 1) if weighted else np.ones(N)
        equal, gap = 0, 0.0
        for seed in range(trials):
            x = draw(seed)
            a, b = flower(make(), x, weights), np.asarray(rule(x))
            equal += int(np.array_equal(a, b))
            gap = max(gap, float(np.max(np.abs(a - b))))
        w = "1..10" if weighted else "all 1"
        lines.append(f"| `{flower_name}` | `{sbrml_name}` | {w} | {equal} | {gap:.3g} |")
    return lines


def refusals() -> list[str]:
    """Inputs one side accepts and the other refuses."""
    lines = []
    x = draw(0, n=6)  # n = 6 = 2f + 2: Krum's precondition n > 2f + 2 fails (C6.3)
    z = flower(Krum(num_malicious_nodes=F), x, np.ones(6))
    try:
        sbrml.rule("krum", f=F)(x)
        verdict = "accepts"
    except SpecError as err:
        verdict = f"refuses: {err}"
    row = int(np.argmin(np.abs(x - z).sum(axis=1)))
    lines.append(f"- n = 6, f = 2: Flower's Krum returns row {row}; sbrml {verdict}")
    for n, f in ((10, 2), (49, 2), (47, 3)):
        # Which trimmed mean FedTrimmedAvg(beta=f/n) computes, found by running it.
        x = np.random.default_rng(n).normal(size=(n, D))
        z = flower(FedTrimmedAvg(beta=f / n), x, np.ones(n))
        same = [k for k in range(f + 1) if np.allclose(z, sbrml.rule("trimmed-mean", f=k)(x))]
        lines.append(
            f"- FedTrimmedAvg(beta=f/n) at n = {n}, f = {f} returns sbrml's trimmed-mean with "
            f"f = {same[0] if same else '?'}" + ("" if same == [f] else ": f/n * n rounds below f")
        )
    lines.append(
        f"- FedTrimmedAvg(beta=0.2) at n = 9: int(1.8) = {int(0.2 * 9)} row cut per side: beta is "
        "a fraction rounded down, sbrml's trimmed mean takes f itself (and needs n > 2f)"
    )
    return lines


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--trials", type=int, default=200)
    args = p.parse_args(argv)
    logging.getLogger("flwr").setLevel(logging.WARNING)
    print("\n".join(table(args.trials)))
    print()
    print("\n".join(refusals()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
