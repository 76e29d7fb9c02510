"""The gRPC endpoint of one party (D23.3): mutual TLS, one client-streaming call per message.

``S0``, ``S1`` and the dealer listen (``sbrml.net.listener``); every party sends
(``sbrml.net.sender``); both use the service of ``sbrml.net.service``. ``Endpoint`` joins the
two halves, and this module re-exports the names they share, so that a deployment imports
the transport from one place.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sbrml.core.errors import ParameterError
from sbrml.extras import require
from sbrml.net.frames import DEFAULT_MAX_PAYLOAD
from sbrml.net.service import (
    DELIVER,
    GRPC_OPTIONS,
    LISTENERS,
    DeliveryFailed,
    DeliveryRefused,
    Refusal,
)
from sbrml.net.tls import Credentials

# Checked before the two halves are imported, so that a missing grpcio names this module.
require("net", "sbrml.net.transport")
from sbrml.net.listener import REASON_CHARS, REFUSALS_PER_SENDER, Listener  # noqa: E402
from sbrml.net.sender import Sender  # noqa: E402

__all__ = [
    "DELIVER",
    "GRPC_OPTIONS",
    "LISTENERS",
    "REASON_CHARS",
    "REFUSALS_PER_SENDER",
    "DeliveryFailed",
    "DeliveryRefused",
    "Endpoint",
    "Refusal",
]


class Endpoint(Listener, Sender):
    """Implements D23.3: one party's gRPC endpoint, listening when it is ``S0`` or ``S1``.

    ``credentials`` name the party (``me``). ``listen`` (``host:port``; port 0 picks a free
    one, read back from ``port``) makes ``S0``/``S1`` serve ``/sbrml.v1.Party/Deliver`` with
    client certificates required. ``peers`` maps ``S0``/``S1`` to the address to send to;
    one gRPC channel per peer is opened on first use and kept. ``round_id`` is the round the
    listener serves first; ``max_payload`` bounds a message's claimed length before it is
    allocated (an int, or a function of the certified sender, so that a worker's bound is
    its share's size); ``max_workers`` is the number of concurrent incoming calls; a call
    that has not delivered its message within ``call_timeout`` seconds is cancelled, and a
    party has at most one call in progress, so that no party can hold the listener's
    threads (C23.4). ``accept`` says which certified parties may send to this listener at
    all (the workers of the round and the other parties it expects; default: any).
    """

    def __init__(
        self,
        credentials: Credentials,
        *,
        listen: str | None = None,
        peers: Mapping[str, str] | None = None,
        round_id: int = 1,
        max_payload: int | Callable[[str], int] = DEFAULT_MAX_PAYLOAD,
        max_workers: int = 16,
        call_timeout: float = 60.0,
        accept: Callable[[str], bool] | None = None,
    ) -> None:
        Listener.__init__(
            self,
            credentials,
            round_id=round_id,
            max_payload=max_payload,
            call_timeout=call_timeout,
            accept=accept,
        )
        # The listener's set-up raises nothing: the peers are checked first, then ``listen``.
        Sender.__init__(self, credentials, peers=peers)
        if listen is not None:
            if self.me not in LISTENERS:
                raise ParameterError(
                    "Endpoint",
                    "listen",
                    "only S0, S1 and the dealer listen",
                    "D23.3",
                    f"{self.me} at {listen}",
                )
            self._listen(listen, max_workers)

    def close(self, grace: float = 5.0) -> None:
        """Stop listening and close the channels to peers. Calls in progress get ``grace``
        seconds to finish: the last message of a round (S0's ``output``) is acknowledged
        after S1 has used it, and S0 must not see that acknowledgement lost (C23.4)."""
        self._stop(grace)
        self._close_links()

    def __enter__(self) -> Endpoint:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
