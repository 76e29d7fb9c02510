"""One secure two-server aggregation round on NumPy arrays (spec/08-round.md, P8.1).

Same steps, messages and byte-identical transcript as ``sbrml.reference.round``; the
validation and agreement logic is the reference's, fed with a zero-copy array parser.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.core.channel import each
from sbrml.core.dealer_requests import TimedDealer
from sbrml.core.errors import ShapeError
from sbrml.core.params import NORM_BOUND_LOG2, coordinate_bound_log2
from sbrml.core.range_validation import coordinate_bound_error, exclude_out_of_range
from sbrml.core.round import (
    PhaseClock,
    RoundResult,
    Tamper,
    agree_on_valid,
    check_round_inputs,
    norm_bound_error,
    peer_payload,
    run_workers,
    s1_weights,
    selected_count,
    spread_weights,
    worker_name,
)
from sbrml.core.rules import DistanceRule, Rule, is_distance_rule
from sbrml.optimized.beaver import Dealer, TripleProvider
from sbrml.optimized.channel import Channel, Message, open_ring, pack_ring, unpack_ring
from sbrml.optimized.comparison import range_check
from sbrml.optimized.distances import (
    restrict_square_pairs,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
)
from sbrml.optimized.randomness import RandomSource
from sbrml.optimized.ring import (
    DEFAULT_FRAC_BITS,
    F64,
    U64,
    WEIGHT_FRAC_BITS,
    as_real_array,
    encode_weights,
    encode_with_integers,
    sq_norm_below,
    sq_norm_encoded,
)
from sbrml.optimized.round_offline import (
    Material,
    RoundSetup,
    draws_online,
    offline_material,
    round_setup,
)
from sbrml.optimized.round_output import decoder, open_output, weighted_output
from sbrml.optimized.secure_coordinatewise import coordinatewise_numerator, publish
from sbrml.optimized.secure_selection import krum_selection, nnm_krum_selection, row_mul
from sbrml.optimized.sharing import share

__all__ = [
    "Material",
    "RoundResult",
    "RoundSetup",
    "encode_update",
    "offline_material",
    "round_setup",
    "secure_aggregate",
    "server_round",
    "worker_messages",
]


def encode_update(
    x: ArrayLike, *, frac_bits: int = DEFAULT_FRAC_BITS, bound_log2: int | None = None
) -> U64:
    """Implements P8.1 step 1a: encode (C1.1-C1.3), check the norm bound (C8.2) and the
    coordinate bound (C8.13): every coordinate in [-2^b, 2^b), b = ``bound_log2``, by default
    b(d) for d = len(x) (a round that compares Krum scores on shares passes b_h, C8.15)."""
    arr = as_real_array("encode", "values", x, frac_bits=frac_bits)  # C1.6, as the reference
    if arr.ndim != 1:
        raise ShapeError("encode_update", "x", "a vector", "D8.1", f"shape {arr.shape}")
    integers, encoded = encode_with_integers(arr, frac_bits=frac_bits)
    if not sq_norm_below(integers, encoded, NORM_BOUND_LOG2):
        raise norm_bound_error(sq_norm_encoded(encoded), frac_bits)
    bits = coordinate_bound_log2(encoded.size) if bound_log2 is None else bound_log2
    bound = float(1 << bits)  # a power of two: exact in float64
    outside = int(np.count_nonzero((integers < -bound) | (integers >= bound)))
    if outside:
        raise coordinate_bound_error(outside, encoded.size, frac_bits, bits)
    return encoded


def worker_messages(
    index: int,
    x: ArrayLike,
    *,
    rng: RandomSource,
    frac_bits: int = DEFAULT_FRAC_BITS,
    bound_log2: int | None = None,
) -> list[Message]:
    """Implements P8.1 step 1: an honest worker's two share messages."""
    share0, share1 = share(encode_update(x, frac_bits=frac_bits, bound_log2=bound_log2), rng=rng)
    sender = worker_name(index)
    return [
        Message(sender, "S0", "share", pack_ring(share0)),
        Message(sender, "S1", "share", pack_ring(share1)),
    ]


