"""The training-round table: one round's aggregation in each mode of ``sbrml.modes``, as the
simulation runs it, beside the plaintext mean."""

from __future__ import annotations

from functools import partial
from typing import Any

import sbrml.optimized as opt
import sbrml.optimized.paillier as pa
from sbrml import modes
from sbrml.bench.common import median_time, updates
from sbrml.optimized.processes import available_processes
from sbrml.rulespec import build_rule
from sbrml.tables import format_table

__all__ = ["PAILLIER_MAX_D", "bench_training_round"]

# Above this d the Paillier mean takes minutes; the packed averaging table times it by step.
PAILLIER_MAX_D = 10_000


def bench_training_round(
    n: int, f: int, dims: tuple[int, ...], repeat: int, processes: int | None = None
) -> str:
    """The aggregation step of one training round in each mode, beside plaintext averaging.

    Every row is the wall time of ``sbrml.modes.aggregate`` (the front door's conversions
    included); the Paillier mean runs once, on ``processes`` processes (default: the
    benchmarks' choice, ``available_processes()``).
    """
    procs = available_processes() if processes is None else processes
    keys = pa.generate_keypair(2048, rng=opt.SystemRandomSource())
    rows: list[list[Any]] = []
    for d in dims:
        x = updates(n, d, seed=d)
        robust = build_rule(opt, "nnm+krum", f)
        runs: list[tuple[str, str, Any, dict[str, Any], int]] = [
            ("plaintext mean (baseline)", "plaintext", opt.Mean(f), {}, repeat),
            ("plaintext nnm+krum", "plaintext", robust, {}, repeat),
            ("secure nnm+krum (online + offline)", "secure", robust, {}, repeat),
        ]
        if d <= PAILLIER_MAX_D:
            options: dict[str, Any] = {"keys": keys, "int_bits": 4, "processes": procs}
            runs.append(("Paillier mean (2048-bit)", "paillier", None, options, 1))
        base = 0.0
        for label, mode, rule, options, times in runs:
            run = partial(modes.aggregate, mode, x, rule, rng=opt.SystemRandomSource(), **options)
            seconds, result = median_time(run, times)
            base = base or seconds
            rows.append([f"{d:,}", label, seconds, seconds / base, modes.total_bytes(result)])
        if d > PAILLIER_MAX_D:
            rows.append(
                [
                    f"{d:,}",
                    "Paillier mean",
                    "not run",
                    "",
                    "timed step by step in the packed averaging table",
                ]
            )
    return format_table(
        ["d", "aggregation", "seconds", "x plaintext mean", "bytes"],
        rows,
        title=f"One training round's aggregation, n={n}, f={f} (the demo's d=650 and a 1M model)",
    )
