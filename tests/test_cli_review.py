"""The command line after a second review (issue 13, items 13-21): files that are not what
they claim, standard output that cannot be written, outputs naming the input, memory by what
a rule computes, and messages that say one thing once."""

from __future__ import annotations

import errno
import io
import json
import os
import struct
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sbrml.cli import main
from tests.helpers.cli import run_error, run_json, write_input

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def no_training(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("training started")

    monkeypatch.setattr("sbrml.simulation.run", refuse)


@pytest.mark.usefixtures("no_training")
@pytest.mark.parametrize(
    "content",
    [
        pytest.param(None, id="an .npy file"),
        pytest.param(b'rules = ["\xff"]\n', id="invalid UTF-8"),
        pytest.param(b"\xfe\xff\x00r\x00u", id="UTF-16"),
    ],
)
def test_a_grid_that_is_not_utf8_is_not_readable_toml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes | None
) -> None:
    grid = tmp_path / "grid.toml"
    if content is None:
        np.save(tmp_path / "x.npy", np.zeros((3, 2)))
        grid = tmp_path / "x.npy"
    else:
        grid.write_bytes(content)
    err = run_error(["simulate", "--out", str(tmp_path / "o"), "--grid", str(grid)], capsys)
    assert err.startswith(f"sbrml: error: --grid {str(grid)!r}: not a readable TOML file")
    assert "not UTF-8 text" in err and "bug" not in err


class FullDevice(io.StringIO):
    """A standard output on a full disk (``> /dev/full``): every write fails with ENOSPC."""

    def write(self, text: str) -> int:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def flush(self) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


SIMULATE_SMALL = ["--rules", "mean", "--rounds", "1", "-n", "4", "-f", "1", "--attacks", "none"]


def printing_commands(tmp_path: Path) -> dict[str, list[str]]:
    """One small run of every subcommand that prints on standard output."""
    x = str(write_input(tmp_path / "x.npy"))
    return {
        "aggregate --json": ["aggregate", x, "--rule", "krum", "-f", "2", "--json"],
        "aggregate": ["aggregate", x, "--rule", "mean", "--plaintext"],
        "kappa": [
            "kappa",
            "--rule",
            "krum",
            "-n",
            "5",
            "-f",
            "1",
            "--restarts",
            "1",
            "--steps",
            "1",
        ],
        "kappa --json": ["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "1", "--json"],
        "simulate": ["simulate", "--out", str(tmp_path / "sim"), *SIMULATE_SMALL],
        "demo": ["demo", "--dim", "50"],
        "--help": ["aggregate", "--help"],
    }


COMMANDS = ["aggregate --json", "aggregate", "kappa", "kappa --json", "simulate", "demo"]


@pytest.mark.parametrize("command", COMMANDS)
def test_a_full_standard_output_is_the_users_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    args = printing_commands(tmp_path)[command]
    monkeypatch.setattr(sys, "stdout", FullDevice())
    err = run_error(args, capsys)
    assert err == "sbrml: error: standard output cannot be written (No space left on device)\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_a_closed_standard_output_is_quiet(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    command: str,
) -> None:
    args = printing_commands(tmp_path)[command]
    monkeypatch.setattr(sys, "stdout", None)  # what Python sets for `sbrml ... >&-`
    assert run_error(args, capsys, status=141) == ""


def run_with_stdout(args: list[str], **popen: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "sbrml.cli", *args],
        stderr=subprocess.PIPE,
        cwd=ROOT,
        timeout=300,
        check=False,
        **popen,
    )


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full")
@pytest.mark.parametrize("command", ["aggregate --json", "--help"])
def test_dev_full_and_a_closed_descriptor(tmp_path: Path, command: str) -> None:
    args = printing_commands(tmp_path)[command]
    with open("/dev/full", "wb") as full:
        done = run_with_stdout(args, stdout=full)
    assert done.returncode == 2
    assert (
        done.stderr
        == b"sbrml: error: standard output cannot be written (No space left on device)\n"
    )
    if command == "--help":
        return  # argparse prints --help on stderr when standard output is closed
    done = run_with_stdout(args, preexec_fn=lambda: os.close(1))
    assert (done.returncode, done.stderr) == (141, b"")


class WorkStarted(Exception):
    """Raised by a patched protocol: the run started although it should not have."""


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any round, rule search or training run that starts fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise WorkStarted

    monkeypatch.setattr("sbrml.optimized.secure_aggregate", refuse)
    monkeypatch.setattr("sbrml.optimized.mask_protocol.masked_aggregate", refuse)
    monkeypatch.setattr("sbrml.simulation.run", refuse)
    monkeypatch.setattr("sbrml.robustness.kappa_table", refuse)


def other_name(tmp_path: Path, x: Path, how: str) -> Path:
    """Another path to the file ``x``: itself, spelled differently, a symbolic or hard link."""
    if how == "same":
        return x
    if how == "spelled":
        return tmp_path / "." / x.name
    link = tmp_path / f"{how}.npy"
    if how == "symlink":
        link.symlink_to(x.name)
    else:
        os.link(x, link)
    return link


SECURE = ["--rule", "krum", "-f", "2"]
PLAINTEXT = ["--rule", "mean", "--plaintext"]
MASKS = ["--protocol", "masks"]


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("how", ["same", "spelled", "symlink", "hardlink"])
@pytest.mark.parametrize(
    ("mode", "option"),
    [
        (SECURE, "--out"),
        (SECURE, "--transcript"),
        (PLAINTEXT, "--out"),
        (MASKS, "--out"),
        (MASKS, "--transcript"),
    ],
)
def test_an_output_naming_the_input_is_refused_before_any_work(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], how: str, mode: list[str], option: str
) -> None:
    x = write_input(tmp_path / "x.npy")
    before = x.read_bytes()
    target = other_name(tmp_path, x, how)
    err = run_error(["aggregate", str(x), *mode, option, str(target)], capsys)
    assert err == (
        f"sbrml: error: {option} {str(target)!r}: is the INPUT file {str(x)!r}; writing it "
        "would overwrite the input: give another path\n"
    )
    assert x.read_bytes() == before


