"""The benchmark package (issue 14, item 4): one timing helper, one module per table, and
the --out page with the machine, the versions, the date and the commit in its header."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sbrml.bench import main
from sbrml.bench.network import measure_network
from sbrml.bench.report import write_report

ROOT = Path(__file__).resolve().parents[1]


def test_one_timing_helper() -> None:
    """Only sbrml.bench.common reads the clock; every table times through median_time or
    elapsed (the masks table and the ByzFL baseline had their own copies)."""
    timed = [
        str(path.relative_to(ROOT))
        for path in sorted((ROOT / "sbrml").rglob("*.py"))
        if "perf_counter" in path.read_text(encoding="utf-8")
        and ("bench" in path.parts or path.name == "byzfl_baseline.py")
    ]
    assert timed == ["sbrml/bench/common.py"]


def test_the_page_names_machine_versions_date_and_commit(tmp_path: Path) -> None:
    out = tmp_path / "benchmarks.md"
    write_report(out, ["Table A\nx  y\n-  -\n1  2", "Table B"], "python -m sbrml.bench", 2)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("# Benchmarks\n")
    fields = dict(re.findall(r"^\| (\w[\w ]*) \| (.+) \|$", text, flags=re.MULTILINE))
    for key in ("date", "commit", "command", "machine", "cores", "memory", "Python"):
        assert fields[key], key
    for package in ("numpy", "gmpy2", "cryptography"):
        assert re.fullmatch(r"\d+\.\d+.*", fields[package]), package
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", fields["date"])
    assert re.match(r"[0-9a-f]{40}|unknown", fields["commit"])
    assert "2 worker processes" in fields["cores"] and "GiB" in fields["memory"]
    assert text.endswith("```\nTable A\nx  y\n-  -\n1  2\n\nTable B\n```\n")
    assert not list(tmp_path.glob("*.partial"))


def test_out_writes_the_tables(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench.md"
    assert main(["--quick", "--repeat", "1", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    text = out.read_text(encoding="utf-8")
    assert f"--quick --repeat 1 --out {out}" in text
    titles = ("Secure Krum round", "Gram vs pairwise", "Peak memory", "Pairwise-mask")
    for title in (*titles, "Secure Krum round across processes", "Transport floor"):
        assert title in text and title in printed
    assert printed.rstrip().endswith(f"wrote {out}")


@pytest.mark.parametrize("where", ["missing folder", "a folder"])
def test_out_is_checked_before_the_tables_run(
    tmp_path: Path, where: str, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "no" / "bench.md" if where == "missing folder" else tmp_path
    with pytest.raises(SystemExit) as info:
        main(["--quick", "--out", str(out)])
    assert info.value.code == 2
    captured = capsys.readouterr()
    assert "--out" in captured.err and captured.out == ""


def test_the_network_table_measures_a_round_across_processes(tmp_path: Path) -> None:
    """Issue 16 item 5: the loopback round moves the in-process round's bytes on every link
    (C23.1), each party process reports its peak memory, and each floor moved its bytes."""
    run = measure_network(4, 200, 1, tmp_path)
    assert len(run.rounds) == 2 and all(t.s1["valid"] == [0, 1, 2, 3] for t in run.rounds)
    assert run.loopback_bytes == run.in_process_bytes
    assert len(run.loopback_bytes) == 6 and all(v > 0 for v in run.loopback_bytes.values())
    assert sorted(run.peaks) == ["dealer", "s0", "s1"]
    assert all(p["peak_kib"] >= p["base_kib"] > 0 for p in run.peaks.values())
    assert len(run.floors) == 3 and all(s > 0 for s in run.floors.values())
    assert run.fresh_online > 0 and run.in_process["online"] > 0
