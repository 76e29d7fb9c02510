"""Range validation closes the ring-wrap family of attacks (spec/08-round.md C8.9, C8.14).

The attack of issue 15: two Byzantine workers of n = 9 share encode(h) + 2^k m, h the honest
mean, m non-zero on a coordinate where the honest rows agree. For 2k >= 64 the square of the
offset vanishes mod 2^64 and, the honest rows agreeing there, so does the cross term: before
range validation S1's D was exactly an honest one and Krum moved the output by 2^(k-F).
"""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

import sbrml.reference as ref
from sbrml.core.params import coordinate_bound_log2
from sbrml.reference.ring import encode as ref_encode
from sbrml.rulespec import build_rule
from tests.helpers import as_list, decoded_inputs, shares_of

M = 1 << 64
F, W = 16, 30
N, FAULTY, D = 9, 2, 4
BYZANTINE = (7, 8)


def honest_rows() -> list[list[float]]:
    # Coordinate 3 is equal on every honest row, so the cross term 2^(k+1) (e_B - e_j) m
    # vanishes there: the distances of the shifted rows are exactly those of h.
    return [[math.sin(1.3 * i + k) for k in range(3)] + [0.5] for i in range(N - FAULTY)]


def attack(offsets: dict[int, int]) -> tuple[list[list[float]], object]:
    """All n inputs (Byzantine rows are placeholders) and the tamper hook sharing
    encode(h) + offset_k in coordinate k for both Byzantine workers."""
    honest = honest_rows()
    h = [sum(col) / len(honest) for col in zip(*honest, strict=True)]
    e = ref_encode(h)
    for k, offset in offsets.items():
        e[k] = (e[k] + offset) % M
    forged = [m for w in BYZANTINE for m in shares_of(w, e, seed=w)]

    def tamper(messages: list) -> list:  # type: ignore[type-arg]
        return [m for m in messages if m.sender not in {f"W{w}" for w in BYZANTINE}] + forged

    return [*honest, h, h], tamper


def silent(messages: list) -> list:  # type: ignore[type-arg]
    return [m for m in messages if m.sender not in {f"W{w}" for w in BYZANTINE}]


RULES = ["krum", "multikrum", "geomed", "medoid", "nnm+krum", "mda"]


@pytest.mark.spec("C8.9", "C8.14", "C8.5")
@pytest.mark.parametrize("name", RULES)
def test_the_two_to_the_32_attack_is_excluded(impl: ModuleType, name: str) -> None:
    x, tamper = attack({3: 1 << 32})
    rule = build_rule(impl, name, FAULTY)
    result = impl.secure_aggregate(x, rule, rng=impl.DeterministicRandomSource(5), tamper=tamper)
    assert result.valid == list(range(N - FAULTY))
    for w in BYZANTINE:
        assert "C8.14" in result.excluded[w] and f"1 of {D} coordinates" in result.excluded[w]
    quiet = impl.secure_aggregate(
        x, build_rule(impl, name, FAULTY), rng=impl.DeterministicRandomSource(5), tamper=silent
    )
    assert as_list(result.z) == as_list(quiet.z)
    assert as_list(result.weights) == as_list(quiet.weights)
    # C8.5: the plaintext rule on the in-range (honest) workers' decoded inputs.
    xhat = decoded_inputs(honest_rows())
    z_plain = build_rule(impl, name, FAULTY)(xhat if impl is ref else np.asarray(xhat))
    for zk, pk in zip(as_list(result.z), as_list(z_plain), strict=True):
        assert abs(zk - pk) <= 2.0**-W * 8 + 1e-12


@pytest.mark.spec("C8.9", "C8.14")
@pytest.mark.parametrize(
    ("k", "sign"), [(30, 1)] + [(k, s) for k in (31, 32, 33, 40, 48, 56, 62, 63) for s in (1, -1)]
)
def test_every_out_of_range_offset_is_excluded(impl: ModuleType, k: int, sign: int) -> None:
    # b(4) = 30: encode(h) +- 2^k lies outside [-2^30, 2^30) for k >= 31, and for k = 30
    # upwards (h is small and positive in the shifted coordinates).
    assert coordinate_bound_log2(D) == 30
    x, tamper = attack({3: sign * (1 << k), 0: sign * (1 << k)})
    result = impl.secure_aggregate(
        x, build_rule(impl, "krum", FAULTY), rng=impl.DeterministicRandomSource(1), tamper=tamper
    )
    assert result.valid == list(range(N - FAULTY))
    assert all(f"2 of {D} coordinates" in result.excluded[w] for w in BYZANTINE)


@pytest.mark.spec("C8.5", "C8.13", "C8.14")
@pytest.mark.parametrize("offset", [(1 << 30) - 1 - (1 << 15), -(1 << 30)])
def test_an_in_range_byzantine_value_is_kept_and_its_distances_are_exact(
    impl: ModuleType, offset: int
) -> None:
    # A Byzantine coordinate at the bound stays in V; D is then exactly the distance matrix
    # of the values the shares reconstruct to (C8.13), so the rule sees what was sent.
    honest = honest_rows()
    e = [0, 0, 0, offset % M]
    forged = [m for w in BYZANTINE for m in shares_of(w, e, seed=w)]

    def tamper(messages: list) -> list:  # type: ignore[type-arg]
        return silent(messages) + forged

    result = impl.secure_aggregate(
        honest + [[0.0] * D] * 2,
        build_rule(impl, "multikrum", FAULTY),
        rng=impl.DeterministicRandomSource(2),
        tamper=tamper,
    )
    assert result.valid == list(range(N)) and not result.excluded
    ints = [[round(v * 2**F) for v in row] for row in honest] + [
        [0, 0, 0, offset] for _ in BYZANTINE
    ]
    exact = [[sum((a - b) ** 2 for a, b in zip(r, s, strict=True)) for s in ints] for r in ints]
    assert as_list(result.distances) == exact


@pytest.mark.spec("C8.14", "C8.4", "C8.15")
@pytest.mark.parametrize("leakage", ["distances", "index"])
def test_the_exclusion_names_the_round_bound_and_too_few_names_n(
    impl: ModuleType, leakage: str
) -> None:
    # The reason states the round's own bound b (b(d), or b_h(n, d) when Krum's scores are
    # compared on shares, C8.15); with Krum f = 3 the two exclusions leave 7 < 9 workers.
    from sbrml.core.errors import InsufficientWorkersError
    from sbrml.core.leakage import round_bound_log2

    x, tamper = attack({3: 1 << 62, 0: 1 << 62})
    rule = build_rule(impl, "krum", FAULTY)
    bits = round_bound_log2(leakage, rule, N, D)
    result = impl.secure_aggregate(
        x, rule, rng=impl.DeterministicRandomSource(1), tamper=tamper, leakage=leakage
    )
    reason = f"range validation: 2 of {D} coordinates outside [-2^{bits}, 2^{bits}) (C8.14)"
    assert [result.excluded[w] for w in BYZANTINE] == [reason, reason]
    assert bits == (30 if leakage == "distances" else 27)
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            x,
            build_rule(impl, "krum", 3),
            rng=impl.DeterministicRandomSource(1),
            tamper=tamper,
            leakage=leakage,
        )
    assert info.value.clause == "C8.4" and "7 valid of n=9" in info.value.got
    assert f"[-2^{round_bound_log2(leakage, build_rule(impl, 'krum', 3), N, D)}" in info.value.got
