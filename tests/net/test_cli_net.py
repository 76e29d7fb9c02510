"""The deployment commands' refusals, before any party listens (spec D23.4; README,
"Parties as processes"), and their exit statuses."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import numpy as np
import pytest

from sbrml.cli import main
from tests.helpers.deployment import write_deployment


@pytest.mark.spec("D23.3")
def test_certs_never_overwrites_a_deployment_ca(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "certs"
    assert main(["certs", "--dir", str(target), "--workers", "2"]) == 0
    before = (target / "ca.pem").read_bytes()
    assert main(["certs", "--dir", str(target), "--workers", "2"]) == 2
    assert "already holds a CA" in capsys.readouterr().err
    assert (target / "ca.pem").read_bytes() == before
    (tmp_path / "file").write_text("x")
    assert main(["certs", "--dir", str(tmp_path / "file"), "--workers", "2"]) == 2
    assert "a file, not a directory" in capsys.readouterr().err


@pytest.mark.spec("D23.4", "C8.15")
def test_a_variant_for_a_round_without_distances_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(
        tmp_path, rule="median", n=5, f=1, d=4, extra_round='variant = "pairwise"', certs=False
    )
    np.save(tmp_path / "x.npy", np.zeros(4))
    code = main(
        ["worker", "--config", str(config), "--index", "0", "--input", str(tmp_path / "x.npy")]
    )
    assert code == 2 and "round.variant" in capsys.readouterr().err


@pytest.mark.spec("D23.4")
def test_a_worker_round_outside_the_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(tmp_path, n=5, f=1, d=4, rounds=2)
    np.save(tmp_path / "x.npy", np.zeros(4))
    for bad in ("3", "0"):
        args = ["worker", "--config", str(config), "--index", "0"]
        assert main([*args, "--input", str(tmp_path / "x.npy"), "--round", bad]) == 2
        assert "a round the file serves, 1 to 2" in capsys.readouterr().err


@pytest.mark.spec("D23.4", "C23.2")
def test_launch_checks_every_certificate_and_the_output_before_starting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(tmp_path, n=5, f=1, d=4)
    np.save(tmp_path / "x.npy", np.zeros((5, 4)))
    (tmp_path / "certs" / "w3.key").unlink()
    start = time.monotonic()
    assert main(["launch", "--config", str(config), "--input", str(tmp_path / "x.npy")]) == 2
    assert "w3.key" in capsys.readouterr().err and time.monotonic() - start < 10
    config = write_deployment(tmp_path / "other", n=5, f=1, d=4)
    (tmp_path / "other" / "results").write_text("a file where the records go")
    assert main(["launch", "--config", str(config), "--input", str(tmp_path / "x.npy")]) == 2
    err = capsys.readouterr().err
    assert "output.directory" in err and "results: cannot create a file in it (" in err
    assert ".sbrml-write-check" not in err  # the reason, not the probe's own path


@pytest.mark.spec("D23.4")
def test_serve_on_a_taken_port_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(tmp_path, n=5, f=1, d=4)
    address = config.read_text().split('address = "127.0.0.1:')[1].split('"')[0]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", int(address)))
        taken.listen()
        assert main(["serve", "s0", "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert "an address this host can bind" in err and "listen" in err


@pytest.mark.spec("C23.4", "C8.4")
def test_launch_exits_3_when_a_round_stopped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(
        tmp_path, n=5, f=1, d=4, timeouts="share = 2\noffline = 10\npeer = 10"
    )
    x = np.random.default_rng(1).normal(size=(5, 4))
    x[1, 0] = np.nan  # W1 refuses its own input: 4 workers are too few for Krum with f = 1
    np.save(tmp_path / "x.npy", x)
    assert main(["launch", "--config", str(config), "--input", str(tmp_path / "x.npy")]) == 3
    captured = capsys.readouterr()
    assert "round 1 S1: stopped" in captured.out
    assert "1 of 1 round(s) stopped" in captured.err and "(C8.4)" in captured.err


@pytest.mark.spec("D23.4", "D6.7")
def test_the_rules_hyperparameters_come_from_the_round_options(tmp_path: Path) -> None:
    from sbrml.net.config import ConfigError, load_deployment, round_setup_of

    config = write_deployment(
        tmp_path,
        rule="multikrum",
        n=7,
        f=1,
        d=4,
        extra_round='options = { m = 3, convention = "byzfl" }',
        certs=False,
    )
    rule = round_setup_of(load_deployment(config)).rule
    assert (rule.m, rule.convention) == (3, "byzfl")
    (tmp_path / "bad").mkdir()
    bad = write_deployment(
        tmp_path / "bad", rule="krum", n=7, f=1, d=4, extra_round="options = { m = 3 }", certs=False
    )
    with pytest.raises(ConfigError, match=r"round\.rule"):
        round_setup_of(load_deployment(bad))


@pytest.mark.spec("C23.3")
def test_a_worker_says_whom_it_waits_for_and_how_long(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It printed nothing for the whole wait when no server was up (new-user review).
    config = write_deployment(tmp_path, n=5, f=1, d=4, timeouts="share = 1\noffline = 1\npeer = 1")
    np.save(tmp_path / "x.npy", np.zeros(4))
    args = ["worker", "--config", str(config), "--index", "2", "--input", str(tmp_path / "x.npy")]
    assert main(args) != 0  # no server listens: the delivery fails after its deadline
    err = capsys.readouterr().err
    assert "W2 sends its shares for round 1 to S0 at 127.0.0.1:" in err
    assert "waiting up to 3 s (share + offline + peer)" in err
