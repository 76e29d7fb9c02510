"""``make demo``: one secure round next to the plaintext rules, n = 9, f = 2, two attackers.

Seven honest workers send noisy copies of a common update; worker 7 sends the sign-flipped,
scaled honest mean and worker 8 large Gaussian noise. The table shows what each aggregate
costs (bytes, seconds) and how far it lands from the honest mean, ending with the non-robust
baseline: the mean through pairwise-mask secure aggregation. The synthetic updates come
from a seeded NumPy generator (they are public demo data, not secrets); every protocol draw
comes from the OS CSPRNG through SystemRandomSource.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
from sbrml import modes
from sbrml.core.channel import Message
from sbrml.core.round import PHASES, describe_excluded
from sbrml.tables import format_table, human_bytes

N, F = 9, 2
# The demo's rounds run distance rules with leakage "distances": no comparison of scores.
DEMO_PHASES = tuple(p for p in PHASES if p != "compare")
ATTACKERS = {7: "sign flip x4 of the honest mean", 8: "Gaussian noise, sigma 5"}


def demo_updates(dim: int, seed: int) -> NDArray[np.float64]:
    """Seven honest updates around a common direction, then the two attackers' vectors."""
    gen = np.random.default_rng(seed)  # public synthetic data, not protocol randomness
    direction = gen.standard_normal(dim)
    honest = direction + 0.5 * gen.standard_normal((N - 2, dim))
    sign_flip = -4.0 * honest.mean(axis=0)
    # sigma 5 keeps every coordinate inside the round's bound (|x_k| < 64 at d = 100,000,
    # C8.13), so the attacker's row reaches the rule rather than being refused by its encoder.
    noise = 5.0 * gen.standard_normal(dim)
    return np.vstack([honest, sign_flip, noise])


def _malformed_w8(messages: list[Message]) -> list[Message]:
    # Worker 8 sends S1 a truncated share: the servers exclude it and the round goes on.
    return [
        Message(m.sender, m.receiver, m.label, bytes(m.payload)[:-8])
        if (m.sender, m.receiver) == ("W8", "S1")
        else m
        for m in messages
    ]


def run_demo(dim: int = 100_000, seed: int = 1, *, show_progress: bool = False) -> str:
    """Run the demo and return its report as text; ``show_progress`` counts its seven
    aggregations on stderr (``sbrml demo`` turns it on for a terminal)."""
    from sbrml.cli.progress import bar

    if dim < 1:
        raise ValueError(f"demo: --dim must be >= 1; got {dim}")
    steps = bar(7, f"sbrml demo, d={dim:,}", show=show_progress)
    x = demo_updates(dim, seed)
    honest_mean = x[: N - 2].mean(axis=0)
    rows: list[list[Any]] = []
    phases: list[list[Any]] = []
    links: list[list[Any]] = []

    def dist(z: NDArray[np.float64]) -> float:
        return float(np.linalg.norm(z - honest_mean))

    mean = modes.plaintext(x, opt.Mean(0))
    z_mean = mean.aggregate
    rows.append(
        [
            "mean (no defence)",
            "plaintext",
            "all 9",
            dist(z_mean),
            "",
            0,
            mean.seconds["plaintext"],
            "",
        ]
    )
    plain: dict[str, NDArray[np.float64]] = {}
    for name, rule in (("krum", opt.Krum(F)), ("multikrum", opt.MultiKrum(F))):
        clear = modes.plaintext(x, rule)
        plain[name] = clear.aggregate
        chosen = np.flatnonzero(rule.weights(opt.sq_distances(x))).tolist()
        rows.append(
            [
                name,
                "plaintext",
                str(chosen),
                dist(clear.aggregate),
                "",
                0,
                clear.seconds["plaintext"],
                "",
            ]
        )
        steps.update(1)
    runs = [
        ("krum", "gram", None),
        ("multikrum", "gram", None),
        ("multikrum", "pairwise", None),
        ("krum", "gram", _malformed_w8),
    ]
    for name, variant, tamper in runs:
        rule = opt.Krum(F) if name == "krum" else opt.MultiKrum(F)
        result = modes.secure(x, rule, rng=opt.SystemRandomSource(), variant=variant, tamper=tamper)
        online = modes.online_seconds(result)
        label = f"secure/{variant}" + (" W8 malformed" if tamper else "")
        chosen = np.flatnonzero(np.asarray(result.weights) > 0).tolist()
        gap = float(np.max(np.abs(result.aggregate - plain[name]))) if tamper is None else ""
        rows.append(
            [
                name,
                label,
                str(chosen),
                dist(result.aggregate),
                gap,
                modes.total_bytes(result),
                online,
                sum(v for k, v in result.seconds.items() if k.startswith("offline")),
            ]
        )
        phases.append(
            [
                f"{name} {label}",
                *(result.seconds.get(k, 0.0) for k in DEMO_PHASES),
                online,
            ]
        )
        by_link = result.bytes
        workers_to = {
            s: sum(v for k, v in by_link.items() if k.startswith("W") and k.endswith(s))
            for s in ("S0", "S1")
        }
        links.append(
            [
                f"{name} {label}",
                human_bytes(workers_to["S0"]),
                human_bytes(workers_to["S1"]),
                human_bytes(by_link.get("dealer->S0", 0) + by_link.get("dealer->S1", 0)),
                human_bytes(by_link.get("S0->S1", 0)),
                human_bytes(by_link.get("S1->S0", 0)),
            ]
        )
        if tamper:
            excluded = describe_excluded(result.excluded)
        steps.update(1)
    # The non-robust baseline: pairwise-mask secure aggregation (spec section 20) hides each
    # update from its one server just as well, and averages the attackers in.
    masked = modes.masks(x, threshold=N // 2 + 1, rng=opt.SystemRandomSource())
    steps.update(1)
    steps.close()
    rows.append(
        [
            "mean",
            "masks (1 server)",
            f"all {len(masked.valid)}",
            dist(masked.aggregate),
            float(np.max(np.abs(masked.aggregate - z_mean))),
            modes.total_bytes(masked),
            sum(masked.seconds.values()),
            "",
        ]
    )
    out = [
        f"sbrml demo: n={N} workers, f={F}, d={dim:,}; attackers: "
        + "; ".join(f"W{i} {a}" for i, a in ATTACKERS.items()),
        "",
        format_table(
            [
                "aggregate",
                "mode",
                "selected",
                "||z - honest mean||",
                "max|secure - plain|",
                "bytes",
                "online s",
                "offline s",
            ],
            rows,
        ),
        "",
        format_table(
            ["secure run", *DEMO_PHASES, "online total"],
            phases,
            title="Seconds per phase (one process plays every party)",
        ),
        "",
        format_table(
            ["secure run", "workers->S0", "workers->S1", "dealer->S0+S1", "S0->S1", "S1->S0"],
            links,
            title="Bytes per link",
        ),
        "",
        f"Excluded in the malformed-share run: {excluded}",
        "Secure outputs differ from the plaintext rule only by fixed-point rounding (spec C8.5).",
    ]
    return "\n".join(out)