def secure_aggregate(
    inputs: Sequence[ArrayLike] | NDArray[Any],
    rule: Rule,
    *,
    rng: RandomSource,
    provider: TripleProvider | None = None,
    variant: str = "gram",
    dim: int | None = None,
    frac_bits: int = DEFAULT_FRAC_BITS,
    weight_frac_bits: int = WEIGHT_FRAC_BITS,
    tamper: Tamper | None = None,
    leakage: str | None = None,
    transcript: bool = True,
) -> RoundResult[F64, U64]:
    """Implements P8.1; see ``sbrml.reference.round.secure_aggregate`` for the steps.

    ``transcript=False`` keeps no payload (D7.2): byte counts only, no transcript.
    """
    # The inputs' own checks (D8.1), then the public set-up every party of a deployment
    # builds the same way (round_setup: C8.6, C8.11, C8.15 before any work).
    n, d, leakage = check_round_inputs(
        inputs, rule, variant, dim, frac_bits, weight_frac_bits, leakage
    )
    setup = round_setup(
        n,
        d,
        rule,
        variant=variant,
        leakage=leakage,
        frac_bits=frac_bits,
        weight_frac_bits=weight_frac_bits,
        provider=provider,
    )
    bits = setup.bits
    channel = Channel(record=transcript)
    clock = PhaseClock()

    # Step 0 (offline); range-validation material from the dealer (a Paillier provider has none).
    source = provider if provider is not None else Dealer(rng=rng.derive("dealer"))
    dealer = source if isinstance(source, Dealer) else Dealer(rng=rng.derive("dealer"))
    material = offline_material(setup, source, dealer, channel=channel, clock=clock)

    # Step 1: workers share; a worker whose own input is invalid sends nothing.
    worker_errors = run_workers(
        inputs,
        worker_messages,
        rng=rng,
        frac_bits=frac_bits,
        tamper=tamper,
        channel=channel,
        bound_log2=bits,
    )
    clock.lap("share")
    return server_round(
        setup,
        material,
        channel=channel,
        clock=clock,
        dealer=dealer,
        s1_rng=rng,
        worker_errors=worker_errors,
    )


