"""The public set-up of a round and its offline material (spec/08-round.md P8.1 step 0,
spec/23-deployment.md): what a party holding no input needs to play its part, shared by the
in-process round and the parties of a deployment (``sbrml.net``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sbrml.core.dealer_requests import draws_online as rounds_draw_online
from sbrml.core.errors import ShapeError, shown
from sbrml.core.leakage import check_provider, needs_distances, round_bound_log2
from sbrml.core.network import gate_count
from sbrml.core.params import pairs
from sbrml.core.round import PhaseClock, check_round_inputs
from sbrml.core.rules import Rule
from sbrml.optimized.beaver import Dealer, TripleProvider
from sbrml.optimized.channel import Channel
from sbrml.optimized.ring import DEFAULT_FRAC_BITS, WEIGHT_FRAC_BITS

__all__ = ["Material", "RoundSetup", "draws_online", "offline_material", "round_setup"]


@dataclass(frozen=True)
class RoundSetup:
    """The public parameters of one round, as every party of it knows them (D8.1, C8.15):
    ``bits`` is the round's coordinate bound b, ``distance`` whether it computes D."""

    n: int
    d: int
    rule: Rule
    variant: str
    leakage: str
    frac_bits: int
    weight_frac_bits: int
    bits: int
    distance: bool


def round_setup(
    n: int,
    d: int,
    rule: Rule,
    *,
    variant: str = "gram",
    leakage: str | None = None,
    frac_bits: int = DEFAULT_FRAC_BITS,
    weight_frac_bits: int = WEIGHT_FRAC_BITS,
    provider: TripleProvider | None = None,
) -> RoundSetup:
    """D8.1 and C8.15 for a round of ``n`` workers of dimension ``d``, checked before any
    work: what a party that holds no input (a server, the dealer) needs to play its part."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise ShapeError("round_setup", "n", "an int n >= 1", "D8.1", shown(n))
    n, d, leakage = check_round_inputs(
        range(n),  # a party without inputs: only their number counts
        rule,
        variant,
        d,
        frac_bits,
        weight_frac_bits,
        leakage,
    )
    distance = needs_distances(rule, leakage)
    check_provider(provider, distance, rule.name, leakage)
    bits = round_bound_log2(leakage, rule, n, d)  # C8.15: refused before work
    return RoundSetup(n, d, rule, variant, leakage, frac_bits, weight_frac_bits, bits, distance)


@dataclass
class Material:
    """P8.1 step 0: each server's offline material (None for a server not played here)."""

    gram: tuple[Any, Any] | None
    squares: tuple[Any, Any] | None
    range_check: tuple[Any, Any, Any]


def offline_material(
    setup: RoundSetup,
    source: TripleProvider,
    dealer: Dealer,
    *,
    channel: Channel,
    clock: PhaseClock,
) -> Material:
    """Implements P8.1 step 0: the distance material from ``source``, then range validation's
    from ``dealer``, in the order the spec fixes, so that a dealer in its own process and
    the servers receiving from it (``sbrml.net``) make the same requests (section 23)."""
    n, d, bits = setup.n, setup.d, setup.bits
    gram = squares = None
    if setup.distance and setup.variant == "gram":
        g = source.gram_triple(n, d, channel=channel)
        # C4.6: S0 precomputes A0 A0^T offline.
        gram = (g[0].with_aat() if g[0] is not None else g[0], g[1])
    elif setup.distance:
        squares = source.square_pairs(len(pairs(n)) * d, channel=channel)
    clock.lap("offline_triples")
    lanes = n * d
    range_material = (
        dealer.masks(lanes, bits + 1, high=True, channel=channel),
        dealer.dabits(lanes, channel=channel),
        dealer.and_triples(lanes, gate_count(bits + 1), channel=channel),
    )
    clock.lap("offline_comparison")
    return Material(gram, squares, range_material)


def draws_online(setup: RoundSetup) -> bool:
    """P23.2: whether the round draws dealer material while it runs (the coordinate-wise
    rules on shares and Krum's hidden modes), so that S0 sends the dealer requests."""
    return rounds_draw_online(setup.rule, setup.distance, setup.leakage)
