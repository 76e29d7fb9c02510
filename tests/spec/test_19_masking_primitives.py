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
from sbrml.core.errors import ParameterError, ShapeError
from sbrml.reference import DeterministicRandomSource
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


# --- D19.3 HKDF, D19.4 masks, D19.5/C19.3 boxes, C19.4 low-order keys ----------------------


@pytest.mark.spec("D19.3")
def test_hkdf_rfc5869_case_1() -> None:
    ikm, salt, info = bytes([0x0B]) * 22, bytes(range(13)), bytes(range(0xF0, 0xFA))
    assert ref_m.hkdf_sha256(ikm, info, 42, salt).hex() == (
        "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865"
    )
    with pytest.raises(ParameterError) as info_:
        ref_m.hkdf_sha256(ikm, info, 0)
    assert info_.value.clause == "D19.3"


@pytest.mark.spec("D19.3")
@given(st.binary(max_size=80), st.binary(max_size=40), st.integers(1, 200))
def test_hkdf_matches_cryptography(ikm: bytes, info: bytes, length: int) -> None:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.hkdf import HKDF

    expected = HKDF(hashes.SHA256(), length, None, info).derive(ikm)
    assert ref_m.hkdf_sha256(ikm, info, length) == expected


@pytest.mark.spec("D19.4")
@given(st.binary(min_size=32, max_size=32), st.integers(0, 40))
def test_mask_prg_is_the_chacha20_keystream_in_both_trees(key: bytes, d: int) -> None:
    import numpy as np

    from sbrml.optimized.mask_protocol import apply_masks
    from sbrml.optimized.randomness import ChaCha20RandomSource, ring_elements

    expected = ring_elements(ChaCha20RandomSource(key), d)
    assert ref_m.expand_mask(key, d) == [int(v) for v in expected]
    zero = np.zeros(d, dtype=np.uint64)
    assert apply_masks(zero, [(1, key)], d).tolist() == [int(v) for v in expected]
    assert apply_masks(zero, [(-1, key)], d).tolist() == [(-int(v)) % 2**64 for v in expected]
    assert ref_m.pairwise_seed(key) != ref_m.self_seed(key)


def _keystreams() -> list[ref_m.Keystream]:
    from sbrml.optimized.randomness import ChaCha20RandomSource as OptSource
    from sbrml.reference.randomness import ChaCha20RandomSource as RefSource

    return [RefSource, OptSource]


@pytest.mark.spec("C19.3", "D19.5")
@given(st.binary(min_size=32, max_size=32), st.binary(max_size=150), st.integers(0, 2**32 - 1))
def test_box_round_trip_and_trees_agree(secret: bytes, plaintext: bytes, u: int) -> None:
    ref_stream, opt_stream = _keystreams()
    box = ref_m.seal(secret, u, 7, plaintext, ref_stream)
    assert box == ref_m.seal(secret, u, 7, plaintext, opt_stream)
    assert len(box) == len(plaintext) + ref_m.TAG_BYTES
    assert ref_m.open_box(secret, u, 7, box, opt_stream) == plaintext
    if plaintext:
        assert box[: len(plaintext)] != plaintext or len(plaintext) < 4


@pytest.mark.spec("C19.3")
def test_box_rejects_tampering_and_wrong_keys() -> None:
    secret, other = bytes(range(32)), bytes(range(1, 33))
    box = ref_m.seal(secret, 1, 2, b"share of a secret")
    flipped = bytes([box[0] ^ 1]) + box[1:]
    cases = [
        (secret, 1, 2, flipped),
        (secret, 1, 2, box[:-1]),
        (secret, 1, 2, box[:10]),
        (other, 1, 2, box),
        (secret, 2, 1, box),  # the other direction has its own keys
    ]
    for key, u, v, b in cases:
        with pytest.raises(ShapeError) as info:
            ref_m.open_box(key, u, v, b)
        assert info.value.clause == "C19.3"


P25519 = 2**255 - 19
# RFC 7748 / libsodium's list of encodings of points of order dividing 8 (curve and twist),
# including the non-canonical p and p + 1.
LOW_ORDER = [
    0,
    1,
    325606250916557431795983626356110631294008115727848805560023387167927233504,
    39382357235489614581723060781553021112529911719440698176882885853963445705823,
    P25519 - 1,
    P25519,
    P25519 + 1,
]


@pytest.mark.spec("C19.4")
@pytest.mark.parametrize("mod", TREES, ids=["reference", "optimized"])
def test_low_order_keys_are_recognised(mod: ModuleType) -> None:
    for u in LOW_ORDER:
        encoded = u.to_bytes(32, "little")
        assert ref_m.is_low_order(encoded) and ref_m.is_low_order(encoded, opt_m.x25519_many)
        assert mod.x25519(bytes(range(32)), encoded) == bytes(32)
        top = (u | 1 << 255).to_bytes(32, "little")  # the top bit is ignored (D19.1)
        assert ref_m.is_low_order(top)
    assert not ref_m.is_low_order((9).to_bytes(32, "little"))


@pytest.mark.spec("C19.4")
@given(st.binary(min_size=32, max_size=32))
def test_public_keys_are_never_low_order(k: bytes) -> None:
    assert not ref_m.is_low_order(opt_m.x25519_public(k))
