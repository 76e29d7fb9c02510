"""One secure two-server aggregation round in pure Python (spec/08-round.md, P8.1).

All parties run in one process and talk over a ``Channel`` that counts bytes and records
the transcript. The worker's kernel (encode, check the norm, share) and ``secure_aggregate``,
which walks P8.1's steps, are here; the orchestration both trees share (validation,
agreement on V, S1's weights, the result type) is ``sbrml.core.round``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from sbrml.core.channel import Channel, Message
from sbrml.core.dealer_requests import TimedDealer, draws_online
from sbrml.core.errors import ShapeError
from sbrml.core.leakage import check_provider, needs_distances, round_bound_log2
from sbrml.core.network import gate_count
from sbrml.core.params import (
    DEFAULT_FRAC_BITS,
    NORM_BOUND_LOG2,
    RING_BITS,
    WEIGHT_FRAC_BITS,
    coordinate_bound_log2,
    pairs,
)
from sbrml.core.range_validation import coordinate_bound_error, exclude_out_of_range
from sbrml.core.round import (
    PhaseClock,
    RoundResult,
    Tamper,
    agree_on_valid,
    check_round_inputs,
    norm_bound_error,
    run_workers,
    s1_weights,
    selected_count,
    spread_weights,
    worker_name,
)
from sbrml.core.rules import DistanceRule, Rule, is_distance_rule
from sbrml.reference.beaver import Dealer, Matrix, TripleProvider
from sbrml.reference.channel import pack_ring, unpack_ring
from sbrml.reference.comparison import range_check
from sbrml.reference.distances import (
    restrict_square_pairs,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
)
from sbrml.reference.randomness import RandomSource
from sbrml.reference.ring import (
    decode,
    encode,
    encode_weights,
    ring_add,
    sq_norm_encoded,
    to_signed,
)
from sbrml.reference.secure_coordinatewise import coordinatewise_numerator, publish
from sbrml.reference.secure_selection import krum_selection, nnm_krum_selection, row_mul
from sbrml.reference.sharing import share

MASK = (1 << RING_BITS) - 1


def encode_update(
    x: Sequence[float], *, frac_bits: int = DEFAULT_FRAC_BITS, bound_log2: int | None = None
) -> list[int]:
    """Implements P8.1 step 1a: encode (C1.1-C1.3), check the norm bound (C8.2) and the
    coordinate bound (C8.13): every coordinate in [-2^b, 2^b), b = ``bound_log2``, by default
    b(d) for d = len(x) (a round that compares Krum scores on shares passes b_h, C8.15)."""
    rows = [v for v in x if isinstance(v, list | tuple)] if isinstance(x, list | tuple) else []
    if rows:  # a matrix, not a vector: the shape, as the optimized tree reports it (D8.1)
        shape = (len(x), len(rows[0]))
        raise ShapeError("encode_update", "x", "a vector", "D8.1", f"shape {shape}")
    encoded = encode(x, frac_bits=frac_bits)
    norm = sq_norm_encoded(encoded)
    if norm >= 1 << NORM_BOUND_LOG2:
        raise norm_bound_error(norm, frac_bits)
    bits = coordinate_bound_log2(len(encoded)) if bound_log2 is None else bound_log2
    bound = 1 << bits
    outside = sum(1 for v in encoded if not -bound <= to_signed(v) < bound)
    if outside:
        raise coordinate_bound_error(outside, len(encoded), frac_bits, bits)
    return encoded


def worker_messages(
    index: int,
    x: Sequence[float],
    *,
    rng: RandomSource,
    frac_bits: int = DEFAULT_FRAC_BITS,
    bound_log2: int | None = None,
) -> list[Message]:
    """Implements P8.1 step 1: an honest worker's two share messages."""
    encoded = encode_update(x, frac_bits=frac_bits, bound_log2=bound_log2)
    share0, share1 = share(encoded, rng=rng)
    sender = worker_name(index)
    return [
        Message(sender, "S0", "share", pack_ring(share0)),
        Message(sender, "S1", "share", pack_ring(share1)),
    ]


