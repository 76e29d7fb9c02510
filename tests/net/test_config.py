"""The deployment file (spec/23-deployment.md D23.4): every refusal is a ``ConfigError``
naming the file, the key and the value, raised before any party listens or connects; the
command line (``sbrml serve ... --config``) exits 2 with that message and no traceback.

Each case edits one line of a valid file (``tests.helpers.deployment.write_deployment``:
Krum, n = 6, f = 1, d = 8).
"""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

import pytest

from sbrml.cli import main
from sbrml.core.errors import ParameterError
from sbrml.net.channel import NetworkChannel, Timeouts
from sbrml.net.config import TIMEOUT_MAX, ConfigError, load_deployment, round_setup_of
from sbrml.net.tls import load_credentials, make_certificates
from sbrml.net.transport import Endpoint
from tests.helpers.deployment import write_deployment

ROOT = Path(__file__).resolve().parents[2]

# (id, edits of the valid file (old text, new text), the key named, the value named). The
# value is the text the message quotes: the repr of what the file holds, or the reason.
A0 = 'address = "127.0.0.1:'  # the start of S0's address line, replaced with a bad one
LOAD_CASES: list[tuple[str, list[tuple[str, str]], str, str]] = [
    ("missing round key", [("n = 6\n", "")], "round.n", "'nothing'"),
    ("missing table", [('[tls]\nca = "certs/ca.pem"\n', "")], "[tls]", "None"),
    ("missing tls key", [('ca = "certs/ca.pem"', "")], "tls.ca", "None"),
    (
        "missing address",
        [("[parties.dealer]\naddress", "[parties.dealer]\n#")],
        "parties.dealer.address",
        "None",
    ),
    ("missing worker key", [('key = "certs/w{i}.key"', "")], "workers.key", "None"),
    ("unknown section", [("[output]", "[extra]\n[output]")], "the file.extra", "'extra'"),
    ("unknown round key", [("[round]", "[round]\nseed = 1")], "round.seed", "'seed'"),
    (
        "unknown party key",
        [("[parties.s0]", "[parties.s0]\nport = 1")],
        "parties.s0.port",
        "'port'",
    ),
    ("unknown party", [("[workers]", "[parties.w0]\n[workers]")], "parties.w0", "'w0'"),
    ("unknown timeout", [("[timeouts]", "[timeouts]\ntotal = 5")], "timeouts.total", "'total'"),
    ("string for an int", [("n = 6", 'n = "6"')], "round.n", "'6'"),
    ("bool for an int", [("n = 6", "n = true")], "round.n", "True"),
    ("int for a string", [('rule = "krum"', "rule = 5")], "round.rule", "5"),
    (
        "value for a table",
        [('[output]\ndirectory = "results"', ""), ("[round]", "output = 5\n[round]")],
        "[output]",
        "5",
    ),
    ("int for a path", [('cert = "certs/s0.pem"', "cert = 5")], "parties.s0.cert", "5"),
    ("int for the output", [('directory = "results"', "directory = 5")], "output.directory", "5"),
    ("string for seconds", [("share = 10", 'share = "10"')], "timeouts.share", "'10'"),
    ("zero d", [("d = 8", "d = 0")], "round.d", "0"),
    ("zero first round", [("rounds = 1", "rounds = 1\nfirst_round = 0")], "round.first_round", "0"),
    ("no port", [(A0, 'address = "localhost"\n#')], "parties.s0.address", "'localhost'"),
    ("port 0", [(A0, 'address = "127.0.0.1:0"\n#')], "parties.s0.address", "'127.0.0.1:0'"),
    ("port too high", [(A0, 'address = "h:65536"\n#')], "parties.s0.address", "'h:65536'"),
    ("no host", [(A0, 'address = ":5000"\n#')], "parties.s0.address", "':5000'"),
    ("port by name", [(A0, 'address = "h:http"\n#')], "parties.s0.address", "'h:http'"),
    ("zero seconds", [("share = 10", "share = 0")], "timeouts.share", "0"),
    ("negative seconds", [("peer = 20", "peer = -1")], "timeouts.peer", "-1"),
    ("infinite seconds", [("share = 10", "share = inf")], "timeouts.share", "inf"),
    ("NaN seconds", [("offline = 20", "offline = nan")], "timeouts.offline", "nan"),
    ("seconds beyond the bound", [("share = 10", "share = 1e7")], "timeouts.share", "10000000.0"),
    ("template without {i}", [("w{i}.pem", "w.pem")], "workers.cert", "'certs/w.pem'"),
    (
        "template with another field",
        [("w{i}.key", "w{i}{j}.key")],
        "workers.key",
        "'certs/w{i}{j}.key'",
    ),
    (
        "template with {i} escaped",
        [("w{i}.pem", "w{{i}}.pem")],
        "workers.cert",
        "'certs/w{{i}}.pem'",
    ),
    ("bad TOML", [("n = 6", "n = [")], "file", "Invalid"),
    ("duplicate key", [("n = 6", "n = 6\nn = 7")], "file", "Cannot overwrite"),
]
# Refused by the round itself (round_setup_of, which every party runs first).
ROUND_CASES = [
    ("n the rule refuses", "n = 6", "n = 4", "round.n", "n=4, f=1"),
    ("negative f", "f = 1", "f = -1", "round.f", "got -1"),
    ("unknown rule", 'rule = "krum"', 'rule = "krume"', "round.rule", "unknown rule 'krume'"),
    ("unknown variant", "[round]", '[round]\nvariant = "bogus"', "round.variant", "'bogus'"),
    ("frac_bits out of range", "[round]", "[round]\nfrac_bits = 99", "round.frac_bits", "99"),
]


