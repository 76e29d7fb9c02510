"""An in-memory channel that plays S1 alone (D23.1), for per-party tests without threads."""

from __future__ import annotations

from typing import Any

from sbrml.core.channel import Channel


class OnlyS1(Channel):
    """Plays S1 alone and hands it, in order, what S0 sent in a recorded run of both servers."""

    def __init__(self, recorded: Channel) -> None:
        super().__init__()
        self.replies: list[Any] = [m.payload for m in recorded.messages if m.sender == "S0"]

    def plays(self, party: str) -> bool:
        return party == "S1"

    def exchange(self, label: str, payload0: Any, payload1: Any) -> tuple[Any, Any]:
        if payload0 is not None or payload1 is None:
            raise AssertionError(f"{label}: S1 alone sent {payload1!r}, S0 {payload0!r}")
        return None, self.replies.pop(0)
