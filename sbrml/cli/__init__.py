"""The ``sbrml`` command line (README, "Command line"): ``aggregate``, ``kappa``, ``simulate``
and ``demo``, one module per job.

The options, output files and JSON fields documented in the README are a public contract.
Exit status: 0 done, 2 a usage, file or spec error (the message names it), 1 a bug in sbrml,
141 standard output closed by its reader (see ``sbrml.cli.errors``).
"""

from __future__ import annotations

import argparse
import json
import sys

from sbrml.cli.errors import CliError, report_bug, silence_stdout
from sbrml.cli.parser import build_parser
from sbrml.core.errors import SpecError

__all__ = ["main"]


def run_command(args: argparse.Namespace) -> None:
    """Run one subcommand and print its output on standard output."""
    if args.command == "aggregate":
        from sbrml.cli.aggregate import print_summary, run_aggregate

        report = run_aggregate(args)
        if args.json:
            report.pop("_z")
            print(json.dumps(report, sort_keys=True, allow_nan=False))
        else:
            print_summary(report)
    elif args.command == "kappa":
        from sbrml.cli.kappa import run_kappa

        print(run_kappa(args))
    elif args.command == "simulate":
        from sbrml.cli.simulate import run_simulate

        print(run_simulate(args))
    else:
        from sbrml.cli.demo import run_demo_command

        print(run_demo_command(args))


def main(argv: list[str] | None = None) -> int:
    """The ``sbrml`` entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        run_command(args)
        sys.stdout.flush()  # a closed pipe shows here, inside the handler, not at exit
    except BrokenPipeError:
        return silence_stdout()
    except (CliError, SpecError) as err:
        print(f"sbrml: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sbrml: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # everything else is sbrml's fault, not the user's
        return report_bug(err)
    return 0
