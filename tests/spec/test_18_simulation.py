"""Section 18: the training simulation (spec/18-simulation.md)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml import modes
from sbrml.cli import main
from sbrml.rulespec import build_rule
from sbrml.simulation import Config, ConfigError, run
from sbrml.simulation.train import SimulationError, check_secure, dirichlet_split


@pytest.mark.spec("C18.1")
@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"n": 4, "f": 4}, "f < n"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": float("inf")}, "finite real"),
        ({"lr": float("nan")}, "lr"),
        ({"n": 5000, "f": 1, "rule": "mean"}, "training examples"),
        ({"mode": "quantum"}, "plaintext, secure, paillier, masks"),
        ({"attack": "nope"}, "sign-flip"),
        ({"rule": "krum", "n": 5, "f": 2}, "n > 2f + 2"),
        ({"rule": "nnm+median", "mode": "secure"}, "does not run on shares"),
        ({"rule": "krum", "mode": "paillier"}, "mean"),
        ({"epsilon": -1.0}, "epsilon"),
        ({"momentum": 1.0}, "momentum"),
        ({"rounds": 0}, "rounds"),
        ({"rule": "mean", "mode": "masks", "n": 1, "f": 0}, "at least 2 workers"),
    ],
)
def test_bad_configurations_fail_first(kw: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        Config(**kw).validate()  # type: ignore[arg-type]
    assert message in str(info.value)


@pytest.mark.spec("D18.3")
def test_dirichlet_split_covers_every_example_once() -> None:
    y = np.repeat(np.arange(10), 30)
    parts = dirichlet_split(y, 7, 0.1, np.random.default_rng(0))
    joined = np.sort(np.concatenate(parts))
    assert np.array_equal(joined, np.arange(300)) and all(len(p) >= 1 for p in parts)


@pytest.mark.spec("D18.2", "C18.3")
@pytest.mark.parametrize("mode", ["plaintext", "secure"])
def test_short_run_learns(mode: str) -> None:
    result = run(Config(rule="nnm+krum", attack="alie", mode=mode, rounds=12))
    assert len(result.accuracy) == 12 and result.accuracy[-1] > max(0.3, 2 * result.accuracy[0])
    assert (sum(result.bytes) > 0) == (mode == "secure")


@pytest.mark.spec("C18.3")
def test_secure_equals_plaintext_every_round() -> None:
    plain = run(Config(rule="krum", attack="sign-flip", mode="plaintext", rounds=5))
    secure = run(Config(rule="krum", attack="sign-flip", mode="secure", rounds=5))
    assert np.allclose(plain.accuracy, secure.accuracy, atol=0.02)


@pytest.mark.spec("C18.3")
def test_a_mismatch_stops_the_run() -> None:
    import sbrml.optimized as opt

    x = np.random.default_rng(0).standard_normal((6, 4))
    result = modes.secure(x, opt.Krum(1), rng=opt.DeterministicRandomSource(1))
    check_secure(result, x, "krum", 1, None)
    result.aggregate = result.aggregate + 1e-3  # a corrupted aggregate
    with pytest.raises(SimulationError):
        check_secure(result, x, "krum", 1, None)


def test_paillier_mode_matches_the_mean() -> None:
    plain = run(Config(rule="mean", attack=None, mode="plaintext", rounds=3))
    he = run(Config(rule="mean", attack=None, mode="paillier", rounds=3))
    assert np.allclose(plain.accuracy, he.accuracy, atol=0.02) and he.bytes[0] > 0


@pytest.mark.spec("C18.5", "C18.1")
def test_masks_mode_matches_the_mean() -> None:
    plain = run(Config(rule="mean", attack="alie", mode="plaintext", rounds=3))
    masked = run(Config(rule="mean", attack="alie", mode="masks", rounds=3))
    assert np.allclose(plain.accuracy, masked.accuracy, atol=0.02) and masked.bytes[0] > 0
    with pytest.raises(ConfigError, match="mean"):
        Config(rule="krum", mode="masks").validate()


@pytest.mark.spec("C18.5")
def test_masks_check_catches_a_wrong_mean() -> None:
    from sbrml.simulation.train import check_masks

    x = np.linspace(-1, 1, 40).reshape(4, 10)
    check_masks(x.mean(axis=0) + 2.0**-18, x)
    with pytest.raises(SimulationError, match=r"C18\.5"):
        check_masks(x.mean(axis=0) + 2.0**-16, x)


@pytest.mark.spec("C18.4")
def test_dp_run_records_sigma_and_epsilon() -> None:
    result = run(Config(rule="mean", attack=None, epsilon=2.0, rounds=4))
    assert result.sigma is not None and result.epsilon_spent is not None
    assert result.epsilon_spent <= 2.0 * (1 + 1e-9)


@pytest.mark.spec("D18.5", "D18.4")
def test_simulate_command_writes_the_outputs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "sim"
    assert (
        main(
            [
                "simulate",
                "--out",
                str(out),
                "--rules",
                "mean,krum",
                "--attacks",
                "none,alie",
                "--rounds",
                "3",
            ]
        )
        == 0
    )
    data = json.loads((out / "results.json").read_text())
    assert len(data["runs"]) == 4 and len(data["runs"][0]["accuracy"]) == 3
    with open(out / "results.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["rule"] for r in rows] == [
        "mean",
        "mean",
        "krum",
        "krum",
    ] and "final_accuracy" in rows[0]
    assert (out / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "final acc" in capsys.readouterr().out
    assert main(["simulate", "--out", str(out), "--modes", "quantum"]) == 2


@pytest.mark.spec("D16.9")
def test_label_flipping() -> None:
    from sbrml.simulation.train import flip_labels

    assert flip_labels(np.array([0, 3, 9])).tolist() == [9, 6, 0]
    flipped = run(Config(rule="mean", attack="label-flip", rounds=8, f=4))
    clean = run(Config(rule="mean", attack=None, rounds=8))
    assert len(flipped.accuracy) == 8 and flipped.accuracy[-1] < clean.accuracy[-1]


@pytest.mark.spec("D18.2")
def test_model_gradients_match_finite_differences() -> None:
    from sbrml.simulation.models import MODELS

    gen = np.random.default_rng(0)
    x = gen.random((3, 64))
    y = np.array([1, 4, 7])
    for model in MODELS.values():
        theta = model.init(gen) + 0.01 * gen.standard_normal(model.dim)
        grad = model.per_example_grads(theta, x, y).mean(axis=0)

        def loss(t: np.ndarray, model: object = model) -> float:
            p = model.probabilities(t, x)  # type: ignore[attr-defined]
            return float(-np.log(p[np.arange(3), y]).mean())

        for i in (0, 100, model.dim - 7, model.dim - 1):
            step = np.zeros(model.dim)
            step[i] = 1e-6
            assert (loss(theta + step) - loss(theta - step)) / 2e-6 == pytest.approx(
                grad[i], abs=1e-6
            )


def test_mlp_run_learns() -> None:
    result = run(Config(rule="krum", attack="alie", model="mlp", rounds=25))
    assert result.accuracy[-1] > 0.5
    with pytest.raises(ConfigError):
        Config(model="transformer").validate()


@pytest.mark.spec("C18.1")
def test_grid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    grid = tmp_path / "grid.toml"
    grid.write_text(
        'rules = ["mean", "krum"]\nattacks = ["none"]\nepsilons = ["none", 4.0]\nrounds = 2\n'
    )
    out = tmp_path / "g"
    assert main(["simulate", "--out", str(out), "--grid", str(grid)]) == 0
    runs = json.loads((out / "results.json").read_text())["runs"]
    assert [(r["config"]["rule"], r["config"]["epsilon"]) for r in runs] == [
        ("mean", None),
        ("mean", 4.0),
        ("krum", None),
        ("krum", 4.0),
    ]
    capsys.readouterr()
    for text, message in (
        ("rules = [", "not a readable TOML file"),
        ("colour = 1", "unknown keys"),
        ("rules = []", "non-empty list"),
        ('modes = ["warp"]', "unknown mode"),
    ):
        grid.write_text(text)
        assert main(["simulate", "--out", str(out), "--grid", str(grid)]) == 2
        assert message in capsys.readouterr().err


@pytest.mark.spec("C18.4")
def test_sigma_reports_epsilon() -> None:
    from sbrml.privacy import epsilon

    result = run(Config(rule="mean", attack=None, sigma=2.0, rounds=3))
    assert result.sigma == 2.0 and result.epsilon_spent is not None and result.epsilon_spent > 0
    with pytest.raises(ConfigError):
        Config(sigma=1.0, epsilon=1.0).validate()
    with pytest.raises(ConfigError):
        Config(sigma=0.0).validate()
    assert epsilon(2.0, 1e-5, 1.0, 3) >= result.epsilon_spent  # subsampling only lowers it


@pytest.mark.spec("C18.1", "D18.6")
@pytest.mark.parametrize("line", ["rules = [1]", 'rules = [["krum"]]', "epsilons = [true]"])
def test_grid_values_of_the_wrong_type_are_the_files_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], line: str
) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text(line + "\n", encoding="utf-8")
    assert main(["simulate", "--out", str(tmp_path / "out"), "--grid", str(grid)]) == 2
    assert "must hold" in capsys.readouterr().err


@pytest.mark.spec("C18.3", "C22.1")
def test_secure_coordinatewise_rules_are_checked_every_round() -> None:
    # Since spec 0.6 the coordinate-wise rules run securely (P22.2); each round's output is
    # compared with the plaintext rule on the decoded inputs (C18.3), which a wrong output
    # fails.
    for rule in ("median", "meamed"):
        result = run(Config(rule=rule, attack="alie", mode="secure", rounds=2, seed=3))
        assert len(result.accuracy) == 2
    x = np.random.default_rng(0).normal(size=(7, 5))
    for rule in ("median", "trimmed-mean", "meamed"):
        good = modes.secure(x, build_rule(opt, rule, 2), rng=opt.DeterministicRandomSource(1))
        check_secure(good, x, rule, 2, None)
        good.aggregate[3] += 2.0**-16
        with pytest.raises(SimulationError, match=r"C22\.1"):
            check_secure(good, x, rule, 2, None)


@pytest.mark.spec("C18.3", "C8.5")
def test_secure_mode_checks_weights_on_the_workers_kept() -> None:
    # The Gaussian attack (sigma 200) leaves the coordinate bound at the MLP's d = 2410
    # (C8.13), so its workers are refused; the oracle runs on V (it used to run on all n rows
    # and stop the run). Plaintext mode drops the same rows (D18.2), so both run one experiment.
    secure = run(
        Config(rule="multikrum", attack="gaussian", mode="secure", model="mlp", rounds=1, seed=2)
    )
    plain = run(
        Config(rule="multikrum", attack="gaussian", mode="plaintext", model="mlp", rounds=1, seed=2)
    )
    assert len(secure.accuracy) == len(plain.accuracy) == 1
    assert abs(secure.accuracy[0] - plain.accuracy[0]) < 0.05
