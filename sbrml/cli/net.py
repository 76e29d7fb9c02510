"""``sbrml certs|serve|worker|launch``: parties as processes (spec/23-deployment.md).

``certs`` issues a CA and per-party certificates for trying a deployment out; ``serve`` runs
``S0``, ``S1`` or the dealer from a deployment file (D23.4); ``worker`` sends one worker's
shares; ``launch`` starts a whole deployment on this machine over loopback.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

from sbrml.cli.errors import CliError
from sbrml.cli.files import inspect_npy, load_matrix
from sbrml.core.errors import SpecError
from sbrml.extras import MissingExtraError, require

__all__ = ["add_parsers", "run_net"]

PARTIES = ("s0", "s1", "dealer")
TRANSCRIPT_HELP = (
    "write this party's view of every round to <output>/round-<r>.<party>.transcript (spec "
    "D7.3, mode 0600; secret: two parties' views reconstruct the inputs; keeps the round's "
    "payloads in memory)"
)
LAUNCH_TRANSCRIPT_HELP = (
    "pass --transcript to S0, S1 and the dealer: each writes its own view of every round"
)


def add_parsers(sub: Any) -> None:
    """The four subcommands and their options (README, "Parties as processes")."""
    certs = sub.add_parser("certs", help="issue a CA and certificates for s0, s1, dealer, w<i>")
    certs.add_argument("--dir", required=True, help="directory for ca.pem, <party>.pem/.key")
    certs.add_argument("--workers", type=int, required=True, help="number of workers n")
    certs.add_argument("--days", type=int, default=30, help="validity in days (default 30)")
    serve = sub.add_parser("serve", help="run S0, S1 or the dealer of a deployment file")
    serve.add_argument("party", choices=PARTIES)
    serve.add_argument("--config", required=True, help="deployment file (TOML, spec D23.4)")
    serve.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    serve.add_argument("--transcript", action="store_true", help=TRANSCRIPT_HELP)
    worker = sub.add_parser("worker", help="share one worker's update with the two servers")
    worker.add_argument("--config", required=True, help="deployment file (TOML, spec D23.4)")
    worker.add_argument("--index", type=int, required=True, help="the worker's index i")
    worker.add_argument("--input", required=True, help=".npy vector of length d")
    worker.add_argument("--round", type=int, default=None, help="round (default: first_round)")
    worker.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    launch = sub.add_parser("launch", help="a whole deployment on this machine over loopback")
    launch.add_argument("--config", required=True, help="deployment file (TOML, spec D23.4)")
    launch.add_argument("--input", required=True, help="n x d .npy array, row i for worker i")
    launch.add_argument("--json", action="store_true", help="print S1's records as JSON")
    launch.add_argument("--seed", type=int, default=None, help=argparse.SUPPRESS)
    launch.add_argument("--transcript", action="store_true", help=LAUNCH_TRANSCRIPT_HELP)


def _deployment(path: str) -> Any:
    from sbrml.net.config import load_deployment

    return load_deployment(path)


def _summary(record: dict[str, Any]) -> str:
    head = f"round {record['round']} {record['party']}"
    if "stopped" in record:
        return f"{head}: stopped: {record['stopped']}"
    parts = [f"V = {record['valid']}"]
    if record.get("excluded"):
        parts.append("excluded: " + "; ".join(f"{k}: {v}" for k, v in record["excluded"].items()))
    if "z" in record:
        parts.append(f"z in {record['z']}")
    total = sum(record["bytes"].values())
    parts.append(f"{total} payload bytes, {record['wall_seconds']:.3f} s")
    return f"{head}: " + ", ".join(parts)


def _load_vector(path: str) -> Any:
    """A worker's own update: a .npy vector of length d (or one row)."""
    try:
        x = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as err:
        raise CliError(f"--input {path!r}: cannot be read as .npy ({err})") from err
    if x.ndim == 2 and x.shape[0] == 1:
        x = x[0]
    if x.ndim != 1 or not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise CliError(f"--input {path!r}: need a real vector of length d; got {x.dtype} {x.shape}")
    return np.asarray(x, dtype=np.float64)


class RoundsStopped(Exception):
    """Some round stopped (C8.4, C23.4): ``sbrml serve`` and ``launch`` exit with status 3,
    after printing what they would print otherwise."""

    def __init__(self, text: str, message: str) -> None:
        super().__init__(message)
        self.text = text


def _check_stopped(records: list[dict[str, Any]], text: str = "") -> None:
    stopped = [r for r in records if "stopped" in r]
    if stopped:
        first = stopped[0]
        raise RoundsStopped(
            text,
            f"{len(stopped)} of {len(records)} round(s) stopped; round {first['round']}: "
            f"{first['stopped']}",
        )


def run_net(args: argparse.Namespace) -> str:
    """Run one of the four subcommands; returns what it prints."""
    if args.command != "certs":
        try:
            require("net", f"sbrml {args.command}")
        except MissingExtraError as err:  # the user's install, not a bug: exit 2 with the fix
            raise CliError(str(err)) from err
    if args.command == "certs":
        from sbrml.net.tls import make_certificates

        if args.workers < 1:
            raise CliError(f"--workers {args.workers}: need at least one worker")
        target = Path(args.dir)
        if target.exists() and not target.is_dir():
            raise CliError(f"--dir {args.dir!r}: a file, not a directory")
        if (target / "ca.pem").exists():
            # A new CA would invalidate every certificate already copied to other hosts.
            raise CliError(
                f"--dir {args.dir!r}: already holds a CA (ca.pem); remove the directory, or "
                "choose another, to issue a new deployment's certificates"
            )
        parties = ["S0", "S1", "dealer"] + [f"W{i}" for i in range(args.workers)]
        files = make_certificates(args.dir, parties, days=args.days)
        return f"wrote ca.pem and the certificates and keys of {len(files)} parties to {args.dir}"
    deployment = _deployment(args.config)
    from sbrml.net import runner

    if args.command == "serve":
        if args.party == "dealer":
            runner.serve_dealer(deployment, seed=args.seed, transcript=args.transcript)
            return f"dealer: sent the material of {deployment.rounds} round(s)"
        records = runner.serve(
            deployment,
            args.party,
            seed=args.seed,
            report=lambda r: print(_summary(r), flush=True),
            transcript=args.transcript,
        )
        _check_stopped(records)
        return f"{args.party}: served {len(records)} round(s)"
    if args.command == "worker":
        x = _load_vector(args.input)
        try:
            runner.worker(
                deployment,
                args.index,
                x,
                round_id=args.round,
                seed=args.seed,
                notice=lambda text: print(f"sbrml worker: {text}", file=sys.stderr, flush=True),
            )
        except SpecError as error:
            if "replay or late message" in str(error):
                raise CliError(
                    f"{error}\nsbrml worker: the servers have moved past this round; give the "
                    "round they serve with --round R"
                ) from None
            raise
        return f"W{args.index}: sent its shares to S0 and S1"
    inputs = load_matrix(inspect_npy(args.input))
    records = runner.launch(deployment, inputs, seed=args.seed, transcript=args.transcript)
    if args.json:
        text = json.dumps(records, sort_keys=True, allow_nan=False)
    else:
        out = Path(deployment.output)
        text = "\n".join([_summary(r) for r in records] + [f"records and z in {out}"])
    _check_stopped(records, text)
    return text
