"""The command line after a second review (issue 13, items 13-21), part two: kappa lists
every requested rule, and messages say one thing once and the same way in every mode
(exclusions, the seed, empty paths, rule specs, headers, standard output as an output)."""

from __future__ import annotations

import json
import struct
import subprocess
from pathlib import Path

import numpy as np
import pytest

from sbrml.cli import main
from tests.helpers.cli import (
    SIMULATE_SMALL,
    refuse_work,
    run_error,
    run_json,
    run_out,
    run_with_stdout,
    write_input,
)


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any round, rule search or training run that starts fails the test."""
    refuse_work(monkeypatch)


def test_a_listed_rule_that_cannot_run_is_listed_with_its_reason(
    capsys: pytest.CaptureFixture[str],
) -> None:
    args = ["kappa", "--rule", "krum,bulyan", "-n", "7", "-f", "2", "--restarts", "1"]
    rows = [json.loads(line) for line in run_out([*args, "--steps", "2", "--json"], capsys)]
    assert [(r["rule"], r["ran"]) for r in rows] == [("krum", True), ("bulyan", False)]
    assert rows[1]["reason"] == "not applicable at n=7, f=2: needs n >= 4f + 3 (C9.4)"
    table = run_out([*args, "--steps", "2"], capsys)
    assert table[-1] == "not applicable at this n, f: bulyan (n >= 4f + 3 (C9.4))"


@pytest.mark.parametrize(
    ("rules", "message"),
    [
        (
            "bulyan",
            "kappa: no requested rule can run at n=7, f=2: bulyan: n: need n >= 4f + 3 (C9.4); "
            "got n=7, f=2\n",
        ),
        ("krum,nope", "kappa: --rule krum,nope: unknown rule 'nope'; choose one of"),
    ],
)
def test_kappa_errors_name_each_rule_once(
    capsys: pytest.CaptureFixture[str], rules: str, message: str
) -> None:
    err = run_error(["kappa", "--rule", rules, "-n", "7", "-f", "2", "--steps", "1"], capsys)
    assert err.startswith(f"sbrml: error: {message}")
    assert "bulyan: bulyan" not in err and "kappa: nope:" not in err


def test_kappa_help_says_json_is_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["kappa", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert (
        "--json print JSON Lines instead of a table: one JSON object per requested rule, " in text
    )
    assert "one per line" in text


@pytest.fixture
def bad_rows(tmp_path: Path) -> Path:
    """Nine rows; W2 holds a NaN."""
    x = np.random.default_rng(4).standard_normal((9, 3))
    x[2, 1] = np.nan
    path = tmp_path / "bad.npy"
    np.save(path, x)
    return path


@pytest.mark.spec("C0.1")
def test_plaintext_reasons_say_nothing_about_sharing(
    bad_rows: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["aggregate", str(bad_rows), "--rule", "krum", "-f", "2", "--plaintext"]
    report = run_json([*args, "--json"], capsys)
    reason = "W2: input rejected: encode: need a finite value (C1.1)"
    assert report["excluded"] == [{"worker": 2, "reason": reason}]
    assert "excluded W2: input rejected: encode: need a finite value (C1.1)" in run_out(
        args, capsys
    )


@pytest.mark.parametrize("mode", [[], ["--plaintext"], ["--protocol", "masks"]])
def test_the_summary_names_an_excluded_worker_once(
    bad_rows: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    rule = [] if mode == ["--protocol", "masks"] else ["--rule", "krum", "-f", "2"]
    lines = run_out(["aggregate", str(bad_rows), *rule, *mode], capsys)
    excluded = [line for line in lines if line.startswith("excluded")]
    assert len(excluded) == 1 and excluded[0].startswith("excluded W2: ")
    assert "W2: W2" not in excluded[0]


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        (["--rule", "krum", "-f", "2"], "UNSAFE for real secrets: anyone who knows the seed can"),
        (["--protocol", "masks"], "UNSAFE for real secrets: anyone who knows the seed can"),
        (["--rule", "bucketing+mean", "--plaintext"], "--plaintext sends no shares; the seed"),
    ],
)
def test_the_seed_warning_says_what_the_seed_reproduces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str], says: str
) -> None:
    x = write_input(tmp_path / "x.npy")
    assert main(["aggregate", str(x), *mode, "--seed", "1"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("sbrml: --seed 1: DeterministicRandomSource; ") and says in err
    assert ("every input" in err) == ("--plaintext" not in mode)


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("mode", [["--rule", "krum", "-f", "2"], ["--rule", "mean", "--plaintext"]])
def test_a_bad_seed_is_refused_before_any_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: list[str]
) -> None:
    x = write_input(tmp_path / "x.npy")
    err = run_error(["aggregate", str(x), *mode, "--seed", "-1"], capsys)
    assert err.startswith("sbrml: error: DeterministicRandomSource: seed: need") and "(C2.2)" in err
    assert "UNSAFE" not in err and "DeterministicRandomSource;" not in err


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", ""], "--out '': the path is empty; give a file name"),
        (["--transcript", ""], "--transcript '': the path is empty; give a file name"),
    ],
)
def test_an_empty_output_path_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    x = write_input(tmp_path / "x.npy")
    err = run_error(["aggregate", str(x), "--rule", "krum", "-f", "2", *args], capsys)
    assert err == f"sbrml: error: {message}\n"


@pytest.mark.usefixtures("no_work")
def test_an_empty_simulate_folder_says_so(capsys: pytest.CaptureFixture[str]) -> None:
    err = run_error(["simulate", "--out", "", *SIMULATE_SMALL], capsys)
    assert err == "sbrml: error: --out '': the path is empty; give a folder (. for this one)\n"


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize(
    ("command", "message"),
    [
        (
            ["aggregate", "X", "--rule", "nnm+", "-f", "1"],
            "--rule 'nnm+': the rule after the last '+' is missing (a composition ends with a "
            "rule, e.g. nnm+krum)",
        ),
        (["aggregate", "X", "--rule", "+krum", "-f", "1"], "--rule '+krum': nothing before"),
        (
            ["aggregate", "X", "--rule", "nnm++krum", "-f", "1"],
            "--rule 'nnm++krum': two '+' with nothing between",
        ),
        (["kappa", "--rule", "krum,nnm+", "-n", "7", "-f", "1"], "--rule 'krum,nnm+': the rule"),
        (
            ["kappa", "--rule", "krum,", "-n", "7", "-f", "1"],
            "--rule 'krum,': a rule name is empty",
        ),
        (["simulate", "--out", "O", "--rules", "mean,nnm+"], "--rules 'mean,nnm+': the rule after"),
    ],
)
def test_a_missing_rule_after_plus_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], command: list[str], message: str
) -> None:
    x = str(write_input(tmp_path / "x.npy"))
    args = [{"X": x, "O": str(tmp_path / "o")}.get(a, a) for a in command]
    err = run_error(args, capsys)
    assert err.startswith(f"sbrml: error: {message}") and "unknown rule ''" not in err


@pytest.mark.usefixtures("no_work")
def test_a_grid_rule_ending_in_plus_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "g.toml"
    grid.write_text('rules = ["krum", "bucketing+"]\n')
    err = run_error(["simulate", "--out", str(tmp_path / "o"), "--grid", str(grid)], capsys)
    assert "rules item 'bucketing+': the rule after the last '+' is missing" in err


def test_a_negative_shape_in_the_header_is_invalid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    header = "{'descr': '<f8', 'fortran_order': False, 'shape': (-1, 3), }"
    header += " " * (64 - 10 - len(header) - 1) + "\n"
    path = tmp_path / "neg.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + struct.pack("<H", len(header)) + header.encode())
    err = run_error(["aggregate", str(path), "--rule", "mean", "--plaintext"], capsys)
    assert "the header declares shape (-1, 3), which is not a valid shape" in err
    assert "bytes of data" not in err


@pytest.mark.parametrize("target", ["/dev/stdout", "same file"])
@pytest.mark.parametrize("option", ["--out", "--transcript"])
@pytest.mark.parametrize("json_flag", [[], ["--json"]])
def test_an_output_file_that_is_standard_output_is_refused(
    tmp_path: Path, target: str, option: str, json_flag: list[str]
) -> None:
    x = str(write_input(tmp_path / "x.npy"))
    printed = tmp_path / "printed.txt"
    path = str(printed) if target == "same file" else target
    with open(printed, "wb") as stdout:
        done = run_with_stdout(
            ["aggregate", x, "--rule", "krum", "-f", "2", option, path, *json_flag], stdout=stdout
        )
    what = "the --json report" if json_flag else "its summary"
    assert done.returncode == 2 and printed.read_bytes() == b""
    assert done.stderr.decode() == (
        f"sbrml: error: {option} {path!r}: is standard output, where sbrml prints {what}; the "
        "two would be mixed: write the file elsewhere\n"
    )


def test_dev_null_as_output_and_standard_output_is_fine(tmp_path: Path) -> None:
    x = str(write_input(tmp_path / "x.npy"))
    args = ["aggregate", x, "--rule", "krum", "-f", "2", "--out", "/dev/null", "--json"]
    assert run_with_stdout(args, stdout=subprocess.DEVNULL).returncode == 0


@pytest.fixture
def two_bad_of_five(tmp_path: Path) -> Path:
    """Five rows; W0 holds a NaN and W1 an infinity: three workers are left."""
    x = np.random.default_rng(6).standard_normal((5, 3))
    x[0, 0], x[1, 2] = np.nan, np.inf
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path


@pytest.mark.spec("C0.1", "C8.4", "C20.3")
@pytest.mark.parametrize("impl", ["optimized", "reference"])
@pytest.mark.parametrize(
    ("mode", "head", "reason"),
    [
        (
            ["--rule", "krum", "-f", "1"],
            "secure_aggregate: n: need n > 2f + 2 after exclusions (C8.4); got 3 valid of n=5, f=1",
            "input rejected before sharing: encode: need a finite value (C1.1)",
        ),
        (
            ["--rule", "krum", "-f", "1", "--plaintext"],
            "aggregate: n: need n > 2f + 2 after exclusions (C8.4); got 3 valid of n=5, f=1",
            "input rejected: encode: need a finite value (C1.1)",
        ),
        (
            ["--protocol", "masks", "--threshold", "4"],
            "masked_aggregate: U3: need at least t=4 workers; the round aborts and nothing is "
            "released (C20.3); got 3 workers [2, 3, 4] of n=5",
            "sent nothing in round input: encode: need a finite value (C1.1)",
        ),
    ],
)
def test_too_few_workers_names_each_excluded_worker_with_its_reason(
    two_bad_of_five: Path,
    capsys: pytest.CaptureFixture[str],
    impl: str,
    mode: list[str],
    head: str,
    reason: str,
) -> None:
    err = run_error(["aggregate", str(two_bad_of_five), *mode, "--impl", impl], capsys)
    assert err == f"sbrml: error: {head}; excluded: W0: {reason}; W1: {reason}\n"
    assert "nan" not in err and "inf" not in err.replace("info", "")


@pytest.mark.spec("C20.3")
def test_masks_abort_names_dropped_workers_too(
    two_bad_of_five: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["aggregate", str(two_bad_of_five), "--protocol", "masks", "--threshold", "3"]
    err = run_error([*args, "--dropout", "2:share"], capsys)
    assert "(C20.3); got 2 workers [3, 4] of n=5; excluded: W0: sent nothing" in err
    assert err.endswith("; W2: no mask/shares message (dropped out)\n")


def test_describe_excluded_names_each_worker_once() -> None:
    from sbrml.core.round import describe_excluded

    excluded = {3: "S0: no share received (C8.3)", 1: "W1: input rejected: f: need x (C1.1)"}
    assert describe_excluded(excluded) == (
        "W1: input rejected: f: need x (C1.1); W3: S0: no share received (C8.3)"
    )
    assert describe_excluded({}) == "none"


@pytest.mark.spec("C20.1")
def test_masks_with_one_worker_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.npy"
    np.save(path, np.ones((1, 3)))
    assert main(["aggregate", str(path), "--protocol", "masks"]) == 2
    err = capsys.readouterr().err
    assert "at least 2 workers" in err and "n=1" in err and "--threshold" not in err
