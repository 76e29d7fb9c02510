"""The simulation's figure, accuracy.png (spec/18-simulation.md, D18.5 and C18.6).

One panel per attack; in a panel, one colour per rule (the same colour in every panel) and one
line style per mode (DP runs dash-dot-dot). A curve that coincides with one drawn before it
(the mean in plaintext, Paillier and masks mode is the same mean) is labelled "identical to
…" and drawn as markers offset along the curve, so every run stays visible. The setting
(n, f, alpha, rounds, model, seed) is in the title.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

# Okabe-Ito's colour-blind-safe palette, then three more distinct hues: rules in a sweep are
# few, and each pair must stay apart in print and for colour-blind readers.
COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#F0E442",
    "#882255",
    "#44AA99",
    "#999933",
)
LINESTYLES = {"plaintext": "-", "secure": "--", "paillier": ":", "masks": "-."}
# Runs with DP noise: dash-dot-dot, whatever the mode, so they never look like their twin.
DP_LINESTYLE = (0, (6, 2, 1, 2, 1, 2))
MARKERS = ("o", "s", "^", "D", "v", "P")
# Two accuracy curves closer than this in every round are drawn as one (C18.6).
COINCIDE = 1e-9


@dataclass
class Curve:
    """One run as drawn: its panel, label, colour, line style, and the run it coincides with."""

    panel: str
    label: str
    colour: str
    linestyle: Any
    accuracy: list[float]
    identical_to: str | None = None


def _attack(run: Any) -> str:
    return str(run.config.attack or "no attack")


def _curve_label(run: Any) -> str:
    c = run.config
    dp = "" if c.epsilon is None else f", eps={c.epsilon:g}"
    dp += "" if c.sigma is None else f", sigma={c.sigma:g}"
    model = "" if c.model == "logreg" else f", {c.model}"
    return f"{c.rule} ({c.mode}{dp}{model})"


def curves(results: Sequence[Any]) -> list[Curve]:
    """Implements C18.6: every run once, in its attack's panel, coinciding runs labelled."""
    rules = sorted({r.config.rule for r in results}, key=[r.config.rule for r in results].index)
    colour = {rule: COLOURS[k % len(COLOURS)] for k, rule in enumerate(rules)}
    drawn: list[Curve] = []
    for run in results:
        curve = Curve(
            panel=_attack(run),
            label=_curve_label(run),
            colour=colour[run.config.rule],
            linestyle=(
                DP_LINESTYLE
                if run.config.epsilon is not None or run.config.sigma is not None
                else LINESTYLES.get(run.config.mode, "-")
            ),
            accuracy=[float(a) for a in run.accuracy],
        )
        for earlier in drawn:
            if (
                earlier.panel == curve.panel
                and earlier.identical_to is None
                and len(earlier.accuracy) == len(curve.accuracy)
                and np.allclose(earlier.accuracy, curve.accuracy, rtol=0, atol=COINCIDE)
            ):
                curve.identical_to = earlier.label
                break
        drawn.append(curve)
    return drawn


def setting(results: Sequence[Any]) -> str:
    """The runs' common setting for the title; a field that varies lists its values."""
    parts = []
    for name, show in (
        ("n", "n"),
        ("f", "f"),
        ("alpha", "α"),
        ("rounds", "rounds"),
        ("model", "model"),
        ("seed", "seed"),
    ):
        values = sorted({str(getattr(r.config, name)) for r in results})
        parts.append(f"{show}={'/'.join(values)}")
    return ", ".join(parts)


def plot(results: Sequence[Any], path: Path) -> None:
    """D18.5: test accuracy over rounds, one panel per attack, every run visible (C18.6)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    drawn = curves(results)
    panels = list(dict.fromkeys(c.panel for c in drawn))
    columns = min(3, len(panels))
    rows = -(-len(panels) // columns)
    fig, axes = plt.subplots(
        rows, columns, figsize=(5.2 * columns, 5.6 * rows + 0.6), squeeze=False, sharey=True
    )
    for ax, panel in zip(axes.flat, panels, strict=False):
        twins = 0
        for c in (c for c in drawn if c.panel == panel):
            x = np.arange(1, len(c.accuracy) + 1)
            if c.identical_to is None:
                ax.plot(x, c.accuracy, label=c.label, color=c.colour, linestyle=c.linestyle)
            else:
                # Markers offset along the shared line, so the twin is seen, not hidden.
                step = max(1, len(x) // 8)
                ax.plot(
                    x,
                    c.accuracy,
                    label=f"{c.label} = {c.identical_to}",
                    color=c.colour,
                    linestyle="none",
                    marker=MARKERS[twins % len(MARKERS)],
                    markersize=4,
                    markevery=(twins * step // 3 % step, step),
                )
                twins += 1
        ax.set_title(panel)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # rounds are whole numbers
        ax.set_ylim(0, 1)
        ax.grid(alpha=0.3)
        # Below the panel, so the legend never covers a curve.
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("test accuracy")
    # Two lines, so a one-panel figure keeps its whole title.
    fig.suptitle(f"Robust D-SGD on digits, test accuracy per round\n{setting(results)}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
