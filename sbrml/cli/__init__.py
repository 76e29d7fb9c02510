"""The ``sbrml`` command line (README, "Command line"): ``aggregate``, ``kappa``, ``simulate``
and ``demo``, one module per job.

The options, output files and JSON fields documented in the README are a public contract.
"""

from __future__ import annotations

import json
import sys

from sbrml.cli.aggregate import print_summary, run_aggregate
from sbrml.cli.errors import CliError
from sbrml.cli.kappa import run_kappa
from sbrml.cli.parser import build_parser
from sbrml.cli.simulate import run_simulate
from sbrml.reference.errors import SpecError

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "aggregate":
            report = run_aggregate(args)
            if args.json:
                report.pop("_z")
                print(json.dumps(report, sort_keys=True))
            else:
                print_summary(report)
        elif args.command == "kappa":
            print(run_kappa(args))
        elif args.command == "simulate":
            print(run_simulate(args))
        else:
            from sbrml.demo import run_demo

            print(run_demo(dim=args.dim, seed=args.seed))
    except (CliError, SpecError, ValueError) as err:
        print(f"sbrml: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
