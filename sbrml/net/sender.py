"""The sending half of a party's endpoint (D23.3): every party sends.

A message travels as one client-streaming call ``/sbrml.v1.Party/Deliver`` of its frames
(D23.2) over mutual TLS, to the address the deployment gives for its receiver. The sender
retries while the receiver has not reached the message's round (C23.3), never sends a
message twice, and turns the receiver's answer into DeliveryRefused (with the clause the
receiver cited) or DeliveryFailed (C23.4).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Mapping
from typing import Any

from sbrml.core.channel import Message
from sbrml.core.errors import ParameterError, shown
from sbrml.extras import require
from sbrml.net.frames import encode_frames
from sbrml.net.service import DELIVER, GRPC_OPTIONS, LISTENERS, DeliveryFailed, DeliveryRefused
from sbrml.net.tls import Credentials, cert_name, channel_credentials

require("net", "sbrml.net.sender")
import grpc  # noqa: E402  (after the extra's check, so a missing grpcio names the extra)

__all__ = ["Sender"]

_CLAUSE = re.compile(r"\(([CD]\d+\.\d+)\); got")


class Sender:
    """Implements the sending side of D23.3 for party ``credentials.party`` (``me``).

    ``peers`` maps ``S0``, ``S1`` or the dealer (never ``me``) to the address to send to;
    one gRPC channel per peer is opened on first use and kept until ``_close_links``.
    ``sbrml.net.transport.Endpoint`` is the public face.
    """

    def __init__(self, credentials: Credentials, *, peers: Mapping[str, str] | None = None) -> None:
        self.me = credentials.party
        self.credentials = credentials
        self.peers = dict(peers or {})
        for party in self.peers:
            if party not in LISTENERS or party == self.me:
                raise ParameterError(
                    "Endpoint",
                    "peers",
                    "addresses of S0, S1 or the dealer, not of itself (D23.3)",
                    "D23.3",
                    shown(sorted(self.peers)),
                )
        self._links: dict[str, tuple[Any, Any, str]] = {}
        self._links_lock = threading.Lock()

    def _link(self, receiver: str) -> tuple[Any, Any, str]:
        # One gRPC channel per peer, opened on first use and kept (D23.3).
        with self._links_lock:
            link = self._links.get(receiver)
            if link is None:
                address = self.peers.get(receiver)
                if address is None:
                    raise ParameterError(
                        "Endpoint.send",
                        "receiver",
                        f"one of {sorted(self.peers)} (D23.3)",
                        "D23.3",
                        shown(receiver),
                    )
                # The client checks that the server presents the name of the party it meant.
                options = [*GRPC_OPTIONS, ("grpc.ssl_target_name_override", cert_name(receiver))]
                channel = grpc.secure_channel(
                    address, channel_credentials(self.credentials), options=options
                )
                link = self._links[receiver] = (channel, channel.stream_unary(DELIVER), address)
            return link

    def send(self, message: Message, round_id: int, timeout: float) -> None:
        """D23.3: deliver ``message`` (sender: this party) to its receiver in frames of round
        ``round_id``, blocking until acknowledged or ``timeout`` seconds have passed.

        Waits for the connection (the receiver may not listen yet), then sends once: a
        message is never sent twice, so a lost acknowledgement cannot make a duplicate.
        Raises DeliveryFailed (C23.4) when no acknowledgement comes in time (nothing
        listens, the TLS handshake fails on a certificate one side does not accept, or the
        receiver does not answer) or the connection fails; DeliveryRefused with the
        receiver's reason and clause when it refuses the message.
        """
        if message.sender != self.me:
            raise ParameterError(
                "Endpoint.send",
                "sender",
                f"this party {self.me} (C23.2)",
                "C23.2",
                shown(message.sender),
            )
        _, call, address = self._link(message.receiver)
        where = f"{self.me}->{message.receiver} at {address} {message.label!r} round {round_id}"
        deadline = time.monotonic() + timeout
        pause, not_started = 0.005, False
        while True:
            try:
                left = max(deadline - time.monotonic(), 0.001)
                call(encode_frames(round_id, message), timeout=left, wait_for_ready=True)
                return
            except grpc.RpcError as error:
                code, details = error.code(), str(error.details() or "")
                # C23.3: the receiver has not reached this round: it took nothing, so sending
                # again cannot make a duplicate.
                not_started = not_started or code == grpc.StatusCode.FAILED_PRECONDITION
                if code != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                    break
            time.sleep(min(pause, max(deadline - time.monotonic(), 0.0)))
            pause = min(pause * 2, 0.1)
        refused = (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
        )
        if code in refused:
            found = _CLAUSE.search(details)
            clause = found.group(1) if found else "D23.3"
            raise DeliveryRefused(
                "Endpoint.send", where, "the receiver's acceptance", clause, details
            ) from None
        if not_started and code in (
            grpc.StatusCode.FAILED_PRECONDITION,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        ):
            details = f"the receiver did not reach round {round_id}"
        elif code == grpc.StatusCode.DEADLINE_EXCEEDED:
            details = "no acknowledgement (no connection: nothing listens or the TLS "
            details += "handshake failed; or the receiver did not answer)"
        raise DeliveryFailed(
            "Endpoint.send",
            where,
            f"an acknowledgement within {timeout:g} s",
            "C23.4",
            f"{code.name}: {details}" if details else code.name,
        ) from None

    def _close_links(self) -> None:
        with self._links_lock:
            for channel, _, _ in self._links.values():
                channel.close()
            self._links.clear()
