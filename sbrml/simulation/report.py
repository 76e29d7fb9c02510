"""Simulation outputs: results.json, results.csv and accuracy.png (spec/18-simulation.md, D18.5)."""

from __future__ import annotations

import csv
import json
from collections.abc import Sequence
from pathlib import Path

from sbrml.simulation.figure import plot
from sbrml.simulation.train import RunResult
from sbrml.tables import format_table

CSV_FIELDS = (
    "rule",
    "attack",
    "mode",
    "epsilon",
    "final_accuracy",
    "best_accuracy",
    "final_loss",
    "seconds_per_round",
    "bytes_per_round",
    "sigma",
)


# C17.5: printed wherever a run's DP results are (the table, results.json).
SEEDED_NOISE = (
    "DP noise in the simulation comes from DeterministicRandomSource(seed): anyone who knows "
    "the seed can recompute and remove it, so it is UNSAFE for real privacy; these runs show "
    "the accuracy cost of the noise only"
)


def summary_rows(results: Sequence[RunResult]) -> list[dict[str, object]]:
    """One row per run: the final table's fields (CSV_FIELDS)."""
    rows: list[dict[str, object]] = []
    for r in results:
        c = r.config
        rows.append(
            {
                "rule": c.rule,
                "attack": c.attack or "none",
                "mode": c.mode,
                "epsilon": "" if c.epsilon is None else c.epsilon,
                "final_accuracy": r.accuracy[-1],
                "best_accuracy": max(r.accuracy),
                "final_loss": r.loss[-1],
                "seconds_per_round": sum(r.seconds) / len(r.seconds),
                "bytes_per_round": sum(r.bytes) // len(r.bytes),
                "sigma": "" if r.sigma is None else r.sigma,
            }
        )
    return rows


def write_outputs(results: Sequence[RunResult], out: Path) -> str:
    """Write the three files into ``out`` and return the final table as text."""
    out.mkdir(parents=True, exist_ok=True)
    document: dict[str, object] = {"runs": [r.as_dict() for r in results]}
    private = any(r.sigma is not None for r in results)
    if private:
        document["dp_noise"] = SEEDED_NOISE
    (out / "results.json").write_text(
        json.dumps(document, indent=1, sort_keys=True) + "\n", encoding="utf-8"
    )
    rows = summary_rows(results)
    with open(out / "results.csv", "w", newline="", encoding="utf-8") as stream:
        writer = csv.DictWriter(stream, fieldnames=CSV_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    plot(results, out / "accuracy.png")  # C18.6
    table = format_table(
        ["rule", "attack", "mode", "eps", "final acc", "best acc", "s/round", "bytes/round"],
        [
            [
                r["rule"],
                r["attack"],
                r["mode"],
                r["epsilon"],
                r["final_accuracy"],
                r["best_accuracy"],
                r["seconds_per_round"],
                r["bytes_per_round"],
            ]
            for r in rows
        ],
    )
    return table + (f"\nnote: {SEEDED_NOISE}" if private else "")
