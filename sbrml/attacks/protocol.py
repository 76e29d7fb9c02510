"""Attacks on the secure protocol's messages (spec/16-attacks.md, D16.8).

Each builds a ``tamper`` hook for ``secure_aggregate``: it rewrites the messages of one
Byzantine worker before the servers receive them.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sbrml.core.channel import Message
from sbrml.core.errors import ParameterError, shown
from sbrml.core.round import worker_name
from sbrml.optimized.randomness import RandomSource
from sbrml.optimized.ring import encode
from sbrml.optimized.sharing import share
from sbrml.reference.channel import pack_ring


def _check_worker(attack: str, worker: int) -> str:
    if isinstance(worker, bool) or not isinstance(worker, int) or worker < 0:
        raise ParameterError(attack, "worker", "a worker index >= 0", "C16.1", shown(worker))
    return worker_name(worker)


def _share_messages(sender: str, elements: np.ndarray, rng: RandomSource) -> list[Message]:
    s0, s1 = share(elements.astype(np.uint64), rng=rng)
    return [
        Message(sender, "S0", "share", pack_ring(s0.tolist())),
        Message(sender, "S1", "share", pack_ring(s1.tolist())),
    ]


class RingWrap:
    """D16.8 (a): well-formed shares of encode(x) + 2^63 on the chosen coordinates (C8.9)."""

    name = "ring-wrap"
    omniscient = False

    def __init__(
        self, worker: int, vector: Sequence[float], coordinates: Sequence[int], *, rng: RandomSource
    ):
        self.sender = _check_worker(self.name, worker)
        encoded = encode(np.asarray(vector, dtype=np.float64))
        if not coordinates or any(not 0 <= k < encoded.size for k in coordinates):
            raise ParameterError(
                self.name,
                "coordinates",
                f"indices in [0, {encoded.size})",
                "C16.1",
                shown(list(coordinates)),
            )
        encoded[list(coordinates)] += np.uint64(1 << 63)
        self.messages = _share_messages(self.sender, encoded, rng)

    def __call__(self, messages: list[Message]) -> list[Message]:
        return [m for m in messages if m.sender != self.sender] + self.messages


class InconsistentShares:
    """D16.8 (b): S1 gets the second share of a different vector than S0's share belongs to."""

    name = "inconsistent-shares"
    omniscient = False

    def __init__(self, worker: int, other: Sequence[float], *, rng: RandomSource):
        self.sender = _check_worker(self.name, worker)
        self.replacement = _share_messages(
            self.sender, encode(np.asarray(other, dtype=np.float64)), rng
        )[1]

    def __call__(self, messages: list[Message]) -> list[Message]:
        return [
            self.replacement if (m.sender, m.receiver) == (self.sender, "S1") else m
            for m in messages
        ]


class MalformedShare:
    """D16.8 (c): the share sent to ``server`` loses its last ``cut`` bytes."""

    name = "malformed-share"
    omniscient = False

    def __init__(self, worker: int, server: str = "S1", cut: int = 8):
        self.sender = _check_worker(self.name, worker)
        if (
            server not in ("S0", "S1")
            or isinstance(cut, bool)
            or not isinstance(cut, int)
            or cut < 1
        ):
            raise ParameterError(
                self.name,
                "server, cut",
                "'S0' or 'S1', and an int >= 1",
                "C16.1",
                f"{shown(server)}, {shown(cut)}",
            )
        self.server, self.cut = server, cut

    def __call__(self, messages: list[Message]) -> list[Message]:
        return [
            Message(m.sender, m.receiver, m.label, bytes(m.payload)[: -self.cut])
            if (m.sender, m.receiver) == (self.sender, self.server)
            else m
            for m in messages
        ]


class MissingShare:
    """D16.8 (d): the worker's share to ``server`` (or to both, ``server=None``) is never sent."""

    name = "missing-share"
    omniscient = False

    def __init__(self, worker: int, server: str | None = "S1"):
        self.sender = _check_worker(self.name, worker)
        if server not in ("S0", "S1", None):
            raise ParameterError(self.name, "server", "'S0', 'S1' or None", "C16.1", shown(server))
        self.server = server

    def __call__(self, messages: list[Message]) -> list[Message]:
        return [
            m
            for m in messages
            if not (m.sender == self.sender and self.server in (None, m.receiver))
        ]


class NonFiniteInput:
    """D16.8 (e): the worker's own input row becomes NaN or infinite before encoding.

    Not a message rewrite: it returns the input matrix the round is then given. The honest
    encoder refuses the row (C1.1), so the worker sends nothing and is excluded (C8.3).
    """

    name = "non-finite-input"
    omniscient = False

    def __init__(self, worker: int, value: float = float("nan")):
        _check_worker(self.name, worker)
        if value == value and abs(value) != float("inf"):  # NaN is the only value unequal to itself
            raise ParameterError(self.name, "value", "NaN or an infinity", "C16.1", shown(value))
        self.worker, self.value = worker, value

    def __call__(self, inputs: np.ndarray) -> np.ndarray:
        out = np.array(inputs, dtype=np.float64, copy=True)
        out[self.worker, 0] = self.value
        return out
