"""``sbrml aggregate``: the secure two-server round or the rule in the clear, and its report.

Order of work: options (what applies to the mode), output paths, the input's header, the
rule against n, the memory the run needs; only then is the input read and the run started.
"""

from __future__ import annotations

import argparse
import importlib
import math
import sys
import time
from typing import Any

import numpy as np
from numpy.typing import NDArray

from sbrml import modes
from sbrml.backend import implementation
from sbrml.cli import progress
from sbrml.cli.common import (
    check_seed,
    effective_f,
    effective_m,
    make_rule,
    pick_rng,
    rejected_reason,
)
from sbrml.cli.errors import CliError
from sbrml.cli.files import (
    check_not_input,
    check_not_stdout,
    check_output_file,
    in_place,
    inspect_npy,
    load_matrix,
    same_file,
    write_output_file,
)
from sbrml.cli.options import aggregate_mode, check_options
from sbrml.cli.resources import aggregate_needs, check_memory, weights_need_distances
from sbrml.core.errors import InsufficientWorkersError, ParameterError, SpecError
from sbrml.core.leakage import needs_distances, rule_leakages
from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES
from sbrml.core.round import describe_excluded, excluded_entry, selected_count
from sbrml.rulespec import check_workers

FULL_TRANSCRIPT_WARNING = (
    "sbrml: --transcript {path}: the full transcript holds both shares of every worker's "
    "input, so this file reconstructs every input; keep it as secret as the inputs, or write "
    "one party's view with --transcript-view"
)


def check_outputs(args: argparse.Namespace) -> None:
    """Every output path can be written and none is the input: checked before any work, so
    no run is lost and no input overwritten."""
    inputs = {"INPUT": args.input}
    for option, path in (("--out", args.out), ("--transcript", args.transcript)):
        if path is not None:
            check_not_input(option, path, inputs)
            check_not_stdout(option, path, "the --json report" if args.json else "its summary")
            check_output_file(option, path)
    both = args.out is not None and args.transcript is not None
    if both and same_file(args.out, args.transcript) and not in_place(args.out):
        raise CliError(f"--out and --transcript are the same file {args.out!r}")


def run_aggregate(args: argparse.Namespace) -> dict[str, Any]:
    """Run one aggregation as the options say; returns the JSON report (README contract)."""
    mode = aggregate_mode(args)
    check_options(args, mode)
    check_seed(implementation(args.impl), args.seed)
    check_outputs(args)
    info = inspect_npy(args.input)
    n, d = info.shape
    if mode == "masks":
        from sbrml.cli.masks import run_masks

        need, detail = aggregate_needs(mode=mode, impl=args.impl, n=n, d=d)
        check_memory("this run", need, detail)
        report = run_masks(args, load_matrix(info))
    else:
        report = run_two_server_or_plain(args, mode, info)
    z = report["_z"]
    if args.out:
        write_output_file("--out", args.out, lambda stream: np.save(stream, z))
    report["out"] = args.out
    report["transcript"] = args.transcript
    report["transcript_view"] = None
    if args.transcript:
        report["transcript_view"] = write_transcript(args, report.pop("_channel"), mode)
    report.pop("_channel", None)
    return report


def write_transcript(args: argparse.Namespace, channel: Any, mode: str) -> str:
    """Write the transcript, or one party's view of it (D7.5); returns the view written.

    The full transcript of the two-server round reconstructs every input, which stderr says;
    in pairwise-mask aggregation every message passes through the server, so the full
    transcript is the server's view and reveals what the server learns.
    """
    view = args.transcript_view or "full"
    party = None if view == "full" else view
    if party is None and mode != "masks":
        print(FULL_TRANSCRIPT_WARNING.format(path=args.transcript), file=sys.stderr)
    write_output_file(
        "--transcript", args.transcript, lambda stream: channel.write_transcript(stream, party)
    )
    return view


def run_two_server_or_plain(args: argparse.Namespace, mode: str, info: Any) -> dict[str, Any]:
    """The two-server round (P8.1) or, with --plaintext, the rule in the clear."""
    n, d = info.shape
    tree = implementation(args.impl)
    f = effective_f(tree, args)
    rule = make_rule(tree, args, f, n)
    distance = bool(tree.is_distance_rule(rule))
    if mode == "secure":
        check_leakage(args, rule)
        if not needs_distances(rule, args.leakage or rule_leakages(rule)[0]):
            args.variant = None  # no distances: no variant to report
    through_distances = distance and weights_need_distances(rule)
    need, detail = aggregate_needs(
        mode=mode,
        impl=args.impl,
        n=n,
        d=d,
        rule=rule,
        through_distances=through_distances,
        variant=args.variant,
    )
    check_memory("this run", need, detail)
    x = load_matrix(info)
    data: Any = x if args.impl == "optimized" else x.tolist()
    report: dict[str, Any] = {
        "rule": args.rule,
        "mode": mode,
        "protocol": None if mode == "plaintext" else "two-server",
        "impl": args.impl,
        "variant": args.variant,
        "frac_bits": args.frac_bits,
        "triples": args.triples,
        "paillier_obfuscators": args.paillier_obfuscators if args.triples == "paillier" else None,
        "n": n,
        "d": d,
        "f": f,
        "rng": "system" if args.seed is None else "deterministic",
        "seed": args.seed,
    }
    if mode == "plaintext":
        report["leakage"] = None
        report.update(run_plaintext(tree, rule, data, args, n, distance, through_distances))
    else:
        report.update(run_secure(tree, rule, data, args, n, d))
    report["m"] = effective_m(rule, len(report["valid"]))
    return report


