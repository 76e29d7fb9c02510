"""A thread-backed channel that plays one party (spec section 23, D23.1), for testing
per-party execution without a network: every party runs in its own thread and sees only the
messages sent to it, as copies (so no party reads another's memory)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

import numpy as np

from sbrml.core.channel import Channel, Message, Payload, wire_payload
from sbrml.core.errors import ParameterError, RoundAborted, shown
from sbrml.net.parties import run_dealer, run_server, run_worker
from sbrml.optimized import DeterministicRandomSource
from sbrml.optimized.round_offline import RoundSetup

TIMEOUT = 20.0  # seconds a ThreadChannel waits for a message, unless told otherwise
# What a deviating party does to each message it sends: the message to post, or None (withheld).
MessageTamper = Callable[[Message], Message | None]


class Hub:
    """The shared wire: per receiver, the messages sent to it, in arrival order."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.inbox: dict[str, list[Message]] = {}

    def post(self, message: Message) -> None:
        with self.cond:
            self.inbox.setdefault(message.receiver, []).append(message)
            self.cond.notify_all()


class ThreadChannel(Channel):
    """Plays ``me``; records its own view (sent and received messages) like a network
    channel: received messages ordered by the ``senders`` list, an exchange S0's first.
    ``tamper`` rewrites or withholds each message this party sends (a deviating party)."""

    def __init__(
        self,
        me: str,
        hub: Hub,
        *,
        timeout: float = TIMEOUT,
        cut: str = "",
        tamper: MessageTamper | None = None,
    ) -> None:
        super().__init__()
        self.me, self.hub, self.timeout = me, hub, timeout
        self.cut = cut  # a label whose payloads this party sends 8 bytes short (a deviation)
        self.tamper = tamper

    def plays(self, party: str) -> bool:
        return party == self.me

    def _record(self, message: Message) -> None:
        self._count_bytes(message)
        self.messages.append(message)

    def _post(self, sender: str, receiver: str, label: str, payload: Payload) -> Message | None:
        """Post one message; returns what went on the wire (None: the tamper withheld it)."""
        if sender != self.me:
            raise ParameterError("ThreadChannel.send", "sender", self.me, "D23.1", sender)
        data = bytes(wire_payload(payload))
        message = Message(sender, receiver, label, data[:-8] if label == self.cut else data)
        sent = self.tamper(message) if self.tamper is not None else message
        if sent is not None:
            self.hub.post(sent)
        return sent

    def send(self, sender: str, receiver: str, label: str, payload: Payload) -> None:
        message = self._post(sender, receiver, label, payload)
        if message is not None:
            self._record(message)

    def deliver(self, message: Message) -> None:
        self.send(message.sender, message.receiver, message.label, message.payload)

    def receive(
        self, receiver: str, label: str, *, senders: Sequence[str] | None = None
    ) -> list[Message]:
        taken = self._wait(receiver, label, senders)
        for m in taken:
            self._record(m)
        return taken

    def receive_one(self, receiver: str, label: str, sender: str) -> Message | None:
        got = self._wait(receiver, label, [sender], first=True)
        for m in got:
            self._record(m)
        return got[0] if got else None

    def _wait(
        self, receiver: str, label: str, senders: Sequence[str] | None, first: bool = False
    ) -> list[Message]:
        if receiver != self.me:
            raise ParameterError("ThreadChannel.receive", "receiver", self.me, "D23.1", receiver)
        deadline = time.monotonic() + self.timeout
        wanted = set(senders or [])
        with self.hub.cond:
            while True:
                box = self.hub.inbox.get(receiver, [])
                have = {m.sender for m in box if m.label == label}
                left = deadline - time.monotonic()
                if wanted <= have or left <= 0 or (not wanted and have):
                    break
                self.hub.cond.wait(left)
            taken = [m for m in box if m.label == label and (not wanted or m.sender in wanted)]
            if first:
                taken = taken[:1]
            self.hub.inbox[receiver] = [m for m in box if not any(m is t for t in taken)]
        order = {name: k for k, name in enumerate(senders or [])}
        taken.sort(key=lambda m: order.get(m.sender, len(order)))
        return taken

    def exchange(
        self, label: str, payload0: Payload | None, payload1: Payload | None
    ) -> tuple[Payload | None, Payload | None]:
        s = 0 if self.me == "S0" else 1
        other = "S1" if s == 0 else "S0"
        # D23.1: the share of a server this channel does not play is absent (None), so a
        # step that computed the other server's part anyway is caught here.
        absent = payload1 if s == 0 else payload0
        if absent is not None:
            raise ParameterError(
                "ThreadChannel.exchange",
                f"payload{1 - s}",
                f"None: {other} is not played here, its share is absent",
                "D23.1",
                shown(absent),
            )
        mine = self._post(self.me, other, label, payload0 if s == 0 else payload1)  # type: ignore[arg-type]
        got = self._wait(self.me, label, [other], first=True)
        if not got:
            raise RoundAborted(
                "ThreadChannel.exchange", label, f"the message from {other}", "C23.4", "none"
            )
        # Recorded in canonical order, S0's message first (D7.6).
        for m in [mine, got[-1]] if s == 0 else [got[-1], mine]:
            if m is not None:
                self._record(m)
        out: list[Payload | None] = [None, None]
        out[s] = got[-1].payload
        return out[0], out[1]


def play_in_threads(
    setup: RoundSetup,
    inputs: np.ndarray[Any, Any],
    *,
    seed: int,
    timeout: float = TIMEOUT,
    silent: Collection[str] = (),
    join: float = 60.0,
    cut: tuple[str, str] = ("", ""),
    tamper: Mapping[str, MessageTamper] | None = None,
) -> tuple[dict[str, ThreadChannel], dict[str, Any]]:
    """One round of ``setup`` with S0, S1, the dealer and every worker in a thread of its
    own, each over a ThreadChannel that waits ``timeout`` seconds; the parties in ``silent``
    never take part; ``cut = (party, label)`` makes that party send every payload of that
    label 8 bytes short (a deviating party, C23.4); ``tamper[party]`` rewrites or withholds
    each message that party sends. Each party draws from its own copy of
    the root seed, as a deployment's parties do. Returns every party's channel and, per
    server, its result, and per party that raised, the exception (so that the test fails on
    it or checks it)."""
    n = inputs.shape[0]
    hub = Hub()
    names = ["S0", "S1", "dealer"] + [f"W{i}" for i in range(n)]
    tampers = tamper or {}
    channels = {
        p: ThreadChannel(
            p, hub, timeout=timeout, cut=cut[1] if p == cut[0] else "", tamper=tampers.get(p)
        )
        for p in names
    }
    out: dict[str, Any] = {}

    def play(party: str) -> None:
        rng = DeterministicRandomSource(seed)
        try:
            if party == "dealer":
                run_dealer(setup, rng=rng, channel=channels[party])
            elif party.startswith("W"):
                i = int(party[1:])
                run_worker(setup, i, inputs[i], rng=rng, channel=channels[party])
            else:
                out[party] = run_server(setup, party, rng=rng, channel=channels[party])
        except Exception as err:  # reported to the test
            out[party] = err

    threads = [threading.Thread(target=play, args=(p,)) for p in names if p not in silent]
    for t in threads:
        t.start()
    for t in threads:
        t.join(join)
    return channels, out