def edit(path: Path, *edits: tuple[str, str]) -> Path:
    """Replace the first occurrence of each ``old`` with ``new`` in the file, in order."""
    text = path.read_text(encoding="utf-8")
    for old, new in edits:
        assert old in text, old
        text = text.replace(old, new, 1)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def config(tmp_path: Path) -> Path:
    return write_deployment(tmp_path, certs=False)


def check_names(error: ConfigError, path: Path, key: str, value: str) -> None:
    assert error.clause == "D23.4" and error.parameter == key
    assert str(error).startswith(f"deployment file {path}: {key}: need ")
    assert value in error.got, (value, error.got)


@pytest.mark.spec("D23.4")
def test_the_valid_file_loads(config: Path) -> None:
    deployment = load_deployment(config)
    assert deployment.round == {"rule": "krum", "n": 6, "f": 1, "d": 8, "rounds": 1}
    assert deployment.timeouts == {"share": 10.0, "offline": 20.0, "peer": 20.0}
    assert deployment.party("W3").cert == config.parent / "certs" / "w3.pem"
    assert deployment.output == config.parent / "results"
    assert round_setup_of(deployment).n == 6


@pytest.mark.spec("D23.4", "C23.4")
@pytest.mark.parametrize(
    ("edits", "key", "value"), [c[1:] for c in LOAD_CASES], ids=[c[0] for c in LOAD_CASES]
)
def test_each_refusal_names_the_file_the_key_and_the_value(
    config: Path, edits: list[tuple[str, str]], key: str, value: str
) -> None:
    edit(config, *edits)
    with pytest.raises(ConfigError) as info:
        load_deployment(config)
    check_names(info.value, config, key, value)


@pytest.mark.spec("D23.4", "C6.3", "D6.7")
@pytest.mark.parametrize(
    ("old", "new", "key", "value"), [c[1:] for c in ROUND_CASES], ids=[c[0] for c in ROUND_CASES]
)
def test_a_round_the_protocol_refuses_names_its_key_and_values(
    config: Path, old: str, new: str, key: str, value: str
) -> None:
    deployment = load_deployment(edit(config, (old, new)))
    with pytest.raises(ConfigError) as info:
        round_setup_of(deployment)
    check_names(info.value, config, key, value)


@pytest.mark.spec("D23.4")
@pytest.mark.parametrize("kind", ["missing", "directory", "not UTF-8"])
def test_an_unreadable_file_is_refused(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "deployment.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "not UTF-8":
        path.write_bytes(b'[round]\nrule = "\xff"\n')
    with pytest.raises(ConfigError) as info:
        load_deployment(path)
    check_names(info.value, path, "file", "")
    assert {"missing": "No such file", "directory": "Is a directory", "not UTF-8": "utf-8"}[
        kind
    ] in info.value.got


BAD_SECONDS = [float("inf"), float("nan"), -1.0, 10 * TIMEOUT_MAX]


@pytest.mark.spec("D23.4", "C23.4")
@pytest.mark.parametrize("seconds", [0.0, *BAD_SECONDS])
def test_timeouts_that_would_never_end_or_overflow_are_refused(seconds: float) -> None:
    with pytest.raises(ParameterError, match=r"^Timeouts: share: need seconds in \(0, 1e\+06\]"):
        Timeouts(share=seconds)
    assert Timeouts(share=TIMEOUT_MAX).share == TIMEOUT_MAX


@pytest.mark.spec("C23.4")
def test_a_phase_deadline_is_finite(tmp_path: Path) -> None:
    files = make_certificates(tmp_path, ["W0"])["W0"]
    with Endpoint(load_credentials(files.ca, files.cert, files.key, party="W0")) as endpoint:
        channel = NetworkChannel(endpoint, round_id=1)
        for seconds in BAD_SECONDS:
            with pytest.raises(ParameterError, match=r"set_deadline: seconds: .*\(C23\.4\)"):
                channel.set_deadline(seconds)
        for allowed in (0, TIMEOUT_MAX, None):  # 0: a deadline that has passed
            channel.set_deadline(allowed)


def free(address: str) -> bool:
    host, _, port = address.rpartition(":")
    with socket.socket() as sock:
        try:
            sock.bind((host, int(port)))
        except OSError:
            return False
    return True


CLI_CASES = [
    ("n = 6", "n = 4", "round.n"),
    ("share = 10", "share = inf", "timeouts.share"),
    ('rule = "krum"', "rule = 5", "round.rule"),
]


@pytest.mark.spec("D23.4")
@pytest.mark.parametrize("party", ["s0", "s1", "dealer"])
@pytest.mark.parametrize(("old", "new", "key"), CLI_CASES)
def test_sbrml_serve_exits_2_naming_the_key_before_it_listens(
    config: Path, capsys: pytest.CaptureFixture[str], party: str, old: str, new: str, key: str
) -> None:
    edit(config, (old, new))
    assert main(["serve", party, "--config", str(config)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"sbrml: error: deployment file {config}: {key}: need ")
    assert "Traceback" not in captured.err and captured.err.count("\n") == 1
    text = config.read_text()
    addresses = [line.split('"')[1] for line in text.splitlines() if line.startswith("address")]
    assert len(addresses) == 3 and all(free(a) for a in addresses)


@pytest.mark.spec("D23.4")
def test_the_sbrml_process_exits_2_with_the_message_and_no_traceback(config: Path) -> None:
    edit(config, ("f = 1", "f = 2"))
    done = subprocess.run(
        [sys.executable, "-m", "sbrml.cli", "serve", "s0", "--config", str(config)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    assert done.stdout == ""
    assert done.stderr.startswith(f"sbrml: error: deployment file {config}: round.n: need ")
    assert "n=6, f=2" in done.stderr and "Traceback" not in done.stderr