def check_leakage(args: argparse.Namespace, rule: Any) -> None:
    """The rule runs in the secure round (C8.11) in the --leakage mode asked for (C8.15)."""
    modes_here = rule_leakages(rule)
    if not modes_here:
        secure = ", ".join(k for k, e in RULE_ENTRIES.items() if e.secure)
        pres = " or ".join(k for k, e in PREAGGREGATION_ENTRIES.items() if e.distance)
        raise CliError(
            f"--rule {args.rule} does not run on shares (spec C8.11: Bulyan, the norm-based "
            f"clip, arc and cc, and pre-aggregations before a coordinate-wise rule run only in "
            f"the clear). Run it with --plaintext, "
            f"or choose a rule of the secure round: {secure} (the distance rules optionally "
            f"after {pres})"
        )
    if args.leakage is not None and args.leakage not in modes_here:
        raise CliError(
            f"--leakage {args.leakage} does not apply to --rule {args.rule} (spec C8.15); "
            f"it runs with: {', '.join(modes_here)}"
        )
    if not needs_distances(rule, args.leakage or modes_here[0]):
        for flag, dest in (("--variant", "variant"), ("--triples", "triples")):
            if dest in args.given_options:
                raise CliError(
                    f"{flag} applies only to rounds that compute distances; --rule {args.rule} "
                    f"with leakage {args.leakage or modes_here[0]} computes none (spec C8.15)"
                )


def run_plaintext(
    tree: Any,
    rule: Any,
    data: Any,
    args: argparse.Namespace,
    n: int,
    distance: bool,
    through_distances: bool,
) -> dict[str, Any]:
    """The rule in the clear over the rows that pass the workers' own checks (C1.1, C1.2, C8.2),
    exactly as the secure round screens them; the others are excluded and reported.

    A distance rule reports its weights p and z = sum_i p_i x_i; the mean's weights are 1/n
    whatever D is, so the n x n matrix D is built only for the rules whose weights need it
    (``through_distances``)."""
    root = pick_rng(tree, args.seed, "plaintext")
    start = time.perf_counter()
    excluded: dict[int, str] = {}
    for i in range(n):
        try:
            tree.encode_update(data[i], frac_bits=args.frac_bits)
        except SpecError as err:
            excluded[i] = rejected_reason(i, err)
    valid = [i for i in range(n) if i not in excluded]
    if excluded:
        rows = x_rows(data, valid)
        try:
            check_workers(rule, len(valid))
            selected_count(rule, len(valid))  # Multi-Krum's m (C6.5), as the round does (C8.4)
        except (InsufficientWorkersError, ParameterError) as err:
            raise InsufficientWorkersError(
                "aggregate",
                "n",
                f"{err.condition} after exclusions",
                "C8.4",
                f"{len(valid)} valid of n={n}, f={rule.f}; excluded: {describe_excluded(excluded)}",
            ) from err
    else:
        rows = data
    # One stream, drawn once: a randomized rule (bucketing) reports the weights it used, and
    # z follows from them (z = sum_i p_i x_i for a distance rule, C6.1), not from a second
    # draw of the same label.
    stream = root.derive("rule")
    weights = None
    if distance:
        if through_distances:
            p = [float(w) for w in rule.weights(tree.sq_distances(rows), rng=stream)]
        else:
            p = [1.0 / len(valid)] * len(valid)
        z = weighted_sum(p, rows)
        weights = [0.0] * n
        for i, w in zip(valid, p, strict=True):
            weights[i] = w
    else:
        z = np.asarray(rule(rows, rng=stream), dtype=np.float64)
    return {
        "weights": weights,
        "valid": valid,
        "excluded": [{"worker": i, "reason": r} for i, r in sorted(excluded.items())],
        "bytes": {},
        "bytes_total": 0,
        "seconds": {"plaintext": time.perf_counter() - start},
        "transcript_sha256": None,
        "_z": z,
    }


def x_rows(data: Any, rows: list[int]) -> Any:
    """The given rows of an array (optimized tree) or of a list of lists (reference tree)."""
    return data[rows] if isinstance(data, np.ndarray) else [data[i] for i in rows]