@pytest.mark.usefixtures("no_work")
def test_out_and_transcript_through_a_hard_link_are_one_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = write_input(tmp_path / "x.npy")
    out = tmp_path / "z.npy"
    out.write_bytes(b"")
    link = tmp_path / "t.bin"
    os.link(out, link)
    args = ["aggregate", str(x), "--rule", "krum", "-f", "2", "--out", str(out)]
    err = run_error([*args, "--transcript", str(link)], capsys)
    assert "--out and --transcript are the same file" in err


@pytest.mark.usefixtures("no_work")
def test_simulate_out_holding_the_grid_file_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    grid = tmp_path / "results.csv"
    grid.write_text('rules = ["mean"]\nrounds = 1\n')
    monkeypatch.chdir(tmp_path)
    err = run_error(["simulate", "--out", ".", "--grid", "results.csv"], capsys)
    assert "--out '.': results.csv inside it is the --grid file 'results.csv'" in err
    assert grid.read_text() == 'rules = ["mean"]\nrounds = 1\n'


@pytest.fixture
def small_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with 8 GiB available, whatever this one has."""
    monkeypatch.setattr("sbrml.cli.resources.available_memory", lambda: 8 * 2**30)


@pytest.mark.usefixtures("no_work", "small_memory")
@pytest.mark.parametrize("rules", ["krum", "median,krum", "all"])
def test_kappa_too_large_for_memory_is_refused_before_the_search(
    capsys: pytest.CaptureFixture[str], rules: str
) -> None:
    args = ["kappa", "--rule", rules, "-n", "100000", "-f", "2", "--restarts", "1", "--steps", "1"]
    err = run_error(args, capsys)
    assert err.startswith("sbrml: error: kappa --rule ") and "needs at least 74.5 GiB" in err
    assert "100000 x 100000 distance matrix of" in err and "8.0 GiB is available" in err


@pytest.fixture
def hundred_thousand_rows(tmp_path: Path) -> Path:
    path = tmp_path / "x.npy"
    np.save(path, np.random.default_rng(2).standard_normal((100_000, 1)))
    return path


@pytest.mark.usefixtures("small_memory")
@pytest.mark.parametrize(
    "rule", [["mean"], ["median", "-f", "2"], ["clip+mean"], ["arc+trimmed-mean", "-f", "2"]]
)
def test_plaintext_rules_without_pairwise_distances_run_at_large_n(
    hundred_thousand_rows: Path, capsys: pytest.CaptureFixture[str], rule: list[str]
) -> None:
    report = run_json(
        ["aggregate", str(hundred_thousand_rows), "--plaintext", "--json", "--rule", *rule],
        capsys,
    )
    assert report["n"] == 100_000
    if rule == ["mean"]:
        assert report["weights"] == [1e-5] * 100_000


@pytest.mark.usefixtures("no_work", "small_memory")
@pytest.mark.parametrize(
    ("rule", "part"),
    [
        ("krum", "the 100000 x 100000 distance matrix alone"),
        ("geomed", "the 100000 x 100000 distance matrix alone"),
        ("caf", "the 100000 x 100000 distance matrix alone"),
        ("bulyan", "the 100000 x 100000 distance matrix of bulyan alone"),
        ("clip+krum", "the 100000 x 100000 distance matrix of krum alone"),
        ("arc+geomed", "the 100000 x 100000 distance matrix of geomed alone"),
    ],
)
def test_plaintext_rules_with_pairwise_distances_are_refused(
    hundred_thousand_rows: Path, capsys: pytest.CaptureFixture[str], rule: str, part: str
) -> None:
    args = ["aggregate", str(hundred_thousand_rows), "--plaintext", "--rule", rule, "-f", "2"]
    err = run_error(args, capsys)
    assert "this run needs at least 74.5 GiB" in err and part in err


def test_every_library_stage_has_a_memory_class() -> None:
    from sbrml.cli.resources import LIGHT_STAGES, PAIRWISE_STAGES, ROW_COPY_STAGES
    from sbrml.core.registry import ENTRIES

    classes = (PAIRWISE_STAGES, ROW_COPY_STAGES, LIGHT_STAGES)
    assert {name: sum(name in c for c in classes) for name in ENTRIES} == dict.fromkeys(ENTRIES, 1)


@pytest.mark.parametrize(
    ("spec", "largest", "need"),
    [
        ("mean", "the inputs", 80_000),
        ("median", "the inputs", 2 * 80_000),
        ("bucketing+krum", "the 500 x 500 distance matrix of krum", 80_000 + 2_000_000),
        ("nnm+bucketing+geomed", "the 1000 x 1000 distance matrix of nnm", 80_000 + 8_000_000),
    ],
)
def test_a_rule_calls_memory_follows_its_stages(spec: str, largest: str, need: int) -> None:
    import sbrml.optimized as opt
    from sbrml.cli.resources import aggregate_needs
    from sbrml.rulespec import build_rule

    rule = build_rule(opt, spec, 1)
    got, detail = aggregate_needs(mode="plaintext", impl="optimized", n=1000, d=10, rule=rule)
    assert detail.startswith(f"{largest} alone") and got == need


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


def run_out(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[str]:
    """Run ``sbrml ARGS`` that must succeed; return the lines of standard output."""
    status = main(args)
    captured = capsys.readouterr()
    assert status == 0, captured.err
    return captured.out.splitlines()


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
