"""The command line after a second review (issue 13, items 13-21), part one: files that are
not what they claim, standard output that cannot be written, outputs naming the input, and
memory by what a rule computes (tests/test_cli_messages.py has the messages)."""

from __future__ import annotations

import errno
import io
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.cli import (
    SIMULATE_SMALL,
    refuse_work,
    run_error,
    run_json,
    run_with_stdout,
    write_input,
)


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


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any round, rule search or training run that starts fails the test."""
    refuse_work(monkeypatch)


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
