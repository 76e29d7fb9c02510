"""``sbrml aggregate --protocol masks``: pairwise-mask secure aggregation (spec section 20)."""

from __future__ import annotations

import argparse
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml import modes
from sbrml.backend import implementation
from sbrml.cli import progress
from sbrml.cli.common import pick_rng
from sbrml.cli.errors import CliError

MASK_ROUNDS = ("advertise", "share", "input", "unmask")


def parse_dropouts(items: list[str] | None, n: int) -> dict[int, str]:
    """``--dropout I:ROUND`` entries as spec C20.1's mapping, with errors naming the entry."""
    dropouts: dict[int, str] = {}
    for item in items or []:
        worker, _, stage = item.partition(":")
        if not worker.isdigit() or stage not in MASK_ROUNDS or not int(worker) < n:
            raise CliError(
                f"--dropout {item!r}: need WORKER:ROUND with 0 <= WORKER < n={n} and ROUND one of "
                f"{', '.join(MASK_ROUNDS)} (the first round the worker misses)"
            )
        if int(worker) in dropouts:
            raise CliError(f"--dropout {item!r}: worker {worker} is given twice")
        dropouts[int(worker)] = stage
    return dropouts


def run_masks(args: argparse.Namespace, x: NDArray[np.float64]) -> dict[str, Any]:
    """``--protocol masks``: pairwise-mask secure aggregation (spec section 20); the mean.

    The options were checked by ``sbrml.cli.options`` (no rule, -f or hyperparameters).
    """
    n = int(x.shape[0])
    if n < 2:
        # C20.1 needs 2 <= t <= n: say why in terms of the input, not of a default threshold.
        raise CliError(
            f"--protocol masks needs at least 2 workers (C20.1: 2 <= t <= n); INPUT has n={n}"
        )
    t = args.threshold if args.threshold is not None else max(2, n // 2 + 1)
    dropouts = parse_dropouts(args.dropout, n)
    tree = implementation(args.impl)
    rng = pick_rng(tree, args.seed, "masks")
    desc = f"pairwise-mask round, n={n}, d={x.shape[1]:,}, {args.impl} tree"
    with progress.activity(desc, show=progress.enabled(json_output=args.json)):
        result = modes.masks(x, rng=rng, impl=args.impl, threshold=t, dropouts=dropouts)
    return {
        "rule": "mean",
        "mode": "masks",
        "protocol": "masks",
        "output": "mean",
        "impl": args.impl,
        "variant": None,
        "frac_bits": None,
        "triples": None,
        "paillier_obfuscators": None,
        "n": n,
        "d": int(x.shape[1]),
        "f": None,
        "m": None,
        "threshold": t,
        "dropouts": {str(i): r for i, r in sorted(dropouts.items())},
        "survivors": result.survivors,
        "notes": result.notes,
        "rng": "system" if args.seed is None else "deterministic",
        "seed": args.seed,
        "weights": [float(w) for w in np.asarray(result.weights)],
        "leakage": None,
        "valid": result.valid,
        "excluded": [{"worker": i, "reason": r} for i, r in sorted(result.excluded.items())],
        "bytes": result.bytes,
        "bytes_total": modes.total_bytes(result),
        "seconds": result.seconds,
        "transcript_sha256": result.transcript.transcript_digest(),
        "_z": result.aggregate,
        "_channel": result.transcript,
    }
