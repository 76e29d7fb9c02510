"""The network channel: the channel interface of section 7 over the gRPC transport, for one
party (D23.1, D23.3, C23.4).

A round's protocol code runs unchanged over it: ``send`` transmits and waits for the
acknowledgement, ``receive`` waits for the named senders until the phase deadline, and
``exchange`` is the two servers' opening (D7.6). Every message the party sends or receives is
counted (C7.2) and, with ``record=True``, recorded in the order the in-process round records
it, so the party's transcript equals its in-process view (C23.1).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

from sbrml.core.channel import SERVERS, Channel, Message, Payload, wire_payload
from sbrml.core.dealer_requests import REQUEST_LABEL
from sbrml.core.errors import ParameterError, RoundAborted, SpecError, shown
from sbrml.net.config import TIMEOUT_MAX
from sbrml.net.transport import Endpoint

__all__ = ["NetworkChannel", "Timeouts"]


@dataclass(frozen=True)
class Timeouts:
    """D23.4: seconds per phase. ``share``: until the workers' shares are due at a server;
    ``offline``: until the dealer's material is; ``peer``: for each message from the other
    server, and for any send to be acknowledged. Each in (0, TIMEOUT_MAX]: every wait ends
    (C23.4)."""

    share: float = 30.0
    offline: float = 60.0
    peer: float = 60.0

    def __post_init__(self) -> None:
        for name in ("share", "offline", "peer"):
            value = getattr(self, name)
            if (
                isinstance(value, bool)
                or not isinstance(value, int | float)
                or not 0 < value <= TIMEOUT_MAX
            ):
                raise ParameterError(
                    "Timeouts", name, f"seconds in (0, {TIMEOUT_MAX:g}]", "D23.4", shown(value)
                )


class NetworkChannel(Channel):
    """Implements D23.1 over D23.3: the channel of one party (``endpoint.me``) in round
    ``round_id``.

    Plays exactly ``endpoint.me``. A listening endpoint (S0, S1) is moved to ``round_id``
    (C23.3). ``record`` keeps the payloads of the transcript (D7.2); byte counts are always
    kept. A receive waits until the deadline set by ``set_deadline`` (default: ``peer``
    seconds from the call); an exchange waits ``timeouts.peer`` for the other server.
    """

    def __init__(
        self,
        endpoint: Endpoint,
        *,
        round_id: int,
        record: bool = True,
        timeouts: Timeouts | None = None,
    ) -> None:
        super().__init__(record=record)
        self.endpoint = endpoint
        self.me = endpoint.me
        self.round_id = round_id
        self.timeouts = timeouts or Timeouts()
        self._deadline: float | None = None
        if endpoint.port is not None:
            endpoint.start_round(round_id)

    def plays(self, party: str) -> bool:
        """D23.1: a network channel plays its own party only."""
        return party == self.me

    def set_deadline(self, seconds: float | None) -> None:
        """C23.4: receives wait at most until ``seconds`` from now (a phase deadline, shared
        by the phase's receives; finite, at most TIMEOUT_MAX); None: each receive waits
        ``timeouts.peer`` from its call. ParameterError (C23.4) for any other value."""
        if seconds is not None and (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= TIMEOUT_MAX
        ):
            raise ParameterError(
                "NetworkChannel.set_deadline",
                "seconds",
                f"seconds in [0, {TIMEOUT_MAX:g}] or None",
                "C23.4",
                shown(seconds),
            )
        self._deadline = None if seconds is None else time.monotonic() + seconds

    def refused(self) -> list[tuple[str, str]]:
        """C23.3: ``(sender, reason)`` of every message refused in this round, in order (a
        listening party; empty for the others)."""
        if self.endpoint.port is None:
            return []
        return [(r.sender, r.reason) for r in self.endpoint.refused(self.round_id)]

    def _note(self, message: Message) -> None:
        self._count_bytes(message)
        if self.record:
            self.messages.append(message)

    def _transmit(self, message: Message) -> Message:
        if message.sender != self.me:
            raise ParameterError(
                "NetworkChannel.send",
                "sender",
                f"the party this channel plays, {self.me}",
                "C23.2",
                shown(message.sender),
            )
        wire = wire_payload(message.payload)
        if wire is not message.payload:
            message = Message(message.sender, message.receiver, message.label, wire)
        try:
            self.endpoint.send(message, self.round_id, self._send_timeout())
        except SpecError as error:
            if isinstance(error, ParameterError):
                raise
            raise self._aborted(
                message.label, f"delivery to {message.receiver}", error, self._send_timeout()
            ) from None
        return message

    def _send_timeout(self) -> float:
        # C23.3: a receiver that has not reached the round makes the sender wait. The other
        # server is at most a step behind; a worker or the dealer may be a whole round early.
        t = self.timeouts
        return t.peer if self.me in SERVERS else t.share + t.offline + t.peer

    def _aborted(
        self, label: str, wanted: str, cause: SpecError | str, seconds: float | None = None
    ) -> RoundAborted:
        got = cause if isinstance(cause, str) else str(cause)
        within = self.timeouts.peer if seconds is None else seconds
        return RoundAborted(
            f"{self.me} round {self.round_id}",
            f"phase {label!r}",
            f"{wanted} within {within:g} s",
            "C23.4",
            got,
        )

    def deliver(self, message: Message) -> None:
        """Transmit one message of this party and count and record it (C7.1, D23.3); the
        sender must be ``me`` (ParameterError, C23.2). A failed or refused delivery raises
        RoundAborted (C23.4) naming the phase, the receiver and the cause."""
        self._note(self._transmit(message))

    def receive(
        self, receiver: str, label: str, *, senders: Sequence[str] | None = None
    ) -> list[Message]:
        """D7.2 over the network: this round's messages for ``me`` with ``label``.

        Waits until every party in ``senders`` has delivered one (or had one refused) or the
        deadline passes; without ``senders``, until the first one arrives. Returns the listed
        senders' messages in the order of ``senders`` (all of a sender's, in arrival order:
        two shares from one worker both come back), then any other sender's; a sender with
        nothing by the deadline is absent. Each is counted and recorded in that order.
        """
        self._check_receiver("NetworkChannel.receive", receiver)
        taken = self.endpoint.take(label, senders, self._receive_deadline(label))
        for message in taken:
            self._note(message)
        return taken

    def receive_one(self, receiver: str, label: str, sender: str) -> Message | None:
        """The earliest message ``sender`` sent ``me`` with ``label`` in this round, waiting
        until the deadline (as ``receive``); None if it did not come. A later message with
        the same label stays for the next step. It is counted and recorded."""
        self._check_receiver("NetworkChannel.receive_one", receiver)
        message = self.endpoint.take_one(label, sender, self._receive_deadline(label))
        if message is not None:
            self._note(message)
        return message

    def _check_receiver(self, function: str, receiver: str) -> None:
        if receiver != self.me:
            raise ParameterError(
                function,
                "receiver",
                f"the party this channel plays, {self.me}",
                "D23.1",
                shown(receiver),
            )

    def _receive_deadline(self, label: str) -> float:
        # D23.4: the phase's timeout, from the moment the party starts waiting: the workers'
        # shares ("share"), the dealer's material ("offline/..."), else the other server.
        if self._deadline is not None:
            return self._deadline
        t = self.timeouts
        if label == "share":
            return time.monotonic() + t.share
        if label == REQUEST_LABEL:
            # The dealer waits for S0's requests (P23.2) while S0 may still wait for shares.
            return time.monotonic() + t.share + t.offline + t.peer
        if label.startswith("offline/"):
            return time.monotonic() + t.offline
        return time.monotonic() + t.peer

    def exchange(
        self, label: str, payload0: Payload | None, payload1: Payload | None
    ) -> tuple[Payload | None, Payload | None]:
        """Implements D7.6 and C23.4 for the server this channel plays: send its payload to
        the other server and wait ``timeouts.peer`` for the other's; record S0's message
        first, whichever arrived first. Returns ``(what S0 received, what S1 received)``
        with None for the server not played. RoundAborted (C23.4) naming the phase, the
        party and the cause when the other's message does not come or the link fails.
        """
        if self.me not in SERVERS:
            raise ParameterError(
                "NetworkChannel.exchange", "me", "S0 or S1 (D7.6)", "D23.1", shown(self.me)
            )
        s = SERVERS.index(self.me)
        other = SERVERS[1 - s]
        mine = payload0 if s == 0 else payload1
        sent = self._transmit(Message(self.me, other, label, mine if mine is not None else b""))
        # The earliest message only: the other server may already have sent its next
        # opening with the same label (one label per layer of a circuit).
        # The other server's valid list comes once it has the shares: it may still wait up to
        # `share` seconds for a worker this server has already heard from (or given up on).
        wait = self.timeouts.peer + (self.timeouts.share if label == "valid" else 0.0)
        first = self.endpoint.take_one(label, other, time.monotonic() + wait)
        if first is None:
            reasons = [r.reason for r in self.endpoint.refused(self.round_id) if r.sender == other]
            cause = f"refused: {reasons[-1]}" if reasons else f"nothing from {other}"
            raise self._aborted(label, f"{other}'s message", cause)
        for message in (sent, first) if s == 0 else (first, sent):
            self._note(message)
        return (first.payload, None) if s == 0 else (None, first.payload)