def public_weighted_sum(weights: Sequence[int], rows: Sequence[Sequence[int]], d: int) -> list[int]:
    """P8.1 step 5 at one server: sum_i P_i x_i^s in Z_2^64 for public weights P."""
    return [
        sum(pi * row[k] for pi, row in zip(weights, rows, strict=True)) & MASK for k in range(d)
    ]


def secure_aggregate(
    inputs: Sequence[Sequence[float]],
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
) -> RoundResult[list[float], Matrix]:
    """Implements P8.1: one secure two-server round of ``rule`` over the workers' inputs.

    0. (offline) The provider gives S0 and S1 shares of the distance material for n workers;
       the dealer gives them the range-validation material for n*d lanes (C8.14).
    1. Worker i encodes x_i, checks the norm and coordinate bounds, shares it, and sends one
       share to each server, drawing from ``rng.derive("worker/<i>")``.
    2. Each server keeps the workers with exactly one well-formed share and sends the list
       to the other; both use the intersection V. Then every coordinate of every worker in V
       is range-checked on shares (P21.7); a worker with one outside [-2^b(d), 2^b(d)) leaves
       V. Excluded workers are reported.
    3. The servers compute shares of D over V (P5.1 or P5.2); S0 sends its share to S1.
    4. S1 reconstructs D, computes p = rule.weights(D), encodes P and sends it to S0.
    5. Each server computes z^s = sum_{i in V} P_i x_i^s; S0 sends z^0 to S1, which
       reconstructs and decodes z with F + W fractional bits.

    ``tamper`` rewrites the workers' messages before delivery: it is how tests and attacks
    play Byzantine workers that send malformed, duplicated or missing shares.
    ``transcript=False`` keeps byte counts and no payload (D7.2).
    """
    n, d, leakage = check_round_inputs(
        inputs, rule, variant, dim, frac_bits, weight_frac_bits, leakage
    )
    distance = needs_distances(rule, leakage)
    check_provider(provider, distance, rule.name, leakage)
    bits, lanes = round_bound_log2(leakage, rule, n, d), n * d  # C8.15: refused before work
    channel = Channel(record=transcript)
    clock = PhaseClock()

    # Step 0 (offline).
    source = provider if provider is not None else Dealer(rng=rng.derive("dealer"))
    if distance and variant == "gram":
        gram_material = source.gram_triple(n, d, channel=channel)
    elif distance:
        square_material = source.square_pairs(len(pairs(n)) * d, channel=channel)
    clock.lap("offline_triples")
    # C8.14: range-validation material, from the dealer (a Paillier provider has none).
    dealer = source if isinstance(source, Dealer) else Dealer(rng=rng.derive("dealer"))
    timed = TimedDealer(dealer)  # material drawn online is counted as offline (C8.8)
    range_material = (
        dealer.masks(lanes, bits + 1, high=True, channel=channel),
        dealer.dabits(lanes, channel=channel),
        dealer.and_triples(lanes, gate_count(bits + 1), channel=channel),
    )
    clock.lap("offline_comparison")

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

    try:
        # Step 2: validation and agreement on V.
        parsed, valid, excluded = agree_on_valid(channel, n, d, worker_errors, rule, unpack_ring)
        clock.lap("validate")

        # Step 2, range validation (C8.14): lanes i*d + k, zero shares for workers outside V.
        zero = [0] * d
        lane_shares = tuple(
            [v for i in range(n) for v in (parsed[s][i] if i in valid else zero)] for s in (0, 1)
        )
        t = range_check(
            (lane_shares[0], lane_shares[1]), *range_material, bits=bits, channel=channel
        )
        outside = {i: sum(1 for k in range(d) if t[i * d + k]) for i in valid}
        valid = exclude_out_of_range(outside, valid, excluded, n, d, rule, bits)
        excluded = dict(sorted(excluded.items()))
        clock.lap("range")
        x_shares = ([parsed[0][i] for i in valid], [parsed[1][i] for i in valid])

        p: list[float] | None = None
        dist: Matrix | None = None
        if not is_distance_rule(rule):
            # P22.2: the coordinate-wise rule on shares; only z is opened.
            numerator, q = coordinatewise_numerator(
                rule.name, rule.f, x_shares, bits=bits, dealer=cast(Dealer, timed), channel=channel
            )
            clock.lap("compare", offline=timed.take())
            timed.finish(channel)  # P23.2: the round draws nothing more
            channel.send("S0", "S1", "output", pack_ring(numerator[0]))
            z = publish(ring_add(numerator[0], numerator[1]), q, frac_bits)
            clock.lap("output")
        elif not distance:
            # The mean with leakage "output": its weights 1/|V| need no D (D9.1, C8.15).
            p = [1.0 / len(valid)] * len(valid)
            big_p = encode_weights(p, weight_frac_bits=weight_frac_bits)
            z0, z1 = (public_weighted_sum(big_p, x_shares[s], d) for s in (0, 1))
            channel.send("S0", "S1", "output", pack_ring(z0))
            z = decode(ring_add(z0, z1), frac_bits=frac_bits + weight_frac_bits)
            clock.lap("output")
        else:
            # Step 3: distances over V.
            if variant == "gram":
                restricted = (gram_material[0].restrict(valid), gram_material[1].restrict(valid))
                d0, d1 = secure_sq_distances_gram(x_shares, restricted, channel=channel)
            else:
                squares = restrict_square_pairs(square_material, n, d, valid)
                d0, d1 = secure_sq_distances_pairwise(x_shares, squares, channel=channel)
            if leakage == "distances":
                upper = [d0[i][j] for i, j in pairs(len(valid))]
                channel.send("S0", "S1", "distances", pack_ring(upper))
                clock.lap("distances")
                # Step 4: S1 reconstructs D and runs the rule's weight function.
                dist = [[0] * len(valid) for _ in valid]
                for (i, j), v0 in zip(pairs(len(valid)), upper, strict=True):
                    dist[i][j] = dist[j][i] = ring_add([v0], [d1[i][j]])[0]
                p = s1_weights(cast(DistanceRule, rule), dist, frac_bits, rng)
                big_p = encode_weights(p, weight_frac_bits=weight_frac_bits)
                channel.send("S1", "S0", "weights", pack_ring(big_p))
                clock.lap("weights")
            else:
                clock.lap("distances")
                # P22.5: Krum's selection on shares of D; after NNM, P22.7's integer weights w.
                m, inner = selected_count(rule, len(valid)), getattr(rule, "rule", rule)
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
                k = len(valid) - cast(Any, rule).pre.f if mixed else 1
                unit = (
                    1 if mixed else encode_weights([1.0 / m], weight_frac_bits=weight_frac_bits)[0]
                )
                if leakage == "index":
                    channel.send("S0", "S1", "selection", pack_ring(sel[0]))
                    channel.send("S1", "S0", "selection", pack_ring(sel[1]))
                    chosen = ring_add(sel[0], sel[1])
                    # Krum: 1/m or 0. After NNM, C11.6's doubles: the fsum of w_a copies of 1/m
                    # is one correctly rounded product, then divided by k.
                    p = [c * (1.0 / m) / k for c in chosen]
                    big_p = [unit * c for c in chosen]
                clock.lap("weights")

            # Step 5: output on shares, opened at S1.
            if leakage == "output":
                weighted = tuple([(unit * c) & MASK for c in sel[s]] for s in (0, 1))
                triples = timed.row_triples(len(valid), d, channel=channel)
                z0, z1 = row_mul((weighted[0], weighted[1]), x_shares, triples, channel=channel)
            else:
                z0, z1 = (public_weighted_sum(big_p, x_shares[s], d) for s in (0, 1))
            if leakage != "distances":
                timed.finish(channel)  # P23.2: the round draws nothing more
            channel.send("S0", "S1", "output", pack_ring(z0))
            if leakage != "distances" and hasattr(rule, "pre"):
                z = publish(ring_add(z0, z1), m * k, frac_bits)  # P22.7 step 5
            else:
                z = decode(ring_add(z0, z1), frac_bits=frac_bits + weight_frac_bits)
            clock.lap("output", offline=timed.take())

        return RoundResult(
            z=z,
            weights=None if p is None else spread_weights(n, valid, p),
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
        timed.stop(channel, draws_online(rule, distance, leakage), error)
        raise
