"""``sbrml aggregate``: the secure two-server round or the rule in the clear, and its report."""

from __future__ import annotations

import argparse
import importlib
import time
from typing import Any

import numpy as np

from sbrml.backend import implementation
from sbrml.cli.common import make_rule, pick_rng
from sbrml.cli.errors import CliError
from sbrml.cli.files import load_matrix
from sbrml.cli.masks import run_masks


def run_aggregate(args: argparse.Namespace) -> dict[str, Any]:
    """Run one aggregation as the options say; returns the JSON report (README contract)."""
    x = load_matrix(args.input)
    if args.protocol == "masks":
        masks = run_masks(args, x)
        if args.out:
            np.save(args.out, masks["_z"])
        masks["out"] = args.out
        masks["transcript"] = args.transcript
        return masks
    if args.rule is None or args.f is None:
        raise CliError("the two-server protocol needs --rule and -f")
    if args.triples != "paillier" and args.paillier_obfuscators != "key-holder":
        raise CliError(
            f"--paillier-obfuscators {args.paillier_obfuscators} applies only with "
            f"--triples paillier; got --triples {args.triples}"
        )
    tree = implementation(args.impl)
    rule = make_rule(tree, args)
    if not args.plaintext and not tree.is_distance_rule(rule):
        secure = ", ".join(n for n in tree.RULES if tree.is_distance_rule(tree.RULES[n](0)))
        raise CliError(
            f"--rule {args.rule} has no distance form: coordinate-wise and norm-based rules need "
            f"secure comparison, which is not available yet (spec C8.11). Run it with --plaintext, "
            f"or choose a secure-capable rule: {secure}, optionally after nnm or bucketing"
        )
    data: Any = x if args.impl == "optimized" else x.tolist()
    report: dict[str, Any] = {
        "rule": args.rule,
        "mode": "plaintext" if args.plaintext else "secure",
        "protocol": None if args.plaintext else "two-server",
        "impl": args.impl,
        "variant": None if args.plaintext else args.variant,
        "triples": None if args.plaintext else args.triples,
        "paillier_obfuscators": (
            args.paillier_obfuscators if args.triples == "paillier" and not args.plaintext else None
        ),
        "n": int(x.shape[0]),
        "d": int(x.shape[1]),
        "f": args.f,
        "m": args.m,
    }
    if args.plaintext:
        if args.transcript:
            raise CliError("--transcript records the secure round's messages; drop --plaintext")
        root = pick_rng(tree, args.seed)
        start = time.perf_counter()
        z = np.asarray(rule(data, rng=root.derive("rule")), dtype=np.float64)
        elapsed = time.perf_counter() - start
        weights = None
        if tree.is_distance_rule(rule):
            # The same derived stream, so a randomized rule reports the weights it used.
            d = tree.sq_distances(data)
            weights = [float(w) for w in rule.weights(d, rng=root.derive("rule"))]
        report.update(
            {
                "rng": "system" if args.seed is None else "deterministic",
                "seed": args.seed,
                "weights": weights,
                "valid": list(range(x.shape[0])),
                "excluded": [],
                "bytes": {},
                "bytes_total": 0,
                "seconds": {"plaintext": elapsed},
                "transcript_sha256": None,
            }
        )
    else:
        rng = pick_rng(tree, args.seed)
        provider = None  # the default: the dealer of spec P4.1
        if args.triples == "paillier":
            module = importlib.import_module(f"sbrml.{args.impl}.paillier_triples")
            provider = module.PaillierTripleProvider(
                rng=rng.derive("triples"),
                bits=args.paillier_bits,
                obfuscators=args.paillier_obfuscators,
            )
        result = tree.secure_aggregate(data, rule, rng=rng, variant=args.variant, provider=provider)
        z = np.asarray(result.z, dtype=np.float64)
        seconds = dict(result.seconds)
        seconds["total_online"] = sum(
            v for k, v in result.seconds.items() if not k.startswith("offline")
        )
        links = result.channel.bytes_by_link()
        report.update(
            {
                "rng": "system" if args.seed is None else "deterministic",
                "seed": args.seed,
                "weights": [float(w) for w in result.weights],
                "valid": result.valid,
                "excluded": [
                    {"worker": i, "reason": r} for i, r in sorted(result.excluded.items())
                ],
                "bytes": links,
                "bytes_total": sum(links.values()),
                "seconds": seconds,
                "transcript_sha256": result.channel.transcript_digest(),
            }
        )
        if args.transcript:
            with open(args.transcript, "wb") as stream:
                result.channel.write_transcript(stream)
    if args.out:
        np.save(args.out, z)
    report["out"] = args.out
    report["transcript"] = args.transcript
    report["_z"] = z
    return report


def print_summary(report: dict[str, Any]) -> None:
    """The human-readable form of an aggregate report."""
    z = report["_z"]
    if report["mode"] == "masks":
        print(
            f"pairwise-mask secure aggregation (impl={report['impl']}): n={report['n']}, "
            f"d={report['d']}, t={report['threshold']}; output: the MEAN of the "
            f"{len(report['valid'])} workers counted {report['valid']} "
            "(not robust: any well-formed input is summed)"
        )
        for note in report["notes"]:
            print(f"note: {note}")
    else:
        print(
            f"{report['mode']} {report['rule']} (impl={report['impl']}, "
            f"variant={report['variant']}): n={report['n']}, d={report['d']}, f={report['f']}"
        )
    if report["weights"] is not None and report["mode"] != "masks":
        chosen = [i for i, w in enumerate(report["weights"]) if w > 0]
        print(f"workers with positive weight: {chosen}")
    for item in report["excluded"]:
        print(f"excluded W{item['worker']}: {item['reason']}")
    head = ", ".join(f"{v:.6g}" for v in z[:5])
    print(
        f"z[:5] = [{head}{', ...' if len(z) > 5 else ''}]  ||z|| = {float(np.linalg.norm(z)):.6g}"
    )
    if report["bytes_total"]:
        print(f"bytes sent: {report['bytes_total']:,} in total")
    print("seconds: " + ", ".join(f"{k}={v:.4f}" for k, v in report["seconds"].items()))
    if report["out"]:
        print(f"wrote {report['out']}")
    if report["transcript"]:
        print(f"wrote transcript {report['transcript']} (sha256 {report['transcript_sha256']})")
