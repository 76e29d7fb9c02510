"""The ``sbrml`` command line (README, "Command line"): ``aggregate``, ``kappa``, ``simulate``,
``demo`` and the deployment's ``certs``, ``serve``, ``worker``, ``launch``, one module per job.

The options, output files and JSON fields documented in the README are a public contract.
Exit status: 0 done, 2 a usage, file or spec error (the message names it) or a standard
output that cannot be written (a full device), 3 a deployment's round stopped (``serve``,
``launch``: C8.4, C23.4; the records say why), 1 a bug in sbrml, 141 standard output closed
(by its reader, or before sbrml started); see ``sbrml.cli.errors``.
"""

from __future__ import annotations

import argparse
import json
import sys

from sbrml.cli.errors import CliError, finish_stdout, report_bug, silence_stdout
from sbrml.cli.net import RoundsStopped
from sbrml.cli.parser import build_parser
from sbrml.core.errors import SpecError

__all__ = ["main"]


def run_command(args: argparse.Namespace) -> str:
    """Run one subcommand; returns what it prints on standard output."""
    if args.command == "aggregate":
        from sbrml.cli.aggregate import format_summary, run_aggregate

        report = run_aggregate(args)
        if args.json:
            report.pop("_z")
            return json.dumps(report, sort_keys=True, allow_nan=False)
        return format_summary(report)
    if args.command == "kappa":
        from sbrml.cli.kappa import run_kappa

        return run_kappa(args)
    if args.command == "simulate":
        from sbrml.cli.simulate import run_simulate

        return run_simulate(args)
    if args.command in ("certs", "serve", "worker", "launch"):
        from sbrml.cli.net import run_net

        return run_net(args)
    from sbrml.cli.demo import run_demo_command

    return run_demo_command(args)


def main(argv: list[str] | None = None) -> int:
    """The ``sbrml`` entry point; returns the exit status."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        # --help printed its text (or argparse its usage error): standard output that cannot
        # take it is reported here, not as an error ignored at the interpreter's exit.
        status = finish_stdout("")
        if status:
            raise SystemExit(status) from None
        raise
    try:
        text = run_command(args)
    except RoundsStopped as stopped:  # serve, launch: the run finished, some round did not
        if stopped.text:
            finish_stdout(stopped.text + "\n")
        print(f"sbrml: {args.command}: {stopped}", file=sys.stderr)
        return 3
    except BrokenPipeError:  # --out /dev/stdout read by `head`
        return silence_stdout()
    except (CliError, SpecError) as err:
        print(f"sbrml: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("sbrml: interrupted", file=sys.stderr)
        return 130
    except Exception as err:  # everything else is sbrml's fault, not the user's
        return report_bug(err)
    return finish_stdout(text + "\n")
