"""How the command line ends and what it prints (issue 13, items 17, 18, 20, 21): a closed
pipe, bugs told from bad input, strict kappa JSON, progress only where it belongs."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.cli import main
from sbrml.core.errors import ShapeError
from sbrml.rulespec import LIBRARY_SPECS
from tests.helpers.cli import Terminal, run_error, write_input

ROOT = Path(__file__).resolve().parents[1]


def closed_pipe_run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    """Run ``python -m sbrml.cli ARGS`` with its standard output closed before it writes."""
    process = subprocess.Popen(
        [sys.executable, "-m", "sbrml.cli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        cwd=ROOT,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first byte (importing takes longer)
    err = process.stderr.read()
    process.wait(timeout=300)
    return subprocess.CompletedProcess(process.args, process.returncode, b"", err)


@pytest.mark.parametrize("command", ["demo", "aggregate"])
def test_a_closed_standard_output_ends_quietly(tmp_path: Path, command: str) -> None:
    if command == "demo":
        args = ["demo", "--dim", "500"]
    else:
        args = ["aggregate", str(write_input(tmp_path / "x.npy")), "--rule", "krum", "-f", "2"]
        args += ["--json"]
    done = closed_pipe_run(args)
    assert done.stderr == b"" and done.returncode == 141


class ClosedPipe(io.StringIO):
    def write(self, text: str) -> int:
        raise BrokenPipeError(32, "Broken pipe")


def test_a_closed_pipe_in_process(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "stdout", ClosedPipe())
    assert main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "1"]) == 141
    assert capsys.readouterr().err == ""


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    return write_input(tmp_path / "x.npy")


@pytest.mark.parametrize(
    "error",
    [
        AttributeError("'int' object has no attribute 'item'"),
        ValueError("operands could not be broadcast\ntogether"),
        ZeroDivisionError("float division by zero"),
    ],
)
def test_a_bug_exits_1_with_one_line_saying_so(
    input_file: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: Exception,
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise error

    monkeypatch.setattr(opt, "secure_aggregate", broken)
    monkeypatch.delenv("SBRML_TRACEBACK", raising=False)
    err = run_error(["aggregate", str(input_file), "--rule", "krum", "-f", "2"], capsys, status=1)
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"sbrml: internal error: {type(error).__name__}: ")
    assert "this is a bug, please report it" in err and "SBRML_TRACEBACK=1" in err
    monkeypatch.setenv("SBRML_TRACEBACK", "1")
    err = run_error(["aggregate", str(input_file), "--rule", "krum", "-f", "2"], capsys, status=1)
    assert "Traceback" in err and "this is a bug" in err


def test_a_spec_error_exits_2_with_its_message(
    input_file: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def refuses(*args: object, **kwargs: object) -> None:
        raise ShapeError("secure_aggregate", "x", "a finite real", "C1.1", "nan")

    monkeypatch.setattr(opt, "secure_aggregate", refuses)
    err = run_error(["aggregate", str(input_file), "--rule", "krum", "-f", "2"], capsys)
    assert err == "sbrml: error: secure_aggregate: x: need a finite real (C1.1); got nan\n"


def strict(text: str) -> Any:
    def refuse(name: str) -> None:
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def kappa_rows(args: list[str], capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    assert main(["kappa", *args, "--restarts", "1", "--steps", "2", "--json"]) == 0
    return [strict(line) for line in capsys.readouterr().out.splitlines()]


def test_kappa_json_is_strict_and_lists_every_rule(capsys: pytest.CaptureFixture[str]) -> None:
    rows = kappa_rows(["--rule", "all", "-n", "7", "-f", "2"], capsys)
    assert [r["rule"] for r in rows] == list(LIBRARY_SPECS)
    types: dict[str, set[type]] = {}
    for row in rows:
        for key, value in row.items():
            types.setdefault(key, set()).add(type(value))
    assert all(len(kinds - {type(None)}) == 1 for kinds in types.values()), types
    assert len({frozenset(r) for r in rows}) == 1  # the same fields in every row
    by_rule = {r["rule"]: r for r in rows}
    assert by_rule["mean"]["kappa_infinite"] is True and by_rule["mean"]["kappa_found"] is None
    assert by_rule["mean"]["published_bound"] is None and by_rule["mean"]["verdict"] == ""
    bulyan = by_rule["bulyan"]
    assert bulyan["ran"] is False and "n >= 4f + 3" in bulyan["reason"]
    assert bulyan["kappa_found"] is None and bulyan["kappa_infinite"] is False
    krum = by_rule["krum"]
    assert krum["ran"] is True and krum["reason"] is None
    assert krum["kappa_found"] <= krum["published_bound"] and krum["verdict"] == "within bound"
    assert by_rule["multikrum"]["m"] == 7 - 2 and krum["m"] is None
    assert (krum["n"], krum["f"], krum["dim"], krum["steps"], krum["seed"]) == (7, 2, 2, 2, 0)


def test_kappa_table_lists_what_did_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["kappa", "--rule", "all", "-n", "7", "-f", "2", "--restarts", "1", "--steps", "1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "not applicable at this n, f: bulyan (n >= 4f + 3 (C9.4))" in out


@pytest.mark.parametrize(
    ("flag", "value"), [("--dim", "0"), ("--restarts", "-1"), ("--steps", "0"), ("--seed", "-1")]
)
def test_kappa_search_sizes_name_the_option(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    err = run_error(["kappa", "--rule", "krum", "-n", "7", "-f", "1", flag, value], capsys)
    assert f"kappa: {flag} must be >= " in err and f"got {value}" in err


@pytest.mark.parametrize(("flag", "value"), [("--dim", "0"), ("--seed", "-1")])
def test_demo_options_are_checked(
    capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    assert f"demo: {flag} must be >= " in run_error(["demo", flag, value], capsys)


def test_kappa_search_reports_every_step() -> None:
    from sbrml.robustness import kappa_table, search_units

    told: list[int] = []
    kappa_table(["krum", "mean"], 5, 1, restarts=2, steps=3, progress=told.append)
    assert sum(told) == 2 * search_units(2, 3)  # mean stops at kappa = inf, and says so


def use_terminal(monkeypatch: pytest.MonkeyPatch) -> Terminal:
    """stderr as a terminal, with no quiet start. Called in the test body: pytest installs
    its own capture after the fixtures are set up."""
    stderr = Terminal()
    monkeypatch.setattr(sys, "stderr", stderr)
    monkeypatch.setattr("sbrml.cli.progress.QUIET_SECONDS", 0.0)
    return stderr


def test_kappa_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = use_terminal(monkeypatch)
    assert main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "2"]) == 0
    assert "kappa search, n=5, f=1" in terminal.getvalue()
    assert "kappa search" not in capsys.readouterr().out


def test_no_progress_with_json(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = use_terminal(monkeypatch)
    assert main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "2", "--json"]) == 0
    assert terminal.getvalue() == ""
    strict(capsys.readouterr().out)


def test_no_progress_on_a_pipe(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "2"]) == 0
    assert capsys.readouterr().err == ""


def test_secure_round_progress_on_a_terminal(
    input_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    terminal = use_terminal(monkeypatch)
    real = opt.secure_aggregate

    def slow(*args: Any, **kwargs: Any) -> Any:
        import time

        time.sleep(1.2)  # long enough for two ticks of the elapsed-time line
        return real(*args, **kwargs)

    monkeypatch.setattr(opt, "secure_aggregate", slow)
    assert main(["aggregate", str(input_file), "--rule", "krum", "-f", "2"]) == 0
    shown = terminal.getvalue()
    assert "secure krum round, n=9, d=40, optimized tree, dealer triples" in shown
    assert "elapsed" in shown


def test_simulate_progress_only_on_a_terminal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["simulate", "--out", str(tmp_path / "o"), "--rules", "mean", "--rounds", "2"]
    assert main(args) == 0
    assert capsys.readouterr().err == ""


def test_demo_progress_on_a_terminal(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    terminal = use_terminal(monkeypatch)
    assert main(["demo", "--dim", "300"]) == 0
    assert "sbrml demo, d=300" in terminal.getvalue()
    assert "sbrml demo" in capsys.readouterr().out


def test_json_output_is_strict(input_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["aggregate", str(input_file), "--rule", "geomed", "-f", "2", "--json"]) == 0
    report = strict(capsys.readouterr().out)
    assert np.isfinite(report["weights"]).all()