def server_round(
    setup: RoundSetup,
    material: Material,
    *,
    channel: Channel,
    clock: PhaseClock,
    dealer: Dealer,
    s1_rng: RandomSource,
    worker_errors: dict[int, str] | None = None,
) -> RoundResult[F64, U64]:
    """Implements P8.1 steps 2-5 for the servers ``channel`` plays (section 23): both in one
    process, or one in a deployment. ``s1_rng`` is the source S1 derives its label from
    (C8.1). In S0's process of a deployment the result's ``z`` is None (S0 does not learn
    it) and its ``weights`` are the received P_i / 2^W."""
    n, d, rule, bits = setup.n, setup.d, setup.rule, setup.bits
    leakage, variant = setup.leakage, setup.variant
    frac_bits, weight_frac_bits = setup.frac_bits, setup.weight_frac_bits
    timed = TimedDealer(dealer)  # material drawn online is counted as offline (C8.8)
    try:
        # Step 2: validation and agreement on V.
        parsed, valid, excluded = agree_on_valid(
            channel, n, d, worker_errors or {}, rule, unpack_ring
        )
        clock.lap("validate")

        # Step 2, range validation (C8.14): lanes i*d + k, zero shares for workers outside V.
        lanes = n * d

        def lane_shares(s: int) -> U64:
            out = np.zeros(lanes, dtype=np.uint64)
            for i in valid:
                out[i * d : (i + 1) * d] = parsed[s][i]
            return out

        t = range_check(
            each(channel, lane_shares), *material.range_check, bits=bits, channel=channel
        )
        material.range_check = (None, None, None)
        outside_lanes = np.count_nonzero(t.reshape(n, d), axis=1)
        outside = {i: int(outside_lanes[i]) for i in valid}
        valid = exclude_out_of_range(outside, valid, excluded, n, d, rule, bits)
        excluded = dict(sorted(excluded.items()))
        clock.lap("range")
        # Each server keeps the received share payloads as rows; nothing is copied.
        x_rows = each(channel, lambda s: [parsed[s][i] for i in valid])

        p: F64 | None = None
        dist: U64 | None = None
        z: F64 | None = None
        if not is_distance_rule(rule):
            # P22.2: the coordinate-wise rule on shares; only z is opened.
            stacked = each(channel, lambda s: np.stack(x_rows[s]))
            numerator, q = coordinatewise_numerator(
                rule.name, rule.f, stacked, bits=bits, dealer=cast(Dealer, timed), channel=channel
            )
            clock.lap("compare", offline=timed.take())
            timed.finish(channel)  # P23.2: the round draws nothing more
            z = open_output(channel, numerator, d, lambda total: publish(total, q, frac_bits))
            clock.lap("output")
        elif not setup.distance:
            # The mean with leakage "output": its weights 1/|V| need no D (D9.1, C8.15).
            p = np.full(len(valid), 1.0 / len(valid))
            big_p = encode_weights(p, weight_frac_bits=weight_frac_bits)
            z = open_output(
                channel,
                weighted_output(channel, big_p, x_rows, d),
                d,
                decoder(frac_bits + weight_frac_bits),
            )
            clock.lap("output")
        else:
            # Step 3: distances over V.
            if variant == "gram":
                gram = cast(tuple[Any, Any], material.gram)
                restricted = each(channel, lambda s: gram[s].restrict(valid))
                d_shares = secure_sq_distances_gram(x_rows, restricted, channel=channel)
            else:
                squares = restrict_square_pairs(cast(Any, material.squares), n, d, valid)
                stacked = each(channel, lambda s: np.stack(x_rows[s]))
                d_shares = secure_sq_distances_pairwise(stacked, squares, channel=channel)
            d0, d1 = d_shares
            size = len(valid)
            if leakage == "distances":
                left, right = np.triu_indices(size, k=1)
                if channel.plays("S0"):
                    channel.send("S0", "S1", "distances", pack_ring(d0[left, right]))
                clock.lap("distances")
                if channel.plays("S1"):
                    # Step 4: S1 reconstructs D and runs the rule's weight function.
                    payload = peer_payload(channel, "S1", "distances", "S0")
                    upper = unpack_ring("secure_aggregate", "distances", payload, left.size)
                    dist = np.zeros((size, size), dtype=np.uint64)
                    dist[left, right] = upper + d1[left, right]
                    dist[right, left] = dist[left, right]
                    p = np.asarray(
                        s1_weights(cast(DistanceRule, rule), dist, frac_bits, s1_rng),
                        dtype=np.float64,
                    )
                    big_p = encode_weights(p, weight_frac_bits=weight_frac_bits)
                    channel.send("S1", "S0", "weights", pack_ring(big_p))
                if channel.plays("S0"):
                    payload = peer_payload(channel, "S0", "weights", "S1")
                    big_p = unpack_ring("secure_aggregate", "weights", payload, size)
                    if p is None:  # S0's own record: the weights as it received them
                        p = big_p.astype(np.float64) / float(1 << weight_frac_bits)
                clock.lap("weights")
            else:
                clock.lap("distances")
                # P22.5: Krum's selection on shares of D; after NNM, P22.7's integer weights w.
                m, inner = selected_count(rule, size), getattr(rule, "rule", rule)
                mixed = inner is not rule  # Krum or Multi-Krum after NNM (P22.7)
                if mixed:  # NNM keeps |V| - (NNM's f) neighbours; the inner rule has its own f
                    sel = nnm_krum_selection(
                        (d0, d1),
                        f=inner.f,
                        offset=getattr(inner, "offset", 2),
                        m=m,
                        nnm_f=cast(Any, rule).pre.f,
                        dealer=cast(Dealer, timed),
                        channel=channel,
                    )
                else:
                    sel = krum_selection(
                        (d0, d1),
                        f=rule.f,
                        offset=getattr(inner, "offset", 2),
                        m=m,
                        dealer=cast(Dealer, timed),
                        channel=channel,
                    )
                clock.lap("compare", offline=timed.take())
                # Krum's weights are sel_i / m in W fractional bits (C8.6); P22.7's are w_a / (m k)
                # and its sum is published once by that divisor (step 5), so its unit is 1.
                k = size - cast(Any, rule).pre.f if mixed else 1
                unit = (
                    np.uint64(1)
                    if mixed
                    else encode_weights(np.array([1.0 / m]), weight_frac_bits=weight_frac_bits)[0]
                )
                if leakage == "index":
                    chosen = open_ring("selection", sel[0], sel[1], channel)
                    # Krum: 1/m or 0. After NNM, C11.6's doubles: the fsum of w_a copies of 1/m
                    # is one correctly rounded product, then divided by k.
                    p = chosen.astype(np.float64) * (1.0 / m) / k
                    big_p = chosen * unit
                clock.lap("weights")

            # Step 5: output on shares, opened at S1.
            if leakage == "output":
                triples = timed.row_triples(size, d, channel=channel)
                weighted = each(channel, lambda s: sel[s] * unit)
                z_shares = row_mul(weighted, x_rows, triples, channel=channel)
            else:
                z_shares = weighted_output(channel, big_p, x_rows, d)
            if leakage != "distances":
                timed.finish(channel)  # P23.2: the round draws nothing more
            if leakage != "distances" and hasattr(rule, "pre"):
                divisor = m * k
                z = open_output(  # P22.7 step 5
                    channel, z_shares, d, lambda total: publish(total, divisor, frac_bits)
                )
            else:
                z = open_output(channel, z_shares, d, decoder(frac_bits + weight_frac_bits))
            clock.lap("output", offline=timed.take())

        return RoundResult(
            z=cast(F64, z),
            weights=None if p is None else np.asarray(spread_weights(n, valid, p.tolist())),
            valid=valid,
            excluded=excluded,
            distances=dist,
            channel=channel,
            n=n,
            d=d,
            f=rule.f,
            rule=rule.name,
            variant=variant,
            seconds=clock.seconds,
            leakage=leakage,
        )
    except Exception as error:
        # P23.2: a round that stops at S0 before its `end` still ends its requests.
        timed.stop(channel, draws_online(setup), error)
        raise
