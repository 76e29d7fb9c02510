"""The command line: the public contract documented in the README."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.cli import main
from tests.helpers import PLAINTEXT_SPECS

N, D = 9, 40


@pytest.fixture
def input_file(tmp_path: Path) -> Path:
    gen = np.random.default_rng(5)
    x = gen.standard_normal((N, D))
    x[7] = -10 * x[:7].mean(axis=0)
    x[8] = 30 * gen.standard_normal(D)
    path = tmp_path / "x.npy"
    np.save(path, x)
    return path


def run_json(args: list[str], capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    assert main(args) == 0
    return json.loads(capsys.readouterr().out)  # type: ignore[no-any-return]


@pytest.mark.spec("C2.1", "C8.8")
def test_aggregate_json_fields(
    input_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "z.npy"
    report = run_json(
        ["aggregate", str(input_file), "--rule", "krum", "-f", "2", "--json", "--out", str(out)],
        capsys,
    )
    assert report["rule"] == "krum" and report["mode"] == "secure" and report["rng"] == "system"
    assert (report["n"], report["d"], report["f"]) == (N, D, 2)
    weights = report["weights"]
    assert isinstance(weights, list) and sum(weights) == 1.0 and len(weights) == N
    seconds = report["seconds"]
    assert isinstance(seconds, dict)
    assert set(seconds) == {
        "offline_triples",
        "offline_comparison",
        "share",
        "validate",
        "range",
        "distances",
        "weights",
        "output",
        "total_online",
    }
    assert {k for k in seconds if k.startswith("offline")} == {
        "offline_triples",
        "offline_comparison",
    }
    assert report["leakage"] == "distances"
    links = report["bytes"]
    assert isinstance(links, dict) and links["W0->S0"] == 8 * D and links["S1->S0"] > 0
    assert report["excluded"] == []
    z = np.load(out)
    x = np.load(input_file)
    assert np.max(np.abs(z - opt.Krum(2)(x))) < 1e-4


def test_seed_is_announced_as_unsafe(input_file: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["aggregate", str(input_file), "--rule", "krum", "-f", "2", "--seed", "3", "--json"])
        == 0
    )
    captured = capsys.readouterr()
    assert json.loads(captured.out)["rng"] == "deterministic"
    assert "UNSAFE" in captured.err


@pytest.mark.spec("C7.3", "D7.3")
def test_transcripts_compare_with_cmp(
    input_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = {}
    for impl in ("optimized", "reference"):
        for variant in ("gram", "pairwise"):
            path = tmp_path / f"{impl}-{variant}.bin"
            assert (
                main(
                    [
                        "aggregate",
                        str(input_file),
                        "--rule",
                        "multikrum",
                        "-f",
                        "2",
                        "--seed",
                        "7",
                        "--impl",
                        impl,
                        "--variant",
                        variant,
                        "--transcript",
                        str(path),
                    ]
                )
                == 0
            )
            paths[impl, variant] = path.read_bytes()
    assert paths["optimized", "gram"] == paths["reference", "gram"]
    assert paths["optimized", "pairwise"] == paths["reference", "pairwise"]
    assert paths["optimized", "gram"] != paths["optimized", "pairwise"]
    assert paths["optimized", "gram"].startswith(b"SBRMLTR1")
    a = tmp_path / "a.bin"
    b = tmp_path / "b.bin"
    for path in (a, b):
        assert (
            main(
                [
                    "aggregate",
                    str(input_file),
                    "--rule",
                    "krum",
                    "-f",
                    "2",
                    "--transcript",
                    str(path),
                ]
            )
            == 0
        )
    assert a.read_bytes() != b.read_bytes()  # system randomness: fresh masks every run


def test_plaintext_mode(
    input_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "z.npy"
    report = run_json(
        [
            "aggregate",
            str(input_file),
            "--rule",
            "multikrum",
            "-f",
            "2",
            "--m",
            "4",
            "--plaintext",
            "--json",
            "--out",
            str(out),
        ],
        capsys,
    )
    assert report["mode"] == "plaintext" and report["bytes_total"] == 0 and report["m"] == 4
    # z = sum_i p_i x_i with the reported weights (C6.1), the rule's output up to rounding.
    x = np.load(input_file)
    assert np.allclose(np.load(out), opt.MultiKrum(2, 4)(x), rtol=1e-12, atol=1e-12)
    assert np.allclose(np.load(out), np.asarray(report["weights"]) @ x, rtol=1e-12, atol=1e-12)


def test_bad_rows_are_excluded_and_reported(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = np.random.default_rng(1).standard_normal((8, 5))
    x[3, 2] = np.nan
    path = tmp_path / "x.npy"
    np.save(path, x)
    report = run_json(["aggregate", str(path), "--rule", "krum", "-f", "2", "--json"], capsys)
    excluded = report["excluded"]
    assert (
        isinstance(excluded, list)
        and excluded[0]["worker"] == 3
        and "C1.1" in excluded[0]["reason"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "krum", "-f", "4"], "need n > 2f + 2 (C6.3); got n=9, f=4"),
        (["--rule", "krum", "-f", "1", "--m", "3"], "--m applies to multikrum only"),
        (["--rule", "bulyan", "-f", "1"], "does not run on shares (spec C8.11"),
        (["--rule", "geomed", "-f", "1", "--leakage", "output"], "does not apply to --rule"),
        (["--rule", "median", "-f", "1", "--triples", "paillier"], "compute distances"),
        (["--rule", "mean", "--variant", "pairwise"], "computes none (spec C8.15)"),
        (["--rule", "krum+nnm", "-f", "1"], "a pre-aggregation must come before a rule"),
        (["--rule", "krumm", "-f", "1"], "unknown rule 'krumm'; choose one of mean, median"),
        (["--rule", "geomed", "-f", "1", "--nu", "0"], "(C10.2)"),
        (["--rule", "krum", "-f", "-1"], "(C6.2)"),
        (["--rule", "krum", "-f", "1", "--plaintext", "--transcript", "t.bin"], "drop --plaintext"),
    ],
)
def test_bad_options_are_clear_errors(
    input_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["aggregate", str(input_file), *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("content", ["missing", "vector", "strings", "empty"])
def test_bad_input_files(tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str) -> None:
    path = tmp_path / "x.npy"
    if content == "vector":
        np.save(path, np.zeros(5))
    elif content == "strings":
        np.save(path, np.array([["a", "b"]]))
    elif content == "empty":
        np.save(path, np.zeros((0, 3)))
    assert main(["aggregate", str(path), "--rule", "krum", "-f", "1"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("sbrml: error: INPUT")


def test_demo_runs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["demo", "--dim", "2000"]) == 0
    out = capsys.readouterr().out
    assert (
        "||z - honest mean||" in out and "secure/gram" in out and "W8: S1: malformed share" in out
    )
    assert "masks (1 server)" in out


def test_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    from sbrml.bench import main as bench_main

    assert bench_main(["--quick", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "plaintext NumPy Krum" in out and "Peak memory" in out
    assert "Pairwise-mask secure aggregation" in out and "10% dropout" in out


def test_paillier_bench_smoke() -> None:
    # The Paillier tables of `make bench` at small shapes: they run, and they check themselves.
    from sbrml import bench

    assert "encrypt by the key holder (D13.4)" in bench.bench_paillier((2048,), 1)
    assert "decrypt + unpack the sum" in bench.bench_packed_averaging(3, 500, 2048)
    assert "option short-exponent" in bench.bench_paillier_triples(3, 20, 2048)
    assert "12 products per returned ciphertext" in bench.bench_paillier_square_pairs(20, 2048)


@pytest.mark.parametrize("rule", ["nnm+krum", "bucketing+geomed", "mda", "medoid", "smea", "mean"])
def test_secure_library_rules(
    input_file: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    report = run_json(
        ["aggregate", str(input_file), "--rule", rule, "-f", "1", "--seed", "2", "--json"], capsys
    )
    weights = report["weights"]
    assert report["mode"] == "secure" and isinstance(weights, list) and abs(sum(weights) - 1) < 1e-6


@pytest.mark.parametrize("rule", PLAINTEXT_SPECS)
def test_plaintext_library_rules(
    input_file: Path, capsys: pytest.CaptureFixture[str], rule: str
) -> None:
    report = run_json(
        ["aggregate", str(input_file), "--rule", rule, "-f", "1", "--plaintext", "--json"], capsys
    )
    assert report["mode"] == "plaintext" and report["weights"] is None


def test_kappa_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            [
                "kappa",
                "--rule",
                "krum,median",
                "-n",
                "7",
                "-f",
                "1",
                "--restarts",
                "1",
                "--steps",
                "5",
                "--json",
            ]
        )
        == 0
    )
    rows = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["rule"] for r in rows] == ["krum", "median"]
    assert all(r["kappa_found"] <= r["published_bound"] for r in rows)
    assert rows[0]["lower_bound"] == pytest.approx(0.2)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rule", "krum", "-n", "4", "-f", "1"], "need n > 2f + 2 (C6.3)"),
        (["--rule", "krum", "-n", "4", "-f", "2"], "need 0 <= f < n/2"),
        (["--rule", "nope", "-n", "9", "-f", "1"], "unknown rule 'nope'"),
    ],
)
def test_kappa_bad_input(capsys: pytest.CaptureFixture[str], args: list[str], message: str) -> None:
    assert main(["kappa", *args]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.spec("C15.1")
def test_paillier_triples_from_the_command_line(
    input_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = input_file.parent / "small.npy"
    np.save(small, np.load(input_file)[:5, :3])
    report = run_json(
        [
            "aggregate",
            str(small),
            "--rule",
            "krum",
            "-f",
            "1",
            "--triples",
            "paillier",
            "--seed",
            "1",
            "--json",
        ],
        capsys,
    )
    links = report["bytes"]
    assert report["triples"] == "paillier" and isinstance(links, dict)
    assert report["paillier_obfuscators"] == "key-holder"
    # S0 and S1 make the Beaver material; the dealer still supplies range validation's (C8.14).
    assert links["dealer->S0"] == links["dealer->S1"] > 0 and links["S1->S0"] > 0
    plain = run_json(
        ["aggregate", str(small), "--rule", "krum", "-f", "1", "--plaintext", "--json"], capsys
    )
    assert report["weights"] == plain["weights"] and plain["paillier_obfuscators"] is None
    args = ["aggregate", str(small), "--rule", "krum", "-f", "1", "--triples", "paillier"]
    short = run_json([*args, "--paillier-obfuscators", "short-exponent", "--json"], capsys)
    assert short["paillier_obfuscators"] == "short-exponent"
    assert short["weights"] == plain["weights"]
    bad = ["aggregate", str(small), "--rule", "krum", "-f", "1"]
    assert main([*bad, "--paillier-obfuscators", "short-exponent"]) == 2
    assert "applies only to --triples paillier" in capsys.readouterr().err


@pytest.mark.spec("C20.6")
@pytest.mark.parametrize("impl", ["optimized", "reference"])
def test_masks_protocol_from_the_command_line(
    input_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], impl: str
) -> None:
    out, transcript = tmp_path / "z.npy", tmp_path / "t.bin"
    args = ["aggregate", str(input_file), "--protocol", "masks", "--impl", impl, "--seed", "3"]
    args += ["--dropout", "2:input", "--dropout", "5:unmask", "--threshold", "6"]
    args += ["--json", "--out", str(out), "--transcript", str(transcript)]
    report = run_json(args, capsys)
    x = np.load(input_file)
    counted = [i for i in range(N) if i != 2]
    assert report["mode"] == "masks" and report["output"] == "mean" and report["rule"] == "mean"
    assert report["valid"] == counted and report["threshold"] == 6
    assert report["dropouts"] == {"2": "input", "5": "unmask"}
    excluded = report["excluded"]
    assert isinstance(excluded, list) and [e["worker"] for e in excluded] == [2]
    assert report["survivors"]["unmask"] == [i for i in counted if i != 5]  # type: ignore[index]
    assert np.max(np.abs(np.load(out) - x[counted].mean(axis=0))) <= 2.0**-17
    weights = report["weights"]
    assert isinstance(weights, list) and weights[2] == 0 and sum(weights) == pytest.approx(1)
    assert isinstance(report["bytes"], dict) and report["bytes"]["W0->S"] > 8 * D
    assert transcript.read_bytes()[:8] == b"SBRMLTR1"
    assert report["transcript_sha256"] is not None


def test_masks_summary_says_it_is_the_mean(
    input_file: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["aggregate", str(input_file), "--protocol", "masks"]) == 0
    assert "the MEAN of the 9 workers" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--protocol", "masks", "--rule", "krum", "-f", "2"], "has no robust rule"),
        (["--protocol", "masks", "--dropout", "9:input"], "--dropout '9:input'"),
        (["--protocol", "masks", "--dropout", "1:later"], "ROUND one of"),
        (["--protocol", "masks", "--dropout", "1:input", "--dropout", "1:share"], "twice"),
        (["--protocol", "masks", "--threshold", "1"], "C20.1"),
        (["--protocol", "masks", "--variant", "pairwise"], "--variant"),
        (["--protocol", "masks", "--plaintext"], "--plaintext"),
        (["--protocol", "masks", "--threshold", "9", "--dropout", "0:share"], "C20.3"),
        (["--rule", "krum"], "--rule krum needs -f F"),
    ],
)
def test_masks_bad_options(
    input_file: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["aggregate", str(input_file), *args]) == 2
    assert message in capsys.readouterr().err
