"""C18.6: the simulation figure shows every run (spec/18-simulation.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pytest

from sbrml.simulation.config import Config
from sbrml.simulation.figure import COLOURS, curves, plot, setting


@dataclass
class Run:
    config: Config
    accuracy: list[float] = field(default_factory=list)


def _sweep() -> list[Run]:
    # The default sweep's shape (D18.4): three runs of the mean coincide, as does a secure run
    # with its plaintext twin.
    same = [0.1, 0.5, 0.8, 0.9]
    return [
        Run(Config(rule="mean", attack=None), same),
        Run(Config(rule="krum", attack=None), [0.1, 0.4, 0.7, 0.85]),
        Run(Config(rule="mean", attack=None, mode="paillier"), list(same)),
        Run(Config(rule="mean", attack=None, mode="masks"), [v + 1e-12 for v in same]),
        Run(Config(rule="nnm+krum", attack="alie"), [0.1, 0.3, 0.6, 0.7]),
        Run(Config(rule="nnm+krum", attack="alie", mode="secure"), [0.1, 0.3, 0.6, 0.7]),
        Run(Config(rule="mean", attack="alie"), [0.1, 0.2, 0.2, 0.1]),
        Run(Config(rule="mean", attack=None, epsilon=4.0), [0.1, 0.3, 0.5, 0.6]),
    ]


@pytest.mark.spec("C18.6")
def test_every_run_is_drawn_and_twins_are_labelled() -> None:
    drawn = curves(_sweep())
    assert len(drawn) == 8
    assert [c.panel for c in drawn] == ["no attack"] * 4 + ["alie"] * 3 + ["no attack"]
    twins = {c.label: c.identical_to for c in drawn if c.identical_to}
    assert twins == {
        "mean (paillier)": "mean (plaintext)",
        "mean (masks)": "mean (plaintext)",
        "nnm+krum (secure)": "nnm+krum (plaintext)",
    }
    # One colour per rule, the same in every panel; different rules, different colours.
    by_rule: dict[str, set[str]] = {}
    for run, c in zip(_sweep(), drawn, strict=True):
        by_rule.setdefault(run.config.rule, set()).add(c.colour)
    assert all(len(colours) == 1 for colours in by_rule.values())
    assert len({next(iter(v)) for v in by_rule.values()}) == len(by_rule)
    assert len(set(COLOURS)) == len(COLOURS)
    assert "eps=4" in drawn[-1].label and drawn[-1].identical_to is None
    assert drawn[-1].linestyle != drawn[0].linestyle  # DP run vs its non-DP twin


@pytest.mark.spec("C18.6")
def test_the_setting_is_in_the_title(tmp_path: Path) -> None:
    runs = _sweep()
    assert setting(runs) == "n=10, f=2, α=1.0, rounds=40, model=logreg, seed=0"
    runs.append(Run(Config(rule="krum", attack="alie", n=12, f=3), [0.1, 0.2, 0.3, 0.4]))
    assert setting(runs).startswith("n=10/12, f=2/3,")
    plot(runs, tmp_path / "accuracy.png")
    assert (tmp_path / "accuracy.png").stat().st_size > 10_000
