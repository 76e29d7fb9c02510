"""A server's side of the dealer when the dealer runs in its own process
(spec/23-deployment.md D23.1): every request receives the material that the dealer's
process sent this server and parses it into the objects the in-process ``Dealer`` returns.

The dealer sends one message per request and server, its shares concatenated in field order
(P4.1, P21.1, P22.6); the requests' order and sizes follow from the round's public
parameters (P8.1 step 0), so the server asks for exactly what the dealer sends.
"""

from __future__ import annotations

from typing import Any, TypeVar, cast

from sbrml.core.channel import SERVERS, Channel
from sbrml.core.errors import ParameterError
from sbrml.core.round import peer_payload
from sbrml.optimized.beaver import GramShares, RowTriples, SquareShares, TripleShares
from sbrml.optimized.channel import unpack_ring
from sbrml.optimized.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    check_lanes,
    plane_words,
)
from sbrml.optimized.ring import U64

__all__ = ["RemoteDealer"]

T = TypeVar("T")


class RemoteDealer:
    """Implements D4.4 and P21.1 for the server ``channel`` plays: the same methods as
    ``Dealer``, each returning ``(shares of S0, shares of S1)`` with the other server's
    absent (None, D23.1). A missing message stops the round (C23.4); one of the wrong length
    too, since only the dealer, outside the threat model's adversary, sends it."""

    def __init__(self, channel: Channel) -> None:
        played = channel.servers()
        if len(played) != 1:
            raise ParameterError(
                "RemoteDealer",
                "channel",
                "a channel that plays exactly one server",
                "D23.1",
                f"servers {played}",
            )
        self._server = played[0]

    def _take(self, channel: Channel, label: str, count: int) -> U64:
        name = SERVERS[self._server]
        payload = peer_payload(channel, name, label, "dealer")
        return unpack_ring(f"RemoteDealer {name}", label, payload, count)

    def _pair(self, shares: T) -> tuple[T, T]:
        out: list[Any] = [None, None]
        out[self._server] = shares
        return cast(T, out[0]), cast(T, out[1])

    def scalar_triples(self, count: int, *, channel: Channel) -> tuple[TripleShares, TripleShares]:
        """P4.1 (a): ``[a | b | c]``, ``count`` elements each."""
        buf = self._take(channel, "offline/triples", 3 * count)
        return self._pair(TripleShares(*buf.reshape(3, count)))

    def square_pairs(self, count: int, *, channel: Channel) -> tuple[SquareShares, SquareShares]:
        """P4.1 (b): ``[a | b]``."""
        buf = self._take(channel, "offline/squares", 2 * count)
        return self._pair(SquareShares(buf[:count], buf[count:]))

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]:
        """P4.1 (c): ``[A | C]``, A rows x cols and C rows x rows, row-major."""
        size = rows * cols
        buf = self._take(channel, "offline/gram", size + rows * rows)
        shares = GramShares(buf[:size].reshape(rows, cols), buf[size:].reshape(rows, rows))
        return self._pair(shares)

    def and_triples(
        self, lanes: int, count: int, *, channel: Channel
    ) -> tuple[AndTriples, AndTriples]:
        """P21.1 (a): ``[a | b | c]`` of shape ``(3, count, words)``."""
        check_lanes("RemoteDealer.and_triples", "lanes", lanes)
        words = plane_words(lanes)
        buf = self._take(channel, "offline/and", 3 * count * words).reshape(3, count, words)
        return self._pair(AndTriples(lanes, buf[0], buf[1], buf[2]))

    def masks(
        self, lanes: int, bits: int, *, high: bool, channel: Channel
    ) -> tuple[MaskShares, MaskShares]:
        """P21.1 (b): ``[r | rho | h]`` (h with high part only)."""
        check_lanes("RemoteDealer.masks", "lanes", lanes)
        words = plane_words(lanes)
        end = lanes + bits * words
        buf = self._take(channel, "offline/masks", end + (lanes if high else 0))
        planes = buf[lanes:end].reshape(bits, words)
        return self._pair(MaskShares(lanes, bits, buf[:lanes], planes, buf[end:] if high else None))

    def dabits(self, lanes: int, *, channel: Channel) -> tuple[DaBitShares, DaBitShares]:
        """P21.1 (c): ``[beta | q]``."""
        check_lanes("RemoteDealer.dabits", "lanes", lanes)
        words = plane_words(lanes)
        buf = self._take(channel, "offline/dabits", words + lanes)
        return self._pair(DaBitShares(lanes, buf[:words], buf[words:]))

    def row_triples(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[RowTriples, RowTriples]:
        """P22.6: ``[a | B | C]``."""
        size = rows * cols
        buf = self._take(channel, "offline/rows", rows + 2 * size)
        b = buf[rows : rows + size].reshape(rows, cols)
        return self._pair(RowTriples(buf[:rows], b, buf[rows + size :].reshape(rows, cols)))
