"""The command line's files (issue 13, items 13-15): outputs written at exactly the path
reported and checked before any work; inputs checked before they are read."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.cli import main
from tests.helpers.cli import run_error, run_json, write_input


class WorkStarted(Exception):
    """Raised by a patched protocol: the run started although it should not have."""


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any round, rule search or training run that starts fails the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise WorkStarted

    monkeypatch.setattr(opt, "secure_aggregate", refuse)
    monkeypatch.setattr("sbrml.optimized.mask_protocol.masked_aggregate", refuse)
    monkeypatch.setattr("sbrml.simulation.run", refuse)


@pytest.mark.parametrize("protocol", [[], ["--protocol", "masks"], ["--plaintext"]])
def test_out_is_written_at_exactly_the_path_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], protocol: list[str]
) -> None:
    x = write_input(tmp_path / "x.npy")
    out = tmp_path / "z.txt"
    rule = [] if protocol == ["--protocol", "masks"] else ["--rule", "krum", "-f", "2"]
    report = run_json(["aggregate", str(x), *rule, *protocol, "--out", str(out), "--json"], capsys)
    assert report["out"] == str(out)
    assert out.is_file() and not (tmp_path / "z.txt.npy").exists()
    assert np.load(out).shape == (40,)


def test_out_replaces_an_existing_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = write_input(tmp_path / "x.npy")
    out = tmp_path / "z.npy"
    out.write_bytes(b"old")
    run_json(
        ["aggregate", str(x), "--rule", "mean", "--plaintext", "--out", str(out), "--json"], capsys
    )
    assert np.load(out).shape == (40,)
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".sbrml")] == []


@pytest.mark.parametrize(
    ("option", "target", "message"),
    [
        ("--out", "folder", "is a directory"),
        ("--out", "missing/z.npy", "does not exist"),
        ("--out", "x.npy/z.npy", "is not a folder"),
        ("--transcript", "folder", "is a directory"),
        ("--transcript", "missing/t.bin", "does not exist"),
    ],
)
@pytest.mark.usefixtures("no_work")
def test_bad_output_paths_fail_before_the_round(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    option: str,
    target: str,
    message: str,
) -> None:
    x = write_input(tmp_path / "x.npy")
    (tmp_path / "folder").mkdir()
    args = ["aggregate", str(x), "--rule", "krum", "-f", "2", option, str(tmp_path / target)]
    err = run_error(args, capsys)
    assert err.startswith(f"sbrml: error: {option} ") and message in err
    assert not (tmp_path / "folder.npy").exists()


def test_out_and_transcript_must_differ(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = write_input(tmp_path / "x.npy")
    same = str(tmp_path / "a.bin")
    err = run_error(
        ["aggregate", str(x), "--rule", "krum", "-f", "2", "--out", same, "--transcript", same],
        capsys,
    )
    assert "the same file" in err


@pytest.mark.usefixtures("no_work")
@pytest.mark.parametrize("target", ["file", "file/sub"])
def test_simulate_out_is_checked_before_training(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], target: str
) -> None:
    (tmp_path / "file").write_text("not a folder")
    args = ["simulate", "--out", str(tmp_path / target), "--rules", "mean", "--rounds", "1"]
    assert "sbrml: error: --out" in run_error(args, capsys)


@pytest.mark.usefixtures("no_work")
def test_simulate_output_file_that_is_a_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "sim" / "results.csv").mkdir(parents=True)
    args = ["simulate", "--out", str(tmp_path / "sim"), "--rules", "mean", "--rounds", "1"]
    assert "results.csv inside it is a folder" in run_error(args, capsys)


def forged_npy(path: Path, shape: tuple[int, ...], data: bytes) -> Path:
    with open(path, "wb") as stream:
        np.lib.format.write_array_header_1_0(
            stream, {"descr": "<f8", "fortran_order": False, "shape": shape}
        )
        stream.write(data)
    return path


@pytest.mark.usefixtures("no_work")
def test_a_forged_header_is_refused_before_allocating(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = forged_npy(tmp_path / "x.npy", (10**6, 10**6), b"\0" * 64)
    assert path.stat().st_size == 192
    err = run_error(["aggregate", str(path), "--rule", "krum", "-f", "1"], capsys)
    assert "header declares shape (1000000, 1000000)" in err and "7.3 TiB" in err
    assert "64 bytes after the header" in err


def test_a_truncated_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write_input(tmp_path / "x.npy")
    path.write_bytes(path.read_bytes()[:-8])
    err = run_error(["aggregate", str(path), "--rule", "krum", "-f", "1"], capsys)
    assert "truncated" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"1.0 2.0\n3.0 4.0\n", "not an .npy file"),
        (b"PK\x03\x04 rest of a zip", "an .npz archive"),
    ],
)
def test_files_that_are_not_npy_say_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: bytes, message: str
) -> None:
    path = tmp_path / "x.npy"
    path.write_bytes(content)
    err = run_error(["aggregate", str(path), "--rule", "krum", "-f", "1"], capsys)
    assert message in err and "pickle" not in err


def test_object_arrays_are_named_as_such(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.array([[1.0, "a"]], dtype=object), allow_pickle=True)
    assert "holds Python objects" in run_error(["aggregate", str(path), "--rule", "mean"], capsys)


@pytest.fixture
def small_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine with 8 GiB available, whatever this one has."""
    monkeypatch.setattr("sbrml.cli.resources.available_memory", lambda: 8 * 2**30)


@pytest.mark.usefixtures("no_work", "small_memory")
@pytest.mark.parametrize(
    ("args", "part"),
    [
        (["--rule", "krum", "-f", "1"], "Gram triples alone is 149.0 GiB"),
        (["--rule", "krum", "-f", "1", "--plaintext"], "100000 x 100000 distance matrix"),
        (["--protocol", "masks"], "100000 x 100000 boxes of Shamir shares"),
    ],
)
def test_runs_too_large_for_memory_are_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], part: str
) -> None:
    path = tmp_path / "x.npy"
    np.save(path, np.zeros((100_000, 1)))
    err = run_error(["aggregate", str(path), *args], capsys)
    assert "this run needs at least" in err and part in err and "8.0 GiB is available" in err


@pytest.mark.usefixtures("small_memory")
def test_demo_too_large_for_memory_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    err = run_error(["demo", "--dim", str(10**9)], capsys)
    assert "demo --dim 1000000000 needs at least" in err


def test_available_memory_is_a_figure_or_unknown() -> None:
    from sbrml.cli.resources import available_memory

    have = available_memory()
    assert have is None or have > 0


def test_a_run_that_fits_is_not_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], small_memory: None
) -> None:
    x = write_input(tmp_path / "x.npy")
    assert main(["aggregate", str(x), "--rule", "krum", "-f", "2"]) == 0


def test_a_symbolic_link_is_written_through_not_replaced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # /dev/stdout is such a link: replacing it would replace the link, not write the output.
    x = write_input(tmp_path / "x.npy")
    real, link = tmp_path / "real.npy", tmp_path / "link.npy"
    real.write_bytes(b"old")
    link.symlink_to(real)
    run_json(
        ["aggregate", str(x), "--rule", "mean", "--plaintext", "--out", str(link), "--json"], capsys
    )
    assert link.is_symlink() and np.load(real).shape == (40,)


def test_a_device_is_written_in_place(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    x = write_input(tmp_path / "x.npy")
    args = ["aggregate", str(x), "--rule", "krum", "-f", "2", "--out", "/dev/null"]
    report = run_json([*args, "--transcript", "/dev/null", "--json"], capsys)
    assert report["out"] == "/dev/null" and Path("/dev/null").is_char_device()
