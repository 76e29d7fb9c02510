"""Which ``sbrml aggregate`` options apply to which mode; one that does not is an error.

Modes: the secure two-server round (default), ``--plaintext`` (the rule in the clear) and
``--protocol masks`` (pairwise-mask secure aggregation, the mean). Options whose default
depends on the mode are parsed as None and filled in here, after the check.
"""

from __future__ import annotations

import argparse

from sbrml.cli.errors import CliError
from sbrml.cli.parser import HYPERPARAMETERS

TWO_SERVER = "the secure two-server round"
MODE_NAMES = {
    "secure": "the two-server round",
    "plaintext": "--plaintext",
    "masks": "--protocol masks",
}
# option dest -> (flag, the modes it applies to, described for the message)
SCOPES: dict[str, tuple[str, tuple[str, ...], str]] = {
    "threshold": ("--threshold", ("masks",), "--protocol masks"),
    "dropout": ("--dropout", ("masks",), "--protocol masks"),
    "variant": ("--variant", ("secure",), TWO_SERVER),
    "leakage": ("--leakage", ("secure",), TWO_SERVER),
    "frac_bits": ("--frac-bits", ("secure", "plaintext"), "the two-server round and --plaintext"),
    "triples": ("--triples", ("secure",), TWO_SERVER),
    "paillier_bits": ("--paillier-bits", ("secure",), "--triples paillier"),
    "paillier_obfuscators": ("--paillier-obfuscators", ("secure",), "--triples paillier"),
}
DEFAULTS = {
    "frac_bits": 16,
    "variant": "gram",
    "triples": "dealer",
    "paillier_bits": 2048,
    "paillier_obfuscators": "key-holder",
}


def aggregate_mode(args: argparse.Namespace) -> str:
    """``secure``, ``plaintext`` or ``masks``."""
    if args.protocol == "masks":
        if args.plaintext:
            raise CliError(
                "--plaintext runs a rule in the clear; it does not combine with --protocol masks"
            )
        return "masks"
    return "plaintext" if args.plaintext else "secure"


def given(args: argparse.Namespace, dest: str) -> bool:
    return getattr(args, dest, None) is not None


def check_options(args: argparse.Namespace, mode: str) -> None:
    """Refuse every option that does not apply to ``mode``, then fill in the defaults."""
    here = MODE_NAMES[mode]
    for dest, (flag, modes, scope) in SCOPES.items():
        if given(args, dest) and mode not in modes:
            raise CliError(f"{flag} applies only to {scope}, not to {here}")
    if mode == "secure" and args.triples != "paillier":
        for dest in ("paillier_bits", "paillier_obfuscators"):
            if given(args, dest):
                flag = SCOPES[dest][0]
                raise CliError(
                    f"{flag} applies only to --triples paillier, not to --triples "
                    f"{args.triples or DEFAULTS['triples']}"
                )
    if mode == "masks":
        check_masks_options(args)
    if given(args, "transcript") and mode == "plaintext":
        raise CliError(
            "--transcript records the messages of a secure round; --plaintext sends none: "
            "drop --plaintext or --transcript"
        )
    check_view(args, mode)
    # Which options were given, before the defaults fill them in: some apply only to rounds
    # that compute distances, which the rule decides later (C8.15).
    args.given_options = {dest for dest in DEFAULTS if given(args, dest)}
    if mode == "secure":
        for dest, default in DEFAULTS.items():
            if not given(args, dest):
                setattr(args, dest, default)
    elif mode == "plaintext" and not given(args, "frac_bits"):
        args.frac_bits = DEFAULTS["frac_bits"]


def check_masks_options(args: argparse.Namespace) -> None:
    """--protocol masks computes the mean: no robust rule, -f or rule hyperparameters."""
    robust = []
    if args.rule not in (None, "mean"):
        robust.append(f"--rule {args.rule}")
    if args.f not in (None, 0):
        robust.append(f"-f {args.f}")
    if robust:
        raise CliError(
            "--protocol masks computes the mean of the surviving workers and has no robust "
            f"rule: drop {' and '.join(robust)} (or use the two-server round)"
        )
    hyper = [f"--{o.replace('_', '-')}" for o in HYPERPARAMETERS if given(args, o)]
    if hyper:
        raise CliError(
            f"{', '.join(hyper)}: rule hyperparameters do not apply to --protocol masks, "
            "which has no rule"
        )


def check_view(args: argparse.Namespace, mode: str) -> None:
    """--transcript-view needs --transcript and a party of this round (D7.5)."""
    view = args.transcript_view
    if view is None:
        return
    if not given(args, "transcript"):
        raise CliError("--transcript-view applies only with --transcript")
    parties = ("full", "S") if mode == "masks" else ("full", "S0", "S1", "dealer")
    if view not in parties:
        raise CliError(
            f"--transcript-view {view}: not a party of {MODE_NAMES[mode]}; "
            f"choose one of {', '.join(parties)}"
        )
