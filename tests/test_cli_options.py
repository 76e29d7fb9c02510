"""Options of ``sbrml aggregate`` and ``sbrml simulate`` (issue 13, items 10, 16, 19, 20):
an option that does not apply is an error, messages name what was given, plaintext screens
rows as the secure round does, and the report gives the effective values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import SpecError
from tests.helpers.cli import N, run_error, run_json, write_input


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    return write_input(tmp_path / "x.npy")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--rule", "krum", "-f", "2", "--threshold", "5"],
            "--threshold applies only to --protocol masks, not to the two-server round",
        ),
        (
            ["--rule", "krum", "-f", "2", "--dropout", "1:input"],
            "--dropout applies only to --protocol masks",
        ),
        (
            ["--rule", "krum", "-f", "2", "--plaintext", "--variant", "pairwise"],
            "--variant applies only to the secure two-server round, not to --plaintext",
        ),
        (
            ["--rule", "krum", "-f", "2", "--plaintext", "--triples", "dealer"],
            "--triples applies only to the secure two-server round, not to --plaintext",
        ),
        (
            ["--rule", "krum", "-f", "2", "--paillier-bits", "3072"],
            "--paillier-bits applies only to --triples paillier, not to --triples dealer",
        ),
        (
            ["--protocol", "masks", "--paillier-bits", "3072"],
            "--paillier-bits applies only to --triples paillier, not to --protocol masks",
        ),
        (
            ["--protocol", "masks", "--variant", "pairwise"],
            "--variant applies only to the secure two-server round, not to --protocol masks",
        ),
        (["--protocol", "masks", "--nu", "0.1"], "--nu: rule hyperparameters do not apply"),
        (["--rule", "krum", "-f", "2", "--transcript-view", "S0"], "only with --transcript"),
    ],
)
def test_options_that_do_not_apply_are_errors(
    input_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    err = run_error(["aggregate", str(input_file), *args], capsys)
    assert message in err and "None" not in err and "[" not in err


def test_options_that_apply_still_run(input_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--rule", "krum", "-f", "2", "--triples", "dealer", "--variant", "pairwise"]
    report = run_json(["aggregate", str(input_file), *args, "--json"], capsys)
    assert (report["triples"], report["variant"]) == ("dealer", "pairwise")
    plain = run_json(
        ["aggregate", str(input_file), "--rule", "krum", "-f", "2", "--plaintext", "--json"], capsys
    )
    assert (plain["triples"], plain["variant"], plain["paillier_obfuscators"]) == (None, None, None)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "masks", "-f", "2"], "drop -f 2 (or use the two-server round)"),
        (["--protocol", "masks", "--rule", "krum"], "drop --rule krum (or"),
        (["--protocol", "masks", "--rule", "krum", "-f", "2"], "drop --rule krum and -f 2"),
    ],
)
def test_masks_messages_name_only_what_was_given(
    input_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    err = run_error(["aggregate", str(input_file), *args], capsys)
    assert message in err and "None" not in err


def test_bucketing_message_names_the_buckets(
    input_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    err = run_error(["aggregate", str(input_file), "--rule", "bucketing+krum", "-f", "2"], capsys)
    assert "bucketing (s=2) turns 9 rows into 5" in err and "(C6.3)" in err
    assert "got n=5 for krum from 9 rows" in err


@pytest.mark.parametrize("mode", [[], ["--plaintext"]])
@pytest.mark.parametrize("rule", ["mean", "bucketing+mean"])
def test_the_mean_needs_no_f(
    input_file: Path, capsys: pytest.CaptureFixture[str], mode: list[str], rule: str
) -> None:
    report = run_json(["aggregate", str(input_file), "--rule", rule, *mode, "--json"], capsys)
    assert report["f"] == 0
    weights = report["weights"]
    assert isinstance(weights, list) and sum(weights) == pytest.approx(1.0)


def test_rules_that_use_f_say_so(input_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    err = run_error(["aggregate", str(input_file), "--rule", "nnm+mean", "--plaintext"], capsys)
    assert "--rule nnm+mean needs -f F" in err
    err = run_error(["aggregate", str(input_file), "--rule", "krumm"], capsys)
    assert "unknown rule 'krumm'" in err


@pytest.mark.parametrize(
    ("rule", "f", "m"),
    [("multikrum", 2, N - 2), ("bucketing+multikrum", 1, 5 - 1), ("krum", 2, None)],
)
@pytest.mark.parametrize("mode", [[], ["--plaintext"]])
def test_effective_m_is_reported(
    input_file: Path,
    capsys: pytest.CaptureFixture[str],
    rule: str,
    f: int,
    m: int | None,
    mode: list[str],
) -> None:
    args = ["aggregate", str(input_file), "--rule", rule, "-f", str(f), *mode, "--json"]
    assert run_json(args, capsys)["m"] == m


@pytest.mark.spec("C0.1", "C8.2", "C8.3")
@pytest.mark.parametrize("impl", ["optimized", "reference"])
@pytest.mark.parametrize(("value", "clause"), [(np.nan, "C1.1"), (1e10, "C8.2")])
def test_plaintext_excludes_bad_rows_as_the_secure_round_does(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], impl: str, value: float, clause: str
) -> None:
    x = np.random.default_rng(1).standard_normal((8, 5))
    x[3, 2] = value
    path = tmp_path / "x.npy"
    np.save(path, x)
    args = ["aggregate", str(path), "--rule", "multikrum", "-f", "2", "--impl", impl, "--json"]
    plain = run_json([*args, "--plaintext"], capsys)
    secure = run_json(args, capsys)
    assert plain["valid"] == secure["valid"] == [0, 1, 2, 4, 5, 6, 7]
    workers = [e["worker"] for e in plain["excluded"]]
    assert workers == [e["worker"] for e in secure["excluded"]] == [3]
    reason = plain["excluded"][0]["reason"]
    # The same words, without "before sharing": nothing is shared in plaintext mode.
    assert reason == secure["excluded"][0]["reason"].replace(" before sharing", "")
    assert reason.startswith("W3: input rejected: ") and f"({clause})" in reason
    assert "nan" not in reason and "1e+10" not in reason and "10000000000" not in reason
    weights = plain["weights"]
    assert isinstance(weights, list) and weights[3] == 0 and sum(weights) == pytest.approx(1)
    assert plain["m"] == 7 - 2
    kept = np.delete(x, 3, axis=0)
    assert np.allclose(np.asarray(weights) @ np.nan_to_num(x, nan=0.0), opt.MultiKrum(2)(kept))


def test_plaintext_screens_rules_without_a_distance_form(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(2).standard_normal((8, 5))
    x[6, 0] = np.inf
    path = tmp_path / "x.npy"
    np.save(path, x)
    report = run_json(
        ["aggregate", str(path), "--rule", "median", "-f", "2", "--plaintext", "--json"], capsys
    )
    assert report["valid"] == [0, 1, 2, 3, 4, 5, 7] and report["weights"] is None


@pytest.mark.spec("C8.4")
def test_plaintext_with_too_few_valid_rows_names_workers_not_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(3).standard_normal((7, 4))
    x[1, 1] = 3.3e15
    x[5, 0] = np.nan
    path = tmp_path / "x.npy"
    np.save(path, x)
    err = run_error(["aggregate", str(path), "--rule", "krum", "-f", "2", "--plaintext"], capsys)
    assert "(C8.4)" in err and "5 valid of n=7" in err
    assert (
        "excluded: W1: input rejected: encode: need -2^63 <= round(v * 2^16) < 2^63 (C1.2)" in err
    )
    assert "; W5: input rejected: encode: need a finite value (C1.1)" in err
    assert "3.3" not in err and "nan" not in err


@pytest.mark.parametrize("tree", [ref, opt], ids=["reference", "optimized"])
def test_a_bare_rule_call_still_raises(tree: object) -> None:
    x = np.zeros((9, 3))
    x[3, 1] = np.nan
    data = x if tree is opt else x.tolist()
    for rule in (tree.Krum(2), tree.Mean(0), tree.CoordinateMedian(2)):  # type: ignore[attr-defined]
        with pytest.raises(SpecError):
            rule(data)


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("sbrml.simulation.run", refuse)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("grid", "args", "message"),
    [
        ('rules = ["mean"]\n', ["--rules", "krum"], "--rules does not combine with --grid"),
        ('rules = ["mean"]\n', ["--epsilon", "2"], "--epsilon does not combine with --grid"),
        ('rules = ["mean"]\n', ["--sigma", "2"], "--sigma does not combine with --grid"),
        ("rounds = 2\n", ["--rounds", "5"], "--rounds 5 and rounds = 2 in --grid"),
        ("n = 12\n", ["-n", "10"], "-n 10 and n = 12 in --grid"),
        ('models = ["mlp"]\n', ["--model", "logreg"], "--model logreg and models = ['mlp']"),
        ('rules = ["mean"]\n', ["--delta", "1e-6"], "--delta applies only to runs with"),
    ],
)
def test_simulate_grid_and_options_do_not_override_each_other(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], grid: str, args: list[str], message: str
) -> None:
    path = tmp_path / "grid.toml"
    path.write_text(grid)
    err = run_error(["simulate", "--out", str(tmp_path / "o"), "--grid", str(path), *args], capsys)
    assert message in err


@pytest.mark.usefixtures("no_training")
def test_simulate_delta_without_dp_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--out", str(tmp_path / "o"), "--rules", "mean", "--delta", "1e-6"]
    assert "--delta applies only" in run_error(args, capsys)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rules", "nope"], "unknown rule 'nope'"),
        (["--modes", "warp"], "unknown mode 'warp'"),
        (["--rules", "bucketing+krum", "-f", "3"], "bucketing (s=2) turns 10 rows into 5"),
    ],
)
def test_simulate_errors_end_with_their_own_subject(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    err = run_error(["simulate", "--out", str(tmp_path / "o"), *args], capsys)
    assert message in err and "modes: plaintext, secure" not in err


def test_simulate_options_given_once_still_apply(tmp_path: Path) -> None:
    from sbrml.cli.parser import build_parser
    from sbrml.cli.simulate import simulate_configs

    grid = tmp_path / "grid.toml"
    grid.write_text('rules = ["mean", "krum"]\nrounds = 2\n')
    args = build_parser().parse_args(
        ["simulate", "--out", "o", "--grid", str(grid), "-n", "12", "--seed", "4"]
    )
    configs = simulate_configs(args)
    assert [(c.rule, c.n, c.rounds, c.seed) for c in configs] == [
        ("mean", 12, 2, 4),
        ("krum", 12, 2, 4),
    ]


@pytest.mark.spec("C8.13", "C8.6")
def test_frac_bits_trades_precision_for_range(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # d = 1000: b(d) = 26, so a coordinate of 2048 needs F <= 14 (C8.13).
    x = np.random.default_rng(0).normal(size=(9, 1000))
    x[3, 0] = 2048.0
    path = tmp_path / "x.npy"
    np.save(path, x)
    base = ["aggregate", str(path), "--rule", "median", "-f", "2", "--json", "--seed", "1"]
    report = run_json(base, capsys)
    assert report["frac_bits"] == 16 and 3 not in report["valid"]
    assert "C8.13" in report["excluded"][0]["reason"]
    report = run_json([*base, "--frac-bits", "14"], capsys)
    assert report["frac_bits"] == 14 and report["valid"] == list(range(9))
    assert run_json([*base, "--plaintext", "--frac-bits", "14"], capsys)["valid"] == list(range(9))
