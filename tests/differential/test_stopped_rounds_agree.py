"""P23.2 and C23.1 on rounds that stop: in a round that draws dealer material online, S0 sends
`end` as the round stops (C8.4), in both trees, so the in-process transcripts of a stopped
round agree byte for byte (the deployed views equal the in-process ones, C23.1). Before spec
0.8 neither tree sent it; then only the optimized tree did (review of session 10)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.optimized.round as opt_round
import sbrml.reference as ref
import sbrml.reference.round as ref_round
from sbrml.core.channel import Message
from sbrml.core.dealer_requests import REQUEST_LABEL, TimedDealer, encode_request
from sbrml.core.errors import InsufficientWorkersError, RoundAborted
from sbrml.rulespec import build_rule

END = encode_request("end", [])
CASES = [
    ("median", 2, None, True),
    ("meamed", 2, None, True),
    ("krum", 1, "index", True),
    ("nnm+krum", 1, "output", True),
    ("krum", 1, None, False),  # draws nothing online: no `end` at all
    ("mean", 0, None, False),
]


def _stopped_transcript(
    tree: ModuleType, module: Any, monkeypatch: pytest.MonkeyPatch, spec: str, f: int, leakage: Any
) -> tuple[bytes, list[Message]]:
    made: list[Any] = []
    base = module.Channel

    class Kept(base):  # type: ignore[misc, valid-type]
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            made.append(self)

    monkeypatch.setattr(module, "Channel", Kept)
    n = 6 if f == 1 else 5
    x = np.random.default_rng(3).normal(size=(n, 3))
    x[1, 0] = x[2, 0] = 1e12  # refused by their own workers (C8.13): C8.4 after exclusions
    if spec == "mean":
        x[:, 0] = 1e12
    kwargs = {} if leakage is None else {"leakage": leakage}
    with pytest.raises(InsufficientWorkersError):
        tree.secure_aggregate(
            x, build_rule(tree, spec, f), rng=tree.DeterministicRandomSource(5), **kwargs
        )
    channel = made[-1]
    return channel.transcript_bytes(), channel.view()


@pytest.mark.spec("C23.1")
@pytest.mark.parametrize(("spec", "f", "leakage", "online"), CASES)
def test_a_stopped_round_sends_end_in_both_trees_and_their_transcripts_agree(
    monkeypatch: pytest.MonkeyPatch, spec: str, f: int, leakage: Any, online: bool
) -> None:
    ref_bytes, ref_view = _stopped_transcript(ref, ref_round, monkeypatch, spec, f, leakage)
    opt_bytes, _ = _stopped_transcript(opt, opt_round, monkeypatch, spec, f, leakage)
    assert ref_bytes == opt_bytes
    ends = [m for m in ref_view if m.label == REQUEST_LABEL and bytes(m.payload) == END]
    assert len(ends) == (1 if online else 0)
    if online:
        assert ref_view[-1] == ends[0]  # sent as the round stops: nothing after it


class _Sent:
    def __init__(self) -> None:
        self.messages: list[tuple[str, str, str]] = []

    def plays(self, party: str) -> bool:
        return True

    def send(self, sender: str, receiver: str, label: str, payload: Any) -> None:
        self.messages.append((sender, receiver, label))


@pytest.mark.spec("C23.4")
def test_stop_sends_end_once_and_never_to_a_dealer_that_is_the_cause() -> None:
    stop = InsufficientWorkersError("f", "n", "n > 2f", "C8.4", "3")
    gone = RoundAborted("f", "phase 'offline/request'", "delivery", "C23.4", "none")
    for online, error, after_end, sent in [
        (True, stop, False, 1),
        (False, stop, False, 0),
        (True, stop, True, 1),  # the one `end` of finish, not a second
        (True, gone, False, 0),  # the dealer is gone: S0 must not wait on it once more
        (True, RoundAborted("f", "output", "S1's output", "C23.4", "none"), False, 1),
    ]:
        channel, timed = _Sent(), TimedDealer(object())
        if after_end:
            timed.finish(channel)  # type: ignore[arg-type]
        timed.stop(channel, online, error)  # type: ignore[arg-type]
        assert channel.messages == [("S0", "dealer", REQUEST_LABEL)] * sent
