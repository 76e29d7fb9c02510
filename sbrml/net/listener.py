"""The listening half of a party's endpoint (D23.3): ``S0``, ``S1`` and the dealer.

A call ``/sbrml.v1.Party/Deliver`` carries the frames of one message (D23.2) and is answered
by an empty acknowledgement, or by ``PERMISSION_DENIED`` (C23.2), ``INVALID_ARGUMENT``
(D23.2, C23.3) or ``RESOURCE_EXHAUSTED`` (C23.3) with the reason. The listener serves one
round at a time (C23.3): it refuses frames of earlier rounds, answers "not started" to later
ones (the sender retries), and lists refused messages per round with their certified sender
(a few per sender, reasons cut short) so that the round can exclude and report them.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent import futures
from typing import Any

from sbrml.core.channel import Message
from sbrml.core.errors import ParameterError, SpecError, shown
from sbrml.core.reasons import REASON_CHARS, public_text
from sbrml.extras import require
from sbrml.net.frames import DEFAULT_MAX_PAYLOAD, Frame, FrameError, Reassembler, decode_frame
from sbrml.net.service import GRPC_OPTIONS, Refusal
from sbrml.net.tls import Credentials, party_of, server_credentials

require("net", "sbrml.net.listener")
import grpc  # noqa: E402  (after the extra's check, so a missing grpcio names the extra)

__all__ = ["REASON_CHARS", "REFUSALS_PER_SENDER", "Listener"]

REFUSALS_PER_SENDER = 5  # refusals listed per sender and round (C23.3); the rest are counted


class _NotYet(Exception):
    # A message of a round this party has not reached: refused without a report (C23.3).
    def __init__(self, error: SpecError) -> None:
        super().__init__(str(error))
        self.error = error


class _Refuse(Exception):
    # Carries a refusal from the checks to the handler, which answers it with a status.
    def __init__(self, code: Any, error: SpecError) -> None:
        super().__init__(str(error))
        self.code = code


def _cancelled() -> _Refuse:
    return _Refuse(
        grpc.StatusCode.CANCELLED,
        SpecError("Deliver", "call", "every frame of the message", "C23.4", "cancelled"),
    )


class Listener:
    """Implements the receiving side of D23.3 for party ``credentials.party`` (``me``).

    ``round_id`` is the round served first; ``max_payload`` bounds a message's claimed
    length before it is allocated (an int, or a function of the certified sender, so that a
    worker's bound is its share's size); a call that has not delivered its message within
    ``call_timeout`` seconds is cancelled, and a party has at most one call in progress, so
    that no party can hold the listener's threads (C23.4). ``accept`` says which certified
    parties may send to this listener at all (default: any). Nothing listens until
    ``_listen`` binds an address; ``sbrml.net.transport.Endpoint`` is the public face.
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        round_id: int = 1,
        max_payload: int | Callable[[str], int] = DEFAULT_MAX_PAYLOAD,
        call_timeout: float = 60.0,
        accept: Callable[[str], bool] | None = None,
    ) -> None:
        self.me = credentials.party
        self.credentials = credentials
        self.max_payload = max_payload
        self.call_timeout = call_timeout
        self.accept = accept
        self._active: dict[str, int] = {}
        self._shares: dict[tuple[int, str], int] = {}
        self._refusals: dict[tuple[int, str], int] = {}
        self._round = round_id
        self._cond = threading.Condition()
        self._inbox: dict[int, list[Message]] = {}
        self._refused: dict[int, list[Refusal]] = {}
        self._active_lock = threading.Lock()
        self._server: Any = None
        self.port: int | None = None

    def _listen(self, address: str, max_workers: int) -> None:
        server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="sbrml-rx"),
            # No SO_REUSEPORT (gRPC's default on Linux): a second deployment on the same port
            # must fail to bind, not share the port and receive half of the other's messages.
            options=[*GRPC_OPTIONS, ("grpc.so_reuseport", 0)],
        )
        handler = grpc.stream_unary_rpc_method_handler(self._deliver)
        server.add_generic_rpc_handlers(
            (grpc.method_handlers_generic_handler("sbrml.v1.Party", {"Deliver": handler}),)
        )
        try:
            port = server.add_secure_port(address, server_credentials(self.credentials))
        except RuntimeError:  # gRPC raises when the address is taken or not on this host
            port = 0
        if not port:
            raise ParameterError(
                "Endpoint",
                "listen",
                "an address this host can bind: a free port on one of its interfaces (a server "
                'reached through another address sets listen = "0.0.0.0:<port>")',
                "D23.4",
                shown(address),
            )
        server.start()
        self._server, self.port = server, int(port)

    @property
    def round_id(self) -> int:
        """The round the listener serves (C23.3)."""
        return self._round

    def start_round(self, round_id: int) -> None:
        """C23.3: serve ``round_id`` from now on (senders waiting for it are answered on
        their next try), and what is left of earlier rounds is dropped. ParameterError (C23.3)
        for a round below the current one."""
        with self._cond:
            if (
                isinstance(round_id, bool)
                or not isinstance(round_id, int)
                or round_id < self._round
            ):
                raise ParameterError(
                    "Endpoint.start_round",
                    "round_id",
                    f"an int >= the current round {self._round}",
                    "C23.3",
                    shown(round_id),
                )
            self._round = round_id
            for table in (self._inbox, self._refused):
                for old in [r for r in table if r < round_id]:
                    del table[old]
            for counts in (self._shares, self._refusals):
                for key in [k for k in counts if k[0] < round_id]:
                    del counts[key]
            self._cond.notify_all()

    def refused(self, round_id: int | None = None) -> list[Refusal]:
        """C23.3: the messages refused in ``round_id`` (default: the current round), in order."""
        with self._cond:
            return list(self._refused.get(self._round if round_id is None else round_id, []))

    def take(self, label: str, senders: Sequence[str] | None, deadline: float) -> list[Message]:
        """Remove and return the current round's messages with ``label``, waiting until the
        monotonic ``deadline`` for them.

        With ``senders``, waits until each has delivered a message with that label or had
        one refused in this round; returns the listed senders' messages in the order of
        ``senders`` (arrival order for one sender), then any other sender's in arrival
        order. Without, waits for the first such message and returns all there are.
        A sender with nothing by the deadline is simply absent.
        """
        self._check_listening("Endpoint.take")
        with self._cond:
            while True:
                box = self._inbox.get(self._round, [])
                mine = [m for m in box if m.label == label]
                if self._complete(mine, label, senders) or not self._wait(deadline):
                    break
            self._inbox[self._round] = [m for m in box if m.label != label]
        if senders is None:
            return mine
        order = {s: k for k, s in enumerate(senders)}
        return sorted(mine, key=lambda m: order.get(m.sender, len(order)))

    def take_one(self, label: str, sender: str, deadline: float) -> Message | None:
        """Remove and return the earliest message of the current round that ``sender`` sent
        with ``label``, waiting until the monotonic ``deadline``; None if none came (or the
        sender's message with that label was refused). A later message with the same label
        stays for the next step."""
        self._check_listening("Endpoint.take_one")
        with self._cond:
            while True:
                box = self._inbox.get(self._round, [])
                for k, m in enumerate(box):
                    if m.label == label and m.sender == sender:
                        del box[k]
                        return m
                if self._complete([], label, [sender]) or not self._wait(deadline):
                    return None

    def _check_listening(self, function: str) -> None:
        if self._server is None:
            raise ParameterError(
                function, "me", "a listening party (S0, S1 or the dealer)", "D23.3", shown(self.me)
            )

    def _wait(self, deadline: float) -> bool:
        # Under self._cond: wait for news until the deadline; False once it has passed.
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        self._cond.wait(left)
        return True

    def _complete(self, mine: list[Message], label: str, senders: Sequence[str] | None) -> bool:
        if senders is None:
            return bool(mine)
        done = {m.sender for m in mine}
        done.update(
            r.sender
            for r in self._refused.get(self._round, [])
            if r.round_id in (None, self._round) and r.label in (None, label)
        )
        return all(s in done for s in senders)

    def _deliver(self, frames: Iterator[bytes], context: Any) -> bytes:
        # D23.3: the handler of one call. Failures become an error status; context.abort
        # raises, so it is called outside the try blocks.
        names = context.auth_context().get("x509_common_name") or [b""]
        peer = party_of(names[0].decode("utf-8", "replace"))
        if peer is None:
            error = SpecError(
                "Deliver", "certificate", "a certificate naming a party", "C23.2", shown(names[0])
            )
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        party = str(peer)
        if self.accept is not None and not self.accept(party):
            error = SpecError(
                "Deliver", "certificate", "a party this listener expects (C8.3)", "C23.2", party
            )
            self._report(Refusal(party, str(error)))
            context.abort(grpc.StatusCode.PERMISSION_DENIED, str(error))
        with self._active_lock:
            busy = self._active.get(party, 0) > 0
            if not busy:
                self._active[party] = 1
        if busy:
            # C23.4: every party sends one message at a time; a second call in progress would
            # only hold a listener thread.
            error = SpecError(
                "Deliver", "call", "one message at a time per party", "C23.4", "a second call"
            )
            self._report(Refusal(party, str(error)))
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED, str(error))
        watchdog = threading.Timer(self.call_timeout, context.cancel)
        watchdog.daemon = True
        watchdog.start()
        try:
            return self._receive_call(frames, context, party)
        finally:
            watchdog.cancel()
            with self._active_lock:
                self._active.pop(party, None)

    def _receive_call(self, frames: Iterator[bytes], context: Any, peer: str) -> bytes:
        limit = self.max_payload(peer) if callable(self.max_payload) else self.max_payload
        assembler = Reassembler(max_payload=limit)
        failure: _Refuse | None = None
        head: Frame | None = None
        try:
            for data in frames:
                if head is None:
                    # C23.2 and C23.3 on the first frame's header, before any allocation.
                    head = decode_frame(data)
                    self._check(head, str(peer))
                assembler.add(data)
            message = assembler.finish()
            self._accept(assembler, message)
        except FrameError as error:
            failure = _Refuse(grpc.StatusCode.INVALID_ARGUMENT, error)
            if not context.is_active():
                # The stream ended because the client went away, not because it sent a short
                # message: gRPC ends the iterator or raises, whichever comes first.
                failure = _cancelled()
        except _NotYet as not_yet:
            # C23.3: not a fault; the sender retries until this party reaches the round.
            context.abort(grpc.StatusCode.FAILED_PRECONDITION, str(not_yet.error))
        except _Refuse as refusal:
            failure = refusal
        except grpc.RpcError:  # the client went away in the middle of the message
            failure = _cancelled()
        if failure is None:
            return b""
        self._report(
            Refusal(
                str(peer),
                str(failure),
                None if head is None else head.round_id,
                None if head is None else head.label,
            )
        )
        context.abort(failure.code, str(failure))
        return b""  # pragma: no cover - abort raises

    def _check(self, first: Frame, peer: str) -> None:
        if first.sender != peer:
            raise _Refuse(
                grpc.StatusCode.PERMISSION_DENIED,
                SpecError(
                    "Deliver", "sender", f"the certified party {peer}", "C23.2", shown(first.sender)
                ),
            )
        if first.receiver != self.me:
            raise _Refuse(
                grpc.StatusCode.PERMISSION_DENIED,
                SpecError(
                    "Deliver", "receiver", f"this party {self.me}", "C23.2", shown(first.receiver)
                ),
            )
        if peer.startswith("W") and first.label != "share":
            # C23.3: a worker sends only its share; nothing else of it is kept.
            raise _Refuse(
                grpc.StatusCode.INVALID_ARGUMENT,
                SpecError("Deliver", "label", "a worker's share (P8.1)", "C23.3", "another label"),
            )
        self._check_round(first.round_id)

    def _check_round(self, round_id: int) -> None:
        if round_id < self._round:
            raise _Refuse(
                grpc.StatusCode.INVALID_ARGUMENT,
                SpecError(
                    "Deliver",
                    "round",
                    f"the current round {self._round} or a later one (a replay or late message)",
                    "C23.3",
                    str(round_id),
                ),
            )
        if round_id > self._round:
            raise _NotYet(
                SpecError(
                    "Deliver",
                    "round",
                    f"the current round {self._round}; round {round_id} has not started "
                    "(the sender retries)",
                    "C23.3",
                    str(round_id),
                )
            )

    def _accept(self, assembler: Reassembler, message: Message) -> None:
        round_id = assembler.round_id
        if round_id is None:  # pragma: no cover - finish() returned a message
            return
        with self._cond:
            # The round may have moved on while the frames arrived.
            self._check_round(round_id)
            if message.sender.startswith("W"):
                # Two shares are kept, so that C8.3 excludes their sender; more would only
                # take memory (C23.3).
                key = (round_id, message.sender)
                self._shares[key] = self._shares.get(key, 0) + 1
                if self._shares[key] > 2:
                    raise _Refuse(
                        grpc.StatusCode.RESOURCE_EXHAUSTED,
                        SpecError(
                            "Deliver", "share", "at most two per worker and round", "C23.3", "more"
                        ),
                    )
            self._inbox.setdefault(round_id, []).append(message)
            self._cond.notify_all()

    def _report(self, refusal: Refusal) -> None:
        # Reported in the round being served: a frame of a later round is never taken (C23.3),
        # so a refusal cannot be filed under a round that may never come. A few per sender,
        # each reason cut short: a sender's names and repeated calls cannot fill the record.
        with self._cond:
            key = (self._round, refusal.sender)
            count = self._refusals[key] = self._refusals.get(key, 0) + 1
            if count <= REFUSALS_PER_SENDER:
                # The label and a reason quoting the sender's names may carry newlines or
                # terminal escapes: both escaped and cut before the record keeps them.
                label = None if refusal.label is None else public_text(refusal.label)
                reason = public_text(refusal.reason)
                entry = Refusal(refusal.sender, reason, refusal.round_id, label)
                self._refused.setdefault(self._round, []).append(entry)
            elif count == REFUSALS_PER_SENDER + 1:
                more = "further messages refused and not listed (C23.3)"
                self._refused.setdefault(self._round, []).append(Refusal(refusal.sender, more))
            self._cond.notify_all()

    def _stop(self, grace: float) -> None:
        # Calls in progress get ``grace`` seconds to finish (see Endpoint.close).
        if self._server is not None:
            self._server.stop(grace=grace).wait(grace + 1.0)