def weighted_sum(p: list[float], rows: Any) -> NDArray[np.float64]:
    """sum_i p_i x_i over the rows with p_i > 0: one BLAS product for an array, a correctly
    rounded sum per coordinate for the reference tree's lists."""
    if isinstance(rows, np.ndarray):
        chosen = np.flatnonzero(p)
        return np.asarray(np.asarray(p)[chosen] @ rows[chosen], dtype=np.float64)
    used = [(w, rows[i]) for i, w in enumerate(p) if w != 0]
    d = len(rows[0])
    return np.array(
        [math.fsum(w * float(row[k]) for w, row in used) for k in range(d)], dtype=np.float64
    )


def run_secure(
    tree: Any, rule: Any, data: Any, args: argparse.Namespace, n: int, d: int
) -> dict[str, Any]:
    """The secure two-server round (P8.1) with the chosen triples and variant."""
    rng = pick_rng(tree, args.seed, "secure")
    provider = None  # the default: the dealer of spec P4.1
    if args.triples == "paillier":
        from sbrml.optimized.processes import available_processes

        module = importlib.import_module(f"sbrml.{args.impl}.paillier_triples")
        provider = module.PaillierTripleProvider(
            rng=rng.derive("triples"),
            bits=args.paillier_bits,
            obfuscators=args.paillier_obfuscators,
            # The command line chooses the processes the library leaves to its caller (C0.2).
            processes=available_processes(),
        )
    desc = f"secure {args.rule} round, n={n}, d={d:,}, {args.impl} tree, {args.triples} triples"
    with progress.activity(desc, show=progress.enabled(json_output=args.json)):
        result = modes.secure(
            np.asarray(data),
            rule,
            rng=rng,
            impl=args.impl,
            variant=args.variant,  # None: the round computes no distances
            provider=provider,
            leakage=args.leakage,
            frac_bits=args.frac_bits,
            transcript=True,  # the report's transcript_sha256 (and --transcript)
        )
    seconds = dict(result.seconds)
    seconds["total_online"] = modes.online_seconds(result)
    return {
        "weights": None
        if result.weights is None
        else [float(w) for w in np.asarray(result.weights)],
        "leakage": result.leakage,
        "valid": result.valid,
        "excluded": [{"worker": i, "reason": r} for i, r in sorted(result.excluded.items())],
        "bytes": result.bytes,
        "bytes_total": modes.total_bytes(result),
        "seconds": seconds,
        "transcript_sha256": result.transcript.transcript_digest(),
        "_z": result.aggregate,
        "_channel": result.transcript,
    }


LEAKAGE_TEXT = {
    "distances": "S1 learned the distance matrix D of the valid workers",
    "index": "both servers learned the selection and the weights, not D",
    "output": "the servers learned only z and which workers were valid",
}


def format_summary(report: dict[str, Any]) -> str:
    """The human-readable form of an aggregate report (printed by ``sbrml.cli.main``)."""
    z = report["_z"]
    lines: list[str] = []
    if report["mode"] == "masks":
        lines.append(
            f"pairwise-mask secure aggregation (impl={report['impl']}): n={report['n']}, "
            f"d={report['d']}, t={report['threshold']}; output: the MEAN of the "
            f"{len(report['valid'])} workers counted {report['valid']} "
            "(not robust: any well-formed input is summed)"
        )
        for note in report["notes"]:
            lines.append(f"note: {note}")
    else:
        variant = "" if report["variant"] is None else f", variant={report['variant']}"
        m = "" if report["m"] is None else f", m={report['m']}"
        lines.append(
            f"{report['mode']} {report['rule']} (impl={report['impl']}{variant}): "
            f"n={report['n']}, d={report['d']}, f={report['f']}{m}"
        )
        if report.get("leakage"):
            lines.append(f"leakage: {LEAKAGE_TEXT[report['leakage']]} (spec C8.15)")
    if report["weights"] is not None and report["mode"] != "masks":
        chosen = [i for i, w in enumerate(report["weights"]) if w > 0]
        lines.append(f"workers with positive weight: {chosen}")
    for item in report["excluded"]:
        lines.append(f"excluded {excluded_entry(item['worker'], item['reason'])}")
    head = ", ".join(f"{v:.6g}" for v in z[:5])
    lines.append(
        f"z[:5] = [{head}{', ...' if len(z) > 5 else ''}]  ||z|| = {float(np.linalg.norm(z)):.6g}"
    )
    if report["bytes_total"]:
        lines.append(f"bytes sent: {report['bytes_total']:,} in total")
    lines.append("seconds: " + ", ".join(f"{k}={v:.4f}" for k, v in report["seconds"].items()))
    if report["out"]:
        lines.append(f"wrote {report['out']}")
    if report["transcript"] and report["transcript_view"] == "full":
        lines.append(
            f"wrote transcript {report['transcript']} (sha256 {report['transcript_sha256']})"
        )
    elif report["transcript"]:
        lines.append(
            f"wrote {report['transcript_view']}'s view of the transcript to {report['transcript']}"
        )
    return "\n".join(lines)
