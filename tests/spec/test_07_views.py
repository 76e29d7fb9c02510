"""Section 7: a party's view of the transcript (D7.5, C7.4), and what the full one reveals."""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from sbrml.cli import main
from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError
from tests.helpers.cli import parse_transcript, reconstruct_inputs, run_error, write_input

GEN = np.random.default_rng(11)
X = GEN.standard_normal((7, 5)).round(3)


def round_channel(impl: ModuleType, seed: int = 4) -> Channel:
    data = X if impl.__name__.endswith("optimized") else X.tolist()
    result = impl.secure_aggregate(data, impl.Krum(1), rng=impl.DeterministicRandomSource(seed))
    return result.channel  # type: ignore[no-any-return]


@pytest.mark.spec("D7.5", "C7.4")
@pytest.mark.parametrize("party", ["S0", "S1", "dealer", "W3", "nobody"])
def test_a_view_is_exactly_the_party_messages(impl: ModuleType, party: str) -> None:
    channel = round_channel(impl)
    full = parse_transcript(channel.transcript_bytes())
    view = parse_transcript(channel.transcript_bytes(party=party))
    assert view == [m for m in full if party in (m[0], m[1])]
    digest = hashlib.sha256(channel.transcript_bytes(party=party)).hexdigest()
    assert channel.transcript_digest(party=party) == digest


@pytest.mark.spec("C7.4", "C7.3")
def test_views_agree_across_trees() -> None:
    import sbrml.optimized as opt
    import sbrml.reference as ref

    for party in ("S0", "S1", "dealer"):
        assert round_channel(ref).transcript_bytes(party) == round_channel(opt).transcript_bytes(
            party
        )


@pytest.mark.spec("C7.4")
def test_a_server_view_holds_no_share_sent_to_the_other_server(impl: ModuleType) -> None:
    channel = round_channel(impl)
    for me, other in (("S0", "S1"), ("S1", "S0")):
        view = parse_transcript(channel.transcript_bytes(party=me))
        assert view and all(me in (s, r) for s, r, _, _ in view)
        assert not [m for m in view if m[0].startswith("W") and m[1] == other]
        assert not [m for m in view if m[0] == "dealer" and m[1] == other]


@pytest.mark.spec("D7.3", "D7.5")
def test_the_full_transcript_reconstructs_every_input_and_a_view_does_not(
    impl: ModuleType,
) -> None:
    channel = round_channel(impl)
    inputs = reconstruct_inputs(parse_transcript(channel.transcript_bytes()))
    assert sorted(inputs) == list(range(len(X)))
    for i, row in inputs.items():
        assert np.max(np.abs(row - X[i])) <= 2.0**-17
    for party in ("S0", "S1", "dealer"):
        view = parse_transcript(channel.transcript_bytes(party=party))
        assert reconstruct_inputs(view) == {}
    # One server's share alone is uniform: it decodes to nothing near the input.
    s0 = {m[0]: m[3] for m in parse_transcript(channel.transcript_bytes("S0")) if m[2] == "share"}
    lone = np.frombuffer(s0["W0"], dtype="<u8").view(np.int64) / 2.0**16
    assert np.max(np.abs(lone - X[0])) > 1.0


@pytest.mark.spec("D7.5")
@pytest.mark.parametrize("party", ["", 7, b"S0"])
def test_a_party_is_a_nonempty_name(party: object) -> None:
    channel = Channel()
    channel.send("W0", "S0", "share", b"\0" * 8)
    with pytest.raises(ParameterError, match=r"D7\.5"):
        channel.transcript_bytes(party=party)  # type: ignore[arg-type]


def test_the_empty_view() -> None:
    channel = Channel()
    channel.send("W0", "S0", "share", b"\0" * 8)
    assert channel.transcript_bytes(party="S1") == b"SBRMLTR1" + b"\0" * 4


@pytest.mark.spec("D7.5")
@pytest.mark.parametrize("view", ["S0", "S1", "dealer"])
def test_the_command_line_writes_one_party_view(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], view: str
) -> None:
    x = write_input(tmp_path / "x.npy")
    full, part = tmp_path / "full.bin", tmp_path / "part.bin"
    args = ["aggregate", str(x), "--rule", "krum", "-f", "2", "--seed", "5"]
    assert main([*args, "--transcript", str(full)]) == 0
    err = capsys.readouterr().err
    assert "reconstructs every input" in err  # the warning the full transcript deserves
    assert main([*args, "--transcript", str(part), "--transcript-view", view]) == 0
    out, err = capsys.readouterr()
    assert "reconstructs every input" not in err and f"wrote {view}'s view" in out
    messages = parse_transcript(full.read_bytes())
    assert len(reconstruct_inputs(messages)) == 9
    seen = parse_transcript(part.read_bytes())
    assert seen == [m for m in messages if view in (m[0], m[1])]
    assert reconstruct_inputs(seen) == {}


def test_the_command_line_view_of_the_masks_server(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    x = write_input(tmp_path / "x.npy")
    t = tmp_path / "t.bin"
    args = ["aggregate", str(x), "--protocol", "masks", "--seed", "1", "--transcript", str(t)]
    assert main([*args, "--transcript-view", "S", "--json"]) == 0
    assert '"transcript_view": "S"' in capsys.readouterr().out
    view = t.read_bytes()
    assert main(args) == 0  # every message passes through S: the full transcript is its view
    assert "reconstructs every input" not in capsys.readouterr().err
    assert t.read_bytes() == view
    assert all("S" in (m[0], m[1]) for m in parse_transcript(t.read_bytes()))
    assert "not a party of --protocol masks" in run_error(
        [*args, "--transcript-view", "S0"], capsys
    )


def test_the_dealer_view_with_paillier_triples_holds_only_comparison_material(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # S0 and S1 make the Beaver material; range validation's material still comes from the
    # dealer (C8.14), so the dealer is a party of the round and has a view.
    x = write_input(tmp_path / "x.npy")
    t = tmp_path / "t.bin"
    args = ["aggregate", str(x), "--rule", "krum", "-f", "2", "--triples", "paillier"]
    args += ["--paillier-bits", "2048", "--transcript", str(t), "--transcript-view", "dealer"]
    assert main(args) == 0
    labels = {m[2] for m in parse_transcript(t.read_bytes())}
    assert labels == {"offline/masks", "offline/dabits", "offline/and"}


def test_the_help_says_what_the_full_transcript_holds(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["aggregate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "BOTH shares of every worker's input" in text and "--transcript-view" in text
