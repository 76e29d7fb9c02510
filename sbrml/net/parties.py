"""What each party of a deployment runs (spec/23-deployment.md P23.1), on any channel that
plays that party: the network channel of ``sbrml.net.channel`` in a deployment, a
thread-backed one in tests. The protocol steps are the optimized tree's own (D23.1)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Any, cast

from numpy.typing import ArrayLike

from sbrml.core.channel import Channel
from sbrml.core.dealer_requests import REQUEST_LABEL, decode_request
from sbrml.core.errors import ParameterError, RoundAborted
from sbrml.core.randomness import RandomSource
from sbrml.core.round import PhaseClock, RoundResult
from sbrml.optimized.beaver import Dealer
from sbrml.optimized.remote_dealer import RemoteDealer
from sbrml.optimized.ring import F64, U64
from sbrml.optimized.round import server_round, worker_messages
from sbrml.optimized.round_offline import RoundSetup, draws_online, offline_material

__all__ = ["run_dealer", "run_server", "run_worker"]


def _check_plays(function: str, channel: Channel, party: str) -> None:
    if not channel.plays(party):
        raise ParameterError(function, "channel", f"a channel that plays {party}", "D23.1", "no")


def run_dealer(setup: RoundSetup, *, rng: RandomSource, channel: Channel) -> None:
    """P23.1 step 2: draw the round's offline material from ``rng.derive("dealer")`` (C8.1)
    and send each server its part, in P8.1 step 0's order; then, in a round that compares on
    shares, answer S0's requests until it says ``end`` (P23.2)."""
    _check_plays("run_dealer", channel, "dealer")
    dealer = Dealer(rng=rng.derive("dealer"))
    offline_material(setup, dealer, dealer, channel=channel, clock=PhaseClock())
    if not draws_online(setup):
        return
    # P23.2: S0 asks for each draw of the round's comparisons, then says "end".
    while True:
        message = channel.receive_one("dealer", REQUEST_LABEL, "S0")
        if message is None:
            raise RoundAborted(
                "run_dealer", REQUEST_LABEL, "S0's next request (P23.2)", "C23.4", "none"
            )
        name, args = decode_request(message.payload)
        if name == "end":
            return
        if name == "masks":
            dealer.masks(args[0], args[1], high=bool(args[2]), channel=channel)
        else:
            getattr(dealer, name)(*args, channel=channel)


def run_worker(
    setup: RoundSetup,
    index: int,
    x: ArrayLike,
    *,
    rng: RandomSource,
    channel: Channel,
    compute_lock: AbstractContextManager[Any] | None = None,
    before_send: Callable[[], None] | None = None,
) -> None:
    """P23.1 step 3 (P8.1 step 1): worker ``index`` encodes ``x``, checks its bounds (raising
    the SpecError of C8.2 or C8.13 for its own bad input, before anything is sent), shares it
    from ``rng.derive("worker/<index>")`` and sends share s to S<s>."""
    name = f"W{index}"
    _check_plays("run_worker", channel, name)
    # Many workers as threads of one process (launch) encode one at a time: concurrent
    # BLAS calls from 100 threads ran about 70 times slower than the same calls in turn.
    with compute_lock or nullcontext():
        messages = worker_messages(
            index,
            x,
            rng=rng.derive(f"worker/{index}"),
            frac_bits=setup.frac_bits,
            bound_log2=setup.bits,
        )
    if before_send is not None:  # the input passed its checks: the shares go out now
        before_send()
    for m in messages:
        channel.send(m.sender, m.receiver, m.label, m.payload)


def run_server(
    setup: RoundSetup, server: str, *, rng: RandomSource, channel: Channel
) -> RoundResult[F64, U64]:
    """P23.1 steps 4-5 for ``server`` (``S0`` or ``S1``): receive the dealer's material and
    the workers' shares, then run P8.1 steps 2-5 with the other server. ``rng`` is this
    server's own source (S1 derives ``S1`` from it, C8.1). In S0's result ``z`` is None."""
    _check_plays("run_server", channel, server)
    clock = PhaseClock()
    dealer = RemoteDealer(channel)
    material = offline_material(setup, dealer, cast(Dealer, dealer), channel=channel, clock=clock)
    return server_round(
        setup,
        material,
        channel=channel,
        clock=clock,
        dealer=cast(Dealer, dealer),
        s1_rng=rng,
    )
