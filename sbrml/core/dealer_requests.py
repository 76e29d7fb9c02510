"""Dealer material drawn during a round (spec/23-deployment.md P23.2), shared by both trees.

Rounds that compare on shares (P22.2, P22.5, P22.7) draw material whose size depends on
``|V|`` while they run. Before each such draw ``S0`` asks the dealer for it with one message
(label ``offline/request``), and at the round's end sends ``end``; in one process the dealer
answers at once, in a deployment its own process does (``sbrml.net.parties.run_dealer``).
The request holds only public sizes.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from sbrml.core.channel import Channel
from sbrml.core.errors import RoundAborted
from sbrml.core.rules import is_distance_rule

__all__ = ["REQUEST_LABEL", "TimedDealer", "decode_request", "draws_online", "encode_request"]

REQUEST_LABEL = "offline/request"
# P23.2: the kind codes and how many u64 arguments follow each.
KINDS: dict[str, tuple[int, int]] = {
    "end": (0, 0),
    "scalar_triples": (1, 1),
    "square_pairs": (2, 1),
    "and_triples": (3, 2),
    "masks": (4, 3),
    "dabits": (5, 1),
    "row_triples": (6, 2),
}
_BY_CODE = {code: (name, count) for name, (code, count) in KINDS.items()}


def encode_request(name: str, args: Sequence[int]) -> bytes:
    """P23.2: the kind's code then its arguments, each a u64 LE (masks: lanes, bits, high)."""
    code, count = KINDS[name]
    if len(args) != count:
        raise ValueError(f"{name} takes {count} arguments, got {len(args)}")
    return b"".join(int(v).to_bytes(8, "little") for v in (code, *args))


def decode_request(payload: Any) -> tuple[str, list[int]]:
    """Parse a request (P23.2); anything else means ``S0`` deviated, and the dealer stops
    the round (RoundAborted, C23.4)."""
    raw = bytes(payload)
    words = [int.from_bytes(raw[k : k + 8], "little") for k in range(0, len(raw), 8)]
    kind = _BY_CODE.get(words[0]) if words and len(raw) % 8 == 0 else None
    if kind is None or len(words) != 1 + kind[1]:
        raise RoundAborted(
            "decode_request",
            "payload",
            "a request of P23.2 (a kind code and its u64 arguments)",
            "C23.4",
            f"{len(raw)} bytes",
        )
    return kind[0], words[1:]


class TimedDealer:
    """Forwards every call to a dealer and counts the seconds they take, so that material
    drawn during an online phase is reported as offline work (C8.8); before each call, ``S0``
    sends the dealer the request of P23.2 (when the channel plays ``S0``)."""

    def __init__(self, dealer: Any):
        self._dealer = dealer
        self._seconds = 0.0
        self._ended = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._dealer, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                channel: Channel = kwargs["channel"]
                if channel.plays("S0"):
                    extra = [int(kwargs["high"])] if name == "masks" else []
                    payload = encode_request(name, [*args, *extra])
                    channel.send("S0", "dealer", REQUEST_LABEL, payload)
                return method(*args, **kwargs)
            finally:
                self._seconds += time.perf_counter() - start

        return timed

    def finish(self, channel: Channel) -> None:
        """P23.2: ``S0`` tells the dealer that the round draws nothing more."""
        self._ended = True
        if channel.plays("S0"):
            channel.send("S0", "dealer", REQUEST_LABEL, encode_request("end", []))

    def stop(self, channel: Channel, draws_online: bool, error: Exception) -> None:
        """P23.2: a round that stops at ``S0`` with ``error`` before its ``end`` (C8.4, C23.4)
        sends ``end`` now, in a round that draws online, so that the dealer serves the next
        round rather than wait out its deadline for a request that will not come; not when
        the dealer is the cause (a ``RoundAborted`` naming an ``offline/`` message: the dealer
        sent nothing, or took nothing), which would only make S0 wait on it once more."""
        dealer_gone = isinstance(error, RoundAborted) and "offline/" in error.parameter
        if not draws_online or self._ended or dealer_gone:
            return
        self._ended = True
        # The dealer may be gone (the very cause of the stop): the round's own error is the
        # one raised, whether or not this message is delivered.
        if channel.plays("S0"):
            with contextlib.suppress(Exception):
                channel.send("S0", "dealer", REQUEST_LABEL, encode_request("end", []))

    def take(self) -> float:
        """The seconds counted since the last call, and start again from zero."""
        seconds, self._seconds = self._seconds, 0.0
        return seconds


def draws_online(rule: Any, distance: bool, leakage: str) -> bool:
    """P23.2: whether a round draws dealer material while it runs — the coordinate-wise rules
    on shares (P22.2) and Krum's hidden modes (P22.5, P22.7) — so that S0 sends requests."""
    return not is_distance_rule(rule) or (distance and leakage != "distances")
