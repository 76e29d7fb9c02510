"""Section 19: X25519 and Shamir sharing (spec/19-pairwise-masks.md)."""

from __future__ import annotations

import itertools
from collections import Counter
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized.masking_primitives as opt_m
import sbrml.reference.masking_primitives as ref_m
from sbrml.reference import DeterministicRandomSource
from sbrml.reference.errors import ParameterError, ShapeError
from tests.helpers import ScriptedSource

TREES = [ref_m, opt_m]


@pytest.mark.spec("C19.1", "D19.1")
@pytest.mark.parametrize("mod", TREES, ids=["reference", "optimized"])
def test_rfc7748_vectors(mod: ModuleType) -> None:
    # RFC 7748 section 5.2, first vector.
    k = bytes.fromhex("a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4")
    u = bytes.fromhex("e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c")
    assert (
        mod.x25519(k, u).hex() == "c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552"
    )
    # Section 6.1: Alice's and Bob's keys and their shared secret.
    a = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    assert (
        mod.x25519_public(a).hex()
        == "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"
    )
    shared = mod.x25519(a, mod.x25519_public(b))
    assert shared == mod.x25519(b, mod.x25519_public(a))
    with pytest.raises(ShapeError) as info:
        mod.x25519(a, b"short")
    assert info.value.clause == "D19.1"


@pytest.mark.spec("C19.1")
@given(st.binary(min_size=32, max_size=32), st.binary(min_size=32, max_size=32))
def test_trees_agree(k: bytes, u: bytes) -> None:
    assert ref_m.x25519(k, u) == opt_m.x25519(k, u)
    assert ref_m.x25519_public(k) == opt_m.x25519_public(k)


@pytest.mark.spec("C19.1")
def test_low_order_point_gives_zero() -> None:
    k = bytes(range(32))
    assert ref_m.x25519(k, bytes(32)) == opt_m.x25519(k, bytes(32)) == bytes(32)


@pytest.mark.spec("C19.2", "D19.2")
@given(
    st.integers(0, 2**256 - 1),
    st.integers(1, 6).flatmap(lambda t: st.tuples(st.just(t), st.integers(t, 8))),
    st.integers(0, 2**32),
)
def test_any_t_shares_reconstruct(secret: int, tn: tuple[int, int], seed: int) -> None:
    t, n = tn
    shares = ref_m.shamir_share(secret, t, n, rng=DeterministicRandomSource(seed))
    for subset in itertools.islice(itertools.combinations(shares, t), 20):
        assert ref_m.shamir_reconstruct(list(subset), t) == secret
    if t > 1:
        with pytest.raises(ShapeError) as info:
            ref_m.shamir_reconstruct(shares[: t - 1], t)
        assert info.value.clause == "C19.2"


@pytest.mark.spec("C19.2")
def test_t_minus_one_shares_are_uniform_by_enumeration() -> None:
    # Over GF(11) with t = 3: for every secret, the pairs (f(1), f(2)) over all 121 choices of
    # (a1, a2) cover GF(11)^2 exactly once, so two shares say nothing about the secret.
    prime = 11
    for secret in range(prime):
        seen: Counter[tuple[int, int]] = Counter()
        for a1, a2 in itertools.product(range(prime), repeat=2):
            shares = ref_m.shamir_share(
                secret, 3, 3, rng=ScriptedSource(bytes([a1, a2])), prime=prime
            )
            seen[(shares[0][1], shares[1][1])] += 1
        assert len(seen) == prime * prime and set(seen.values()) == {1}


@pytest.mark.spec("C19.2")
def test_bad_parameters() -> None:
    rng = DeterministicRandomSource(0)
    for t, n in ((0, 3), (4, 3)):
        with pytest.raises(ParameterError) as info:
            ref_m.shamir_share(5, t, n, rng=rng)
        assert info.value.clause == "C19.2"
    with pytest.raises(ShapeError):
        ref_m.shamir_share(-1, 2, 3, rng=rng)
    shares = ref_m.shamir_share(5, 2, 3, rng=rng)
    with pytest.raises(ShapeError):
        ref_m.shamir_reconstruct([shares[0], shares[0]], 2)
