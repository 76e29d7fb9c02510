"""The two-server round's orchestration, shared by both trees (spec/08-round.md, P8.1).

Part of ``sbrml.core``. Each tree's ``round.py`` holds its kernels (encoding a worker's
update, sharing it) and a short ``secure_aggregate`` that walks P8.1's steps with them; what
does not depend on how vectors are stored — who counts as a worker, which shares are
well-formed (C8.3), the agreement on the valid set (C8.4), S1's call of the rule (C8.1,
C8.12), the result type and the phase clock — is defined once, here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from sbrml.core.channel import SERVERS, Channel, Message
from sbrml.core.errors import (
    InsufficientWorkersError,
    ParameterError,
    RoundAborted,
    ShapeError,
    SpecError,
    shown,
)
from sbrml.core.leakage import rule_leakages
from sbrml.core.params import (
    NORM_BOUND_LOG2,
    RING_BITS,
    check_variant,
)
from sbrml.core.randomness import RandomSource
from sbrml.core.rules import DistanceRule, Rule

Tamper = Callable[[list[Message]], list[Message]]


VecT = TypeVar("VecT")
MatT = TypeVar("MatT")


@dataclass
class RoundResult(Generic[VecT, MatT]):
    """What a round publishes (z, p), the exclusions, and S1's declared leakage D (C8.7).

    ``leakage`` names the mode (C8.15): ``distances`` (``distances`` holds S1's D),
    ``index`` (weights public, no D) or ``output`` (no D; weights None, except the mean's
    1/|V|, which V already determines).
    """

    z: VecT
    weights: VecT | None
    valid: list[int]
    excluded: dict[int, str]
    distances: MatT | None
    channel: Channel
    n: int
    d: int
    f: int
    rule: str
    variant: str
    seconds: dict[str, float] = field(default_factory=dict)
    leakage: str = "distances"


def worker_name(index: int) -> str:
    """D8.1: worker i is the party ``W<i>``."""
    return f"W{index}"


def excluded_entry(worker: int, reason: str) -> str:
    """One excluded worker as every message prints it: ``W<i>: <reason>``, the worker named
    once (a worker's own refusal already begins with its name, a server's reason does not)."""
    name = f"{worker_name(worker)}: "
    return reason if reason.startswith(name) else name + reason


def describe_excluded(excluded: Mapping[int, str]) -> str:
    """The excluded workers with their published reasons (C0.1: clause, no value), by index,
    as the too-few-workers errors of every protocol (C8.4, C20.3) and the CLI state them."""
    return "; ".join(excluded_entry(i, excluded[i]) for i in sorted(excluded)) or "none"


def check_round_params(frac_bits: int, weight_frac_bits: int) -> None:
    """Implements C8.6: F >= 0, 1 <= W <= 31 and F + W <= 62."""
    for name, value, low, high in (
        ("frac_bits", frac_bits, 0, RING_BITS - 3),
        ("weight_frac_bits", weight_frac_bits, 1, 31),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
            raise ParameterError(
                "secure_aggregate", name, f"an int in [{low}, {high}]", "C8.6", shown(value)
            )
    if frac_bits + weight_frac_bits > RING_BITS - 2:
        raise ParameterError(
            "secure_aggregate",
            "frac_bits",
            "frac_bits + weight_frac_bits <= 62",
            "C8.6",
            f"{frac_bits} + {weight_frac_bits}",
        )


def norm_bound_error(norm: int, frac_bits: int) -> ShapeError:
    """The C8.2 error for an encoding whose exact squared norm is ``norm``."""
    return ShapeError(
        "encode_update",
        "x",
        f"sum_k round(x_k 2^{frac_bits})^2 < 2^{NORM_BOUND_LOG2}",
        "C8.2",
        f"2^{norm.bit_length() - 1} <= value < 2^{norm.bit_length()}",
    )


Unpack = Callable[[str, str, Any, int], Any]


def collect_shares(
    server: str, messages: Sequence[Message], n: int, d: int, unpack: Unpack
) -> tuple[dict[int, Any], dict[int, str], list[str]]:
    """Implements C8.3: one well-formed share per worker, else the worker is excluded.

    Returns the parsed shares, the reasons for exclusion, and descriptions of messages from
    senders that are not workers of this round (ignored).
    """
    by_sender: dict[str, list[Message]] = {}
    for m in messages:
        by_sender.setdefault(m.sender, []).append(m)
    known = {worker_name(i): i for i in range(n)}
    ignored = [f"{s} -> {server}: not a worker of this round" for s in by_sender if s not in known]
    shares: dict[int, Any] = {}
    reasons: dict[int, str] = {}
    for name, i in known.items():
        got = by_sender.get(name, [])
        if not got:
            reasons[i] = f"{server}: no share received (C8.3)"
        elif len(got) > 1:
            reasons[i] = f"{server}: {len(got)} share messages, need exactly one (C8.3)"
        else:
            try:
                shares[i] = unpack("collect_shares", f"{name} share", got[0].payload, d)
            except SpecError as err:
                reasons[i] = f"{server}: malformed share: {err}"
    return shares, reasons, ignored


PHASES = (
    "offline_triples",
    "offline_comparison",
    "share",
    "validate",
    "range",
    "distances",
    "compare",
    "weights",
    "output",
)
MakeMessages = Callable[..., list[Message]]


def run_workers(
    inputs: Any,
    make_messages: MakeMessages,
    *,
    rng: RandomSource,
    frac_bits: int,
    tamper: Tamper | None,
    channel: Channel,
    bound_log2: int | None = None,
) -> dict[int, str]:
    """Implements P8.1 step 1 for every worker, then delivers (possibly tampered) messages.

    Worker i draws from ``rng.derive("worker/<i>")`` (C8.1). A worker whose own input fails
    C1.1, C1.2, C8.2 or the round's coordinate bound ``bound_log2`` (C8.13, C8.15; None: b(d))
    sends nothing; the returned dict says why, by worker index.
    """
    worker_errors: dict[int, str] = {}
    outgoing: list[Message] = []
    for i, x in enumerate(inputs):
        try:
            outgoing.extend(
                make_messages(
                    i, x, rng=rng.derive(f"worker/{i}"), frac_bits=frac_bits, bound_log2=bound_log2
                )
            )
        except SpecError as err:
            worker_errors[i] = (
                f"{worker_name(i)}: input rejected before sharing: {err.public_reason()}"
            )
    for m in tamper(outgoing) if tamper is not None else outgoing:
        channel.deliver(m)
    return worker_errors


class PhaseClock:
    """Wall-clock seconds per protocol phase (PHASES), in the order the phases ran (C8.8).

    ``offline`` seconds spent inside a phase on the dealer's material (requested just before
    the layer that uses it, P22.1) are moved from that phase to ``offline_comparison``.
    """

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self._last = time.perf_counter()

    def lap(self, phase: str, offline: float = 0.0) -> None:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - self._last - offline
        if offline:
            key = "offline_comparison"
            self.seconds[key] = self.seconds.get(key, 0.0) + offline
        self._last = now


def pack_indices(indices: Sequence[int]) -> bytes:
    """P8.1 step 2: the valid list as ring elements, 8 bytes LE each (D7.4)."""
    return b"".join(i.to_bytes(8, "little") for i in indices)


def check_round_inputs(
    inputs: Any,
    rule: Any,
    variant: str,
    dim: int | None,
    frac_bits: int,
    weight_frac_bits: int,
    leakage: str | None = None,
) -> tuple[int, int, str]:
    """Implements D8.1, C8.6, C8.11 and C8.15 at the round's boundary; returns (n, d, leakage).

    The leakage is the mode the round runs in: ``distances`` (P8.1), ``index`` or ``output``
    (Krum and Multi-Krum on shares, P22.5; ``output`` for the coordinate-wise rules, P22.2).
    """
    check_variant("secure_aggregate", variant)
    check_round_params(frac_bits, weight_frac_bits)
    n = len(inputs)
    if n == 0:
        raise ShapeError("secure_aggregate", "inputs", "at least one worker", "D8.1", "n=0")
    d = dim if dim is not None else len(inputs[0])
    if isinstance(d, bool) or not isinstance(d, int) or d < 1:
        raise ShapeError("secure_aggregate", "dim", "an int d >= 1", "D8.1", shown(d))
    modes = rule_leakages(rule)
    if not modes:
        raise ParameterError(
            "secure_aggregate",
            "rule",
            "a rule with a distance form (weights(D)) or a coordinate-wise rule that runs on "
            "shares (median, trimmed-mean, meamed)",
            "C8.11",
            f"{shown(rule.name)}, which does not run on shares",
        )
    if leakage is None:
        leakage = modes[0]
    if leakage not in modes:
        raise ParameterError(
            "secure_aggregate",
            "leakage",
            f"one of {', '.join(repr(m) for m in modes)} for {rule.name!r}",
            "C8.15",
            shown(leakage),
        )
    rule.check_n(n, "secure_aggregate")
    selected_count(rule, n)  # Multi-Krum's m <= n (C6.5), before any work
    return n, d, leakage


def parse_indices(payload: Any, n: int, sender: str) -> set[int]:
    """P8.1 step 2: the other server's valid list, strictly ascending indices below n; any
    other payload means the other server deviated, and the round stops (C23.4)."""
    raw = bytes(payload)
    values = [int.from_bytes(raw[k : k + 8], "little") for k in range(0, len(raw), 8)]
    if len(raw) % 8 or any(v >= n for v in values) or values != sorted(set(values)):
        raise RoundAborted(
            "agree_on_valid",
            f"{sender} valid",
            f"ascending worker indices below n = {n}, 8 bytes each (P8.1 step 2)",
            "C23.4",
            f"{len(raw)} bytes",
        )
    return set(values)


def agree_on_valid(
    channel: Channel,
    n: int,
    d: int,
    worker_errors: dict[int, str],
    rule: Rule,
    unpack: Unpack,
) -> tuple[list[dict[int, Any]], list[int], dict[int, str]]:
    """Implements P8.1 step 2 and C8.3-C8.4: parse, exchange valid lists, intersect.

    Returns each played server's parsed shares (an empty dict for a server the channel does
    not play, spec section 23), the agreed valid set V (sorted) and the excluded workers
    with their reasons; raises if too few workers remain for the rule.
    """
    parsed: list[dict[int, Any]] = [{}, {}]
    reasons: dict[int, list[str]] = {}
    played = channel.servers()
    workers = [worker_name(i) for i in range(n)]
    for s in played:
        server = SERVERS[s]
        messages = channel.receive(server, "share", senders=workers)
        parsed[s], why, _ignored = collect_shares(server, messages, n, d, unpack)
        for i, text in why.items():
            reasons.setdefault(i, []).append(text)
    lists = [pack_indices(sorted(parsed[s])) if s in played else None for s in (0, 1)]
    got = channel.exchange("valid", lists[0], lists[1])
    me = played[0]
    other = SERVERS[1 - me]
    theirs = parse_indices(got[me], n, other)
    valid = sorted(set(parsed[me]) & theirs)
    for i in range(n):
        if i in parsed[me] and i not in theirs and len(played) == 1:
            reasons.setdefault(i, []).append(f"{other}: not in its valid list (C8.3)")
    excluded = {
        i: worker_errors.get(i, "; ".join(reasons.get(i, []))) for i in range(n) if i not in valid
    }
    check_after_exclusions(rule, len(valid), n, excluded)
    return parsed, valid, excluded


def peer_payload(channel: Channel, receiver: str, label: str, sender: str) -> Any:
    """The one message ``sender`` owes ``receiver`` at this step; when it does not arrive
    (a network channel's deadline passed), the round stops and publishes nothing (C23.4)."""
    message = channel.receive_one(receiver, label, sender)
    if message is None:
        raise RoundAborted(
            "secure_aggregate",
            label,
            f"the message {label!r} from {sender} (P8.1)",
            "C23.4",
            "nothing before the deadline",
        )
    return message.payload


def check_after_exclusions(rule: Any, v: int, n: int, excluded: Mapping[int, str]) -> None:
    """Implements C8.4: the rule's precondition (C6.3, ...) and Multi-Krum's m <= |V| (C6.5)
    on the workers left; InsufficientWorkersError citing C8.4 otherwise, naming the
    exclusions."""
    try:
        rule.check_n(v, "secure_aggregate")
        selected_count(rule, v)
    except (InsufficientWorkersError, ParameterError) as err:
        raise InsufficientWorkersError(
            "secure_aggregate",
            "n",
            f"{err.condition} after exclusions",
            "C8.4",
            f"{v} valid of n={n}, f={shown(rule.f)}; excluded: {describe_excluded(excluded)}",
        ) from err


def s1_weights(rule: DistanceRule, dist: Any, frac_bits: int, rng: RandomSource) -> Any:
    """Implements P8.1 step 4 at S1: p = rule.weights(D) with D in units of 2^(-2F) (D6.2).

    A randomized rule (bucketing) draws from rng.derive("S1") (C8.1). A pre-aggregation
    whose mixed distances come out negative raises ShapeError citing C8.12 (see there).
    """
    try:
        return rule.weights(dist, unit=1 << (2 * frac_bits), rng=rng.derive("S1"))
    except ShapeError as err:
        if err.clause != "D6.2":
            raise
        # D itself always passes D6.2 (ring residues are >= 0); a failure comes from the
        # distances a pre-aggregation derives from it, so D is not Euclidean. Range
        # validation (C8.14) makes D exact, so only a rule outside the library gets here.
        raise ShapeError(
            "secure_aggregate",
            "D",
            "a Euclidean distance matrix, so that every distance a pre-aggregation derives "
            "from it is >= 0",
            "C8.12",
            f"a negative distance derived by {rule.name} ({err.function} refused it); the "
            "round is aborted with nothing released",
        ) from err


def selected_count(rule: Any, v: int) -> int:
    """How many workers the rule selects among v (P22.5): Multi-Krum's m (C6.5), else 1; for
    a composition, its rule's among the points its pre-aggregation leaves (D11.6, P22.7)."""
    pre = getattr(rule, "pre", None)
    if pre is not None:
        return selected_count(rule.rule, pre.output_count(v))
    count = getattr(rule, "selected_count", None)
    return int(count(v)) if callable(count) else 1


def spread_weights(n: int, valid: Sequence[int], p: Sequence[float]) -> list[float]:
    """The public weights over all n workers: p on V, 0 for excluded workers (C8.7)."""
    full = [0.0] * n
    for i, pi in zip(valid, p, strict=True):
        full[i] = float(pi)
    return full
