"""``sbrml demo``: the self-contained example (``sbrml.demo``), with its checks and progress."""

from __future__ import annotations

import argparse

from sbrml.cli import progress
from sbrml.cli.errors import CliError
from sbrml.cli.files import human
from sbrml.cli.resources import ELEMENT, check_memory

# The demo holds the 9 x d inputs, both servers' shares, Gram masks and messages, and the
# outputs of seven runs: its peak was measured at about 70 arrays of 9 x d x 8 bytes
# (d = 10^6); 48 keeps the figure a lower bound.
DEMO_ARRAYS = 48


def run_demo_command(args: argparse.Namespace) -> str:
    """Check --dim against the memory it needs, then run the demo with progress on stderr."""
    from sbrml.demo import N, run_demo

    if args.dim < 1:
        raise CliError(f"demo: --dim must be >= 1; got {args.dim}")
    if args.seed < 0:
        raise CliError(f"demo: --seed must be >= 0 (a NumPy seed); got {args.seed}")
    need = DEMO_ARRAYS * N * args.dim * ELEMENT
    check_memory(f"demo --dim {args.dim}", need, f"{DEMO_ARRAYS} arrays of {N} x d, {human(need)}")
    return run_demo(dim=args.dim, seed=args.seed, show_progress=progress.enabled())
