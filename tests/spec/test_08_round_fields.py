"""What a round returns and how S1 calls the rule (spec/08-round.md D8.1, P8.1, C8.1-C8.3,
C8.8, C8.15): the result's ``n``, ``d``, ``f``, ``rule``, ``variant``, ``leakage`` and
``seconds``; the exact reasons of the exclusions; messages from parties that are not workers
of the round; and ``unit=`` and S1's randomness label, pinned by a rule that records its calls.
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import Any

import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.channel import Message
from sbrml.core.errors import InsufficientWorkersError
from sbrml.core.round import collect_shares
from sbrml.reference.channel import pack_ring, unpack_ring
from sbrml.reference.ring import encode as ref_encode
from sbrml.reference.ring import to_signed
from sbrml.rulespec import build_rule
from tests.helpers import as_list, decoded_inputs, shares_of


def inputs(n: int, d: int, scale: float = 1.0) -> list[list[float]]:
    return [[scale * math.sin(1.3 * i + 0.7 * k) for k in range(d)] for i in range(n)]


def _drop(worker: str, receivers: tuple[str, ...] = ("S0", "S1")) -> Any:
    return lambda ms: [m for m in ms if not (m.sender == worker and m.receiver in receivers)]


# --- The result's fields (D8.1, C8.15, C8.8) ------------------------------------------------

DISTANCE_PHASES = [
    "offline_triples",
    "offline_comparison",
    "share",
    "validate",
    "range",
    "distances",
    "weights",
    "output",
]
HIDDEN_PHASES = [*DISTANCE_PHASES[:6], "compare", "weights", "output"]
CASES: list[tuple[str, int, str | None, str, list[str]]] = [
    # spec, f, leakage asked, leakage run, phases in the order they ran
    ("krum", 1, None, "distances", DISTANCE_PHASES),
    ("multikrum", 2, "distances", "distances", DISTANCE_PHASES),
    ("krum", 1, "index", "index", HIDDEN_PHASES),
    ("nnm+krum", 1, "output", "output", HIDDEN_PHASES),
    ("median", 2, None, "output", [*DISTANCE_PHASES[:5], "compare", "output"]),
    ("mean", 0, "output", "output", [*DISTANCE_PHASES[:5], "output"]),
]


@pytest.mark.spec("D8.1", "C8.8", "C8.15")
@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{c[3]}" for c in CASES])
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_the_result_names_its_parameters_and_phases(
    impl: ModuleType, case: tuple[str, int, str | None, str, list[str]], variant: str
) -> None:
    spec, f, asked, mode, phases = case
    n, d = 8, 3
    rule = build_rule(impl, spec, f)
    start = time.perf_counter()
    result = impl.secure_aggregate(
        inputs(n, d),
        rule,
        rng=impl.DeterministicRandomSource(2),
        variant=variant,
        leakage=asked,
        tamper=_drop("W4"),
    )
    wall = time.perf_counter() - start
    assert (result.n, result.d, result.f) == (n, d, f)
    assert (result.rule, result.variant, result.leakage) == (spec, variant, mode)
    assert result.valid == [0, 1, 2, 3, 5, 6, 7] and list(result.excluded) == [4]
    assert list(result.seconds) == phases
    assert all(isinstance(s, float) and s >= -1e-9 for s in result.seconds.values())
    assert sum(result.seconds.values()) <= wall + 1e-6
    assert (result.weights is None) == (mode == "output" and spec != "mean")
    assert (result.distances is None) == (mode != "distances")
    if result.weights is not None:
        weights = as_list(result.weights)
        assert len(weights) == n and weights[4] == 0.0
        assert math.fsum(weights) == pytest.approx(1.0)


@pytest.mark.spec("D8.1")
def test_dim_names_d_and_a_worker_of_another_length_is_excluded(impl: ModuleType) -> None:
    # d comes from dim, not from the first input: worker 0 (of length 2) is the odd one out.
    x = inputs(6, 3)
    x[0] = x[0][:2]
    result = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(1), dim=3)
    assert (result.n, result.d) == (6, 3) and result.valid == [1, 2, 3, 4, 5]
    assert len(as_list(result.z)) == 3


@pytest.mark.spec("C8.8")
def test_comparison_material_drawn_in_the_output_phase_is_offline_time(impl: ModuleType) -> None:
    # With leakage "output", Krum's row triples (P22.6) are drawn during step 5; a dealer that
    # takes 0.1 s to draw them must not make step 5 look slow.
    class SlowDealer(impl.Dealer):  # type: ignore[misc, name-defined]
        def row_triples(self, rows: int, cols: int, *, channel: Any) -> Any:
            time.sleep(0.1)
            return super().row_triples(rows, cols, channel=channel)

    root = impl.DeterministicRandomSource(3)
    result = impl.secure_aggregate(
        inputs(6, 2),
        impl.Krum(1),
        rng=root,
        provider=SlowDealer(rng=impl.DeterministicRandomSource(3).derive("dealer")),
        leakage="output",
    )
    assert result.seconds["offline_comparison"] >= 0.1 > result.seconds["output"]


@pytest.mark.spec("C8.8")
@pytest.mark.parametrize(
    ("rule_name", "f", "leakage"), [("median", 1, "output"), ("krum", 1, "index")]
)
def test_comparison_material_drawn_while_comparing_is_offline_time(
    impl: ModuleType, monkeypatch: pytest.MonkeyPatch, rule_name: str, f: int, leakage: str
) -> None:
    # The comparisons on shares (P22.2, P22.5) draw AND triples as they go: after the first
    # draw (range validation's, offline already) each takes 0.05 s more, which must be moved
    # from the compare phase to offline_comparison.
    base = impl.Dealer
    slept: list[float] = []

    class SlowDealer(base):  # type: ignore[misc, valid-type]
        def and_triples(self, *args: Any, **kwargs: Any) -> Any:
            if self.calls:
                time.sleep(0.05)
                slept.append(0.05)
            self.calls += 1
            return super().and_triples(*args, **kwargs)

        calls = 0

    monkeypatch.setattr(impl.round, "Dealer", SlowDealer)
    result = impl.secure_aggregate(
        inputs(6, 2),
        build_rule(impl, rule_name, f),
        rng=impl.DeterministicRandomSource(3),
        leakage=leakage,
    )
    assert sum(slept) >= 0.1
    assert result.seconds["offline_comparison"] >= sum(slept) > result.seconds["compare"]


# --- Exclusions and strangers (C8.3) ---------------------------------------------------------


TAMPERS: dict[str, tuple[Any, str]] = {
    "silent": (_drop("W2"), "S0: no share received (C8.3); S1: no share received (C8.3)"),
    "silent to S1": (_drop("W2", ("S1",)), "S1: no share received (C8.3)"),
    "twice to S0": (
        lambda ms: ms + [m for m in ms if m.sender == "W2" and m.receiver == "S0"],
        "S0: 2 share messages, need exactly one (C8.3)",
    ),
    "thrice to both": (
        lambda ms: ms + [m for m in ms if m.sender == "W2"] * 2,
        "S0: 3 share messages, need exactly one (C8.3); "
        "S1: 3 share messages, need exactly one (C8.3)",
    ),
    "short to S0": (
        lambda ms: [
            Message(m.sender, m.receiver, m.label, bytes(m.payload)[:-1])
            if m.sender == "W2" and m.receiver == "S0"
            else m
            for m in ms
        ],
        "S0: malformed share: collect_shares: W2 share: need 16 payload bytes (2 ring "
        "elements) (C8.3); got 15 bytes",
    ),
}


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize("kind", sorted(TAMPERS))
def test_each_exclusion_names_the_server_and_the_reason(impl: ModuleType, kind: str) -> None:
    tamper, reason = TAMPERS[kind]
    result = impl.secure_aggregate(
        inputs(6, 2), impl.Krum(1), rng=impl.DeterministicRandomSource(5), tamper=tamper
    )
    assert result.valid == [0, 1, 3, 4, 5] and result.excluded == {2: reason}
    assert as_list(result.weights)[2] == 0.0


@pytest.mark.spec("C8.2", "C8.3")
def test_a_worker_that_refused_its_own_input_is_reported_by_its_own_reason(
    impl: ModuleType,
) -> None:
    # It sent nothing, so both servers also saw no share; the worker's reason is the one
    # published (C0.1: the clause, no value).
    x = inputs(6, 2)
    x[3] = [1e6, 0.0]
    result = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(5))
    assert result.excluded == {
        3: "W3: input rejected before sharing: encode_update: need sum_k round(x_k 2^16)^2 "
        "< 2^62 (C8.2)"
    }
    assert "1000000" not in result.excluded[3]


@pytest.mark.spec("C8.3")
def test_messages_from_parties_outside_the_round_are_listed_and_ignored() -> None:
    d = 2
    good = [Message(f"W{i}", "S0", "share", pack_ring([i, i])) for i in range(3)]
    strangers = [
        Message("W3", "S0", "share", pack_ring([7, 7])),  # index n: not a worker of n = 3
        Message("dealer", "S0", "share", pack_ring([8, 8])),
        Message("W3", "S0", "share", pack_ring([9, 9])),
        Message("W-1", "S0", "share", pack_ring([1, 1])),
    ]
    shares, reasons, ignored = collect_shares(
        "S0", [good[0], strangers[0], good[1], *strangers[1:], good[2]], 3, d, unpack_ring
    )
    assert shares == {0: [0, 0], 1: [1, 1], 2: [2, 2]} and reasons == {}
    assert ignored == [
        "W3 -> S0: not a worker of this round",
        "dealer -> S0: not a worker of this round",
        "W-1 -> S0: not a worker of this round",
    ]


@pytest.mark.spec("C8.3")
def test_shares_from_worker_n_change_nothing_in_the_round(impl: ModuleType) -> None:
    # "W5" is one index past the last worker of n = 5: its well-formed shares are ignored, the
    # result equals the round without them, and the transcript differs only by them.
    x = inputs(5, 2)
    stranger = shares_of(5, ref_encode([0.5, 0.5]))
    tampered = impl.secure_aggregate(
        x, impl.Krum(1), rng=impl.DeterministicRandomSource(3), tamper=lambda ms: ms + stranger
    )
    clean = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(3))
    assert tampered.valid == clean.valid == [0, 1, 2, 3, 4] and tampered.excluded == {}
    assert as_list(tampered.z) == as_list(clean.z)
    assert as_list(tampered.weights) == as_list(clean.weights)
    assert as_list(tampered.distances) == as_list(clean.distances)
    kept = [m for m in tampered.channel.messages if m.sender != "W5"]
    assert [(m.sender, m.receiver, m.label, bytes(m.payload)) for m in kept] == [
        (m.sender, m.receiver, m.label, bytes(m.payload)) for m in clean.channel.messages
    ]


# --- How S1 calls the rule (P8.1 step 4, C8.1) -----------------------------------------------


class Recorder:
    """A randomized distance rule outside the library that records what S1 gives it: the
    distance matrix, ``unit`` and eight bytes drawn from its ``rng``; it selects the worker
    those bytes pick."""

    name = "recorder"
    f = 0
    scale_invariant = False

    def __init__(self) -> None:
        self.calls: list[tuple[list[list[int]], int, bytes]] = []

    def check_n(self, n: int, function: str = "recorder") -> None:
        if n < 2:
            raise InsufficientWorkersError(function, "n", "n >= 2", "C8.4", f"n={n}")

    def __call__(self, x: Any, *, rng: Any = None) -> Any:
        raise AssertionError("the round calls weights(D), never the rule on inputs")

    def weights(self, d: Any, *, unit: int = 1, rng: Any = None) -> list[float]:
        drawn = rng.random_bytes(8)
        self.calls.append(([[int(v) for v in row] for row in d], unit, drawn))
        pick = drawn[0] % len(d)
        return [1.0 if i == pick else 0.0 for i in range(len(d))]


@pytest.mark.spec("C8.1", "P8.1", "D6.2")
@pytest.mark.parametrize(("frac_bits", "weight_frac_bits"), [(16, 30), (7, 20), (0, 31)])
def test_s1_passes_the_unit_and_its_own_randomness_to_the_rule(
    impl: ModuleType, frac_bits: int, weight_frac_bits: int
) -> None:
    n, d, seed = 6, 3, 8
    x = inputs(n, d, scale=3.0)
    rule = Recorder()
    result = impl.secure_aggregate(
        x,
        rule,
        rng=impl.DeterministicRandomSource(seed),
        frac_bits=frac_bits,
        weight_frac_bits=weight_frac_bits,
        tamper=_drop("W1"),
    )
    (call,) = rule.calls
    dist, unit, drawn = call
    # unit = 2^(2F): D is in units of 2^-2F (D6.2, P8.1 step 4).
    assert unit == 1 << (2 * frac_bits)
    # D over V = {0, 2, 3, 4, 5}: the exact squared distances of the encodings.
    valid = [0, 2, 3, 4, 5]
    enc = [[to_signed(e) for e in ref_encode(x[i], frac_bits=frac_bits)] for i in valid]
    assert dist == [
        [sum((a - b) ** 2 for a, b in zip(ei, ej, strict=True)) for ej in enc] for ei in enc
    ]
    # S1's stream is rng.derive("S1") (C8.1), the first derivation of that label.
    assert drawn == impl.DeterministicRandomSource(seed).derive("S1").random_bytes(8)
    # The weights S1 returned are the round's, spread over all n workers, and z is the
    # picked worker's decoded input exactly (one weight of 2^W, F + W fractional bits).
    pick = valid[drawn[0] % len(valid)]
    assert as_list(result.weights) == [1.0 if i == pick else 0.0 for i in range(n)]
    assert as_list(result.z) == decoded_inputs(x, frac_bits)[pick]
    assert as_list(result.distances) == dist
    assert result.rule == "recorder" and result.leakage == "distances"


@pytest.mark.spec("C8.1")
def test_s1_randomness_is_fresh_in_each_round_from_one_source() -> None:
    # Two rounds given one source object derive "S1" twice: C2.3 counts derivations per label,
    # so the second round's rule sees the label's second stream.
    for tree in (ref, opt):
        rule = Recorder()
        root = tree.DeterministicRandomSource(4)
        for _ in range(2):
            tree.secure_aggregate(inputs(5, 2), rule, rng=root)
        expected = tree.DeterministicRandomSource(4)
        streams = [expected.derive("S1").random_bytes(8) for _ in range(2)]
        assert [c[2] for c in rule.calls] == streams and streams[0] != streams[1]
