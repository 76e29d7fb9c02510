"""Section 13: Paillier encryption (spec/13-paillier.md), both trees, cross-checked with phe."""

from __future__ import annotations

import math
from types import ModuleType

import gmpy2
import pytest
from hypothesis import given
from hypothesis import strategies as st
from phe import paillier as phe

import sbrml.optimized.paillier as opt_p
import sbrml.reference.paillier as ref_p
import sbrml.reference.paillier_triples as ref_triples
from sbrml.core.errors import ParameterError, ShapeError
from sbrml.optimized import DeterministicRandomSource as OptSource
from sbrml.optimized.paillier_triples import PaillierTripleProvider as OptProvider
from sbrml.reference import DeterministicRandomSource as RefSource
from sbrml.reference.paillier import MILLER_RABIN_ROUNDS
from sbrml.reference.randomness import uniform_below
from tests.helpers import ScriptedSource

P, Q = 293, 433
N = P * Q
PAIRS = [(ref_p, RefSource), (opt_p, OptSource)]
IDS = ["reference", "optimized"]


@pytest.fixture(params=PAIRS, ids=IDS)
def tree(request: pytest.FixtureRequest) -> tuple[ModuleType, type]:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def key512() -> tuple[ref_p.PublicKey, ref_p.PrivateKey]:
    return opt_p.generate_keypair(512, rng=OptSource(7), insecure_test=True)


@pytest.mark.spec("D13.2", "C13.4")
def test_tiny_key_known_answer(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    pk, sk = mod.keypair_from_primes(P, Q, insecure_test=True)
    c = mod.encrypt_with(pk, 42, 23)
    assert c == (1 + 42 * N) * pow(23, N, N * N) % (N * N)
    assert mod.decrypt(sk, c) == 42
    # The same ciphertext from python-paillier's raw layer, with the same r.
    phe_pub = phe.PaillierPublicKey(N)
    assert phe_pub.raw_encrypt(42, r_value=23) == c
    assert phe.PaillierPrivateKey(phe_pub, P, Q).raw_decrypt(c) == 42


@pytest.mark.spec("C13.1")
@pytest.mark.parametrize("bits", [1024, 512, 4096])
def test_small_or_odd_keys_are_refused(tree: tuple[ModuleType, type], bits: int) -> None:
    mod, source = tree
    with pytest.raises(ParameterError) as info:
        mod.generate_keypair(bits, rng=source(0))
    assert info.value.clause == "C13.1" and "insecure_test=True" in str(info.value)
    with pytest.raises(ParameterError):
        mod.generate_keypair(513, rng=source(0), insecure_test=True)


@pytest.mark.spec("C13.1", "C13.2")
def test_same_key_from_the_same_seed() -> None:
    a = ref_p.generate_keypair(2048, rng=RefSource(3))
    b = opt_p.generate_keypair(2048, rng=OptSource(3))
    assert a == b and a[0].n.bit_length() == 2048 and a[1].p.bit_length() == 1024
    c = opt_p.generate_keypair(256, rng=OptSource(3), insecure_test=True)
    d = ref_p.generate_keypair(256, rng=RefSource(3), insecure_test=True)
    assert c == d and c[0].n.bit_length() == 256


@pytest.mark.spec("C13.2")
def test_primality_test(tree: tuple[ModuleType, type]) -> None:
    mod, source = tree
    primes = [2, 3, 997, 1009, 7919, 2**61 - 1, 2**89 - 1]
    composites = [1, 0, 561, 1105, 1009 * 1013, 2**61 + 1, (2**31 - 1) * (2**61 - 1), 3215031751]
    assert all(mod.is_probable_prime(p, rng=source(1)) for p in primes)
    assert not any(mod.is_probable_prime(c, rng=source(1)) for c in composites)
    # Candidates: low k bits of the drawn bytes with bits k-1, k-2 and 0 set.
    # 0x0000 -> 0xC001 = 13 * 3781 is rejected; 0x0004 -> 0xC005 = 49157 is prime. The
    # Miller-Rabin bases then read zero bytes, i.e. base 2 every round.
    data = bytes([0, 0]) + bytes([4, 0]) + bytes(200)
    assert mod.random_prime(16, rng=ScriptedSource(data)) == 0xC005


@pytest.mark.spec("C13.3")
def test_randomness_rejection(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    pk, _ = mod.keypair_from_primes(P, Q, insecure_test=True)
    # uniform_below(n): 17 bits -> 3 bytes. Draw 0 (rejected), then 293 (not a unit), then 23.
    data = b"".join(v.to_bytes(3, "little") for v in (0, 293, 23))
    assert mod.encrypt(pk, 42, rng=ScriptedSource(data)) == mod.encrypt_with(pk, 42, 23)
    for bad in (0, 293, N, -1):
        with pytest.raises(ShapeError) as info:
            mod.encrypt_with(pk, 1, bad)
        assert info.value.clause == "C13.3"


@pytest.mark.spec("C13.4", "D13.3")
@given(
    st.integers(0, 2**512),
    st.integers(0, 2**512),
    st.integers(-(2**70), 2**70),
    st.integers(0, 2**32),
)
def test_homomorphism_laws(a: int, b: int, k: int, seed: int) -> None:
    pk, sk = opt_p.generate_keypair(512, rng=OptSource(7), insecure_test=True)
    n = pk.n
    a, b = a % n, b % n
    lam = math.lcm(sk.p - 1, sk.q - 1)
    mu = pow(lam, -1, n)
    for mod, source in PAIRS:
        rng = source(seed)
        ca, cb = mod.encrypt(pk, a, rng=rng), mod.encrypt(pk, b, rng=rng)
        assert mod.decrypt(sk, ca) == a == (pow(ca, lam, n * n) - 1) // n * mu % n
        assert mod.decrypt(sk, mod.add(pk, ca, cb)) == (a + b) % n
        assert mod.decrypt(sk, mod.mul_scalar(pk, ca, k)) == a * k % n
        assert mod.decrypt(sk, mod.negate(pk, ca)) == -a % n
        fresh = mod.rerandomize(pk, ca, rng=rng)
        assert fresh != ca and mod.decrypt(sk, fresh) == a


@pytest.mark.spec("C13.2", "C13.3")
@given(st.integers(0, 2**64), st.integers(0, 2**32))
def test_trees_give_identical_ciphertexts(m: int, seed: int) -> None:
    pk, _ = opt_p.generate_keypair(512, rng=OptSource(7), insecure_test=True)
    m %= pk.n
    assert ref_p.encrypt(pk, m, rng=RefSource(seed)) == opt_p.encrypt(pk, m, rng=OptSource(seed))


@pytest.mark.spec("C13.7")
@given(st.integers(0, 2**64), st.integers(0, 2**32))
def test_encrypt_private_equals_encrypt(m: int, seed: int) -> None:
    pk, sk = opt_p.generate_keypair(512, rng=OptSource(7), insecure_test=True)
    assert opt_p.encrypt_private(sk, m, rng=OptSource(seed)) == opt_p.encrypt(
        pk, m, rng=OptSource(seed)
    )


@pytest.mark.spec("C13.5")
def test_plaintext_range(tree: tuple[ModuleType, type]) -> None:
    mod, source = tree
    pk, _ = mod.keypair_from_primes(P, Q, insecure_test=True)
    for bad in (-1, N, 2.0, True):
        with pytest.raises(ShapeError) as info:
            mod.encrypt(pk, bad, rng=source(0))
        assert info.value.clause == "C13.5"


@pytest.mark.spec("C13.6")
def test_ciphertext_validation(tree: tuple[ModuleType, type]) -> None:
    mod, source = tree
    pk, sk = mod.keypair_from_primes(P, Q, insecure_test=True)
    good = mod.encrypt_with(pk, 5, 23)
    for bad in (0, N * N, N * N + 1, P * 7, -3):
        for call in (
            lambda c: mod.decrypt(sk, c),
            lambda c: mod.add(pk, good, c),
            lambda c: mod.mul_scalar(pk, c, 2),
            lambda c: mod.negate(pk, c),
            lambda c: mod.rerandomize(pk, c, rng=source(0)),
        ):
            with pytest.raises(ShapeError) as info:
                call(bad)
            assert info.value.clause == "C13.6"


def test_cross_check_with_python_paillier(key512: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, sk = key512
    phe_pub = phe.PaillierPublicKey(pk.n)
    phe_priv = phe.PaillierPrivateKey(phe_pub, sk.p, sk.q)
    for m in (0, 1, 12345, pk.n - 1):
        ours = opt_p.encrypt(pk, m, rng=OptSource(m % 97))
        assert phe_priv.raw_decrypt(ours) == m
        theirs = phe_pub.raw_encrypt(m)
        assert opt_p.decrypt(sk, theirs) == m == ref_p.decrypt(sk, theirs)


@pytest.mark.spec("D13.1")
def test_bad_primes(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(293, 293, insecure_test=True)
    assert info.value.clause == "D13.1"


@pytest.mark.spec("C13.8")
def test_batch_validation(tree: tuple[ModuleType, type]) -> None:
    mod, source = tree
    pk, _ = mod.keypair_from_primes(P, Q, insecure_test=True)
    good = [mod.encrypt(pk, m, rng=source(m)) for m in range(20)]
    mod.check_ciphertexts("t", pk, good)
    for bad in (P * 1000, 0, N * N):
        with pytest.raises(ShapeError) as info:
            mod.check_ciphertexts("t", pk, [*good[:7], bad, *good[7:]])
        assert info.value.clause == "C13.6"


@pytest.mark.spec("C13.9")
def test_obfuscators_match_encryption(key512: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, sk = key512
    ms = [0, 1, 2**40, pk.n - 1, 77]
    expected = [c for rng in [OptSource(4)] for c in (opt_p.encrypt(pk, m, rng=rng) for m in ms)]
    ref_obf = ref_p.obfuscators(pk, len(ms), rng=RefSource(4))
    assert [
        ref_p.encrypt_with_obfuscator(pk, m, o) for m, o in zip(ms, ref_obf, strict=True)
    ] == expected
    for private in (None, sk):
        for processes in (1, 2):
            obf = opt_p.obfuscators(
                pk, len(ms), rng=OptSource(4), private=private, processes=processes
            )
            assert obf == ref_obf
            assert [
                opt_p.encrypt_with_obfuscator(pk, m, o) for m, o in zip(ms, obf, strict=True)
            ] == expected
    assert opt_p.decrypt_many(sk, expected, processes=2) == ms


@pytest.mark.spec("D13.4", "C13.10")
def test_key_holder_obfuscators_are_paillier_obfuscators(
    key512: tuple[ref_p.PublicKey, ref_p.PrivateKey],
) -> None:
    pk, sk = key512
    n2 = pk.n_squared
    got = ref_p.key_holder_obfuscators(sk, 6, rng=RefSource(11))
    # The draws of D13.4, replayed: r_p then r_q per obfuscator, each uniform_below until >= 1.
    replay = RefSource(11)
    pairs = [(ref_p.unit_below(replay, sk.p), ref_p.unit_below(replay, sk.q)) for _ in range(6)]
    phe_pub = phe.PaillierPublicKey(pk.n)
    phe_priv = phe.PaillierPrivateKey(phe_pub, sk.p, sk.q)
    for o, (r_p, r_q) in zip(got, pairs, strict=True):
        r = ref_p.key_holder_randomness(sk, r_p, r_q)
        assert 1 <= r < pk.n and math.gcd(r, pk.n) == 1
        assert o == pow(r, pk.n, n2)
        assert o % (sk.p * sk.p) == pow(r_p, sk.p, sk.p * sk.p)
        c = ref_p.encrypt_with_obfuscator(pk, 1234, o)
        assert c == ref_p.encrypt_with(pk, 1234, r) and phe_priv.raw_decrypt(c) == 1234
    for processes in (1, 2):
        assert opt_p.key_holder_obfuscators(sk, 6, rng=OptSource(11), processes=processes) == got


@pytest.mark.spec("C13.10")
def test_key_holder_randomness_is_uniform_on_a_tiny_key() -> None:
    # r_p, r_q -> r is a bijection Z*_p x Z*_q -> Z*_n (D13.4), so every unit is hit once.
    _, sk = ref_p.keypair_from_primes(P, Q, insecure_test=True)
    seen = {ref_p.key_holder_randomness(sk, a, b) for a in range(1, P) for b in range(1, Q, 7)}
    assert len(seen) == (P - 1) * len(range(1, Q, 7))
    for a, b in ((1, 1), (2, 3), (P - 1, Q - 1), (100, 200)):
        lifted = ref_p.crt_squares(sk, pow(a, P, P * P), pow(b, Q, Q * Q))
        assert lifted == pow(ref_p.key_holder_randomness(sk, a, b), N, N * N)


@pytest.mark.spec("D13.5", "C13.11")
def test_short_exponent_obfuscators(key512: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, sk = key512
    h = ref_p.short_exponent_base(pk, rng=RefSource(2))
    assert h == opt_p.short_exponent_base(pk, rng=OptSource(2))
    got = ref_p.short_exponent_obfuscators(pk, h, 5, rng=RefSource(8))
    for processes in (1, 2):
        assert (
            opt_p.short_exponent_obfuscators(pk, h, 5, rng=OptSource(8), processes=processes) == got
        )
    replay = RefSource(8)
    alphas = [uniform_below(replay, 2**256) for _ in range(5)]
    assert got == [pow(h, a, pk.n_squared) for a in alphas]
    assert max(alphas).bit_length() > 250  # the draws use the whole 256-bit range
    for o in got:
        assert ref_p.decrypt(sk, ref_p.encrypt_with_obfuscator(pk, 99, o)) == 99
    for mod in (ref_p, opt_p):
        for bad in (0, 1, pk.n_squared, sk.p * 5, -4):
            with pytest.raises(ShapeError) as info:
                mod.short_exponent_obfuscators(pk, bad, 1, rng=RefSource(0))
            assert info.value.clause == "C13.11"


@pytest.mark.spec("C13.6")
def test_ciphertexts_under_a_longer_key_are_refused(
    tree: tuple[ModuleType, type], key512: tuple[ref_p.PublicKey, ref_p.PrivateKey]
) -> None:
    mod, source = tree
    big_pk, _ = key512
    pk, sk = mod.generate_keypair(256, rng=source(4), insecure_test=True)
    foreign = [mod.encrypt(big_pk, m, rng=source(m)) for m in range(1, 40)]
    foreign = [c for c in foreign if c >= pk.n_squared]
    assert len(foreign) >= 30  # a 1024-bit ciphertext is almost never below a 512-bit n^2
    good = mod.encrypt(pk, 3, rng=source(0))
    for c in foreign[:5]:
        for call in (
            lambda c: mod.decrypt(sk, c),
            lambda c: mod.add(pk, good, c),
            lambda c: mod.mul_scalar(pk, c, 2),
            lambda c: mod.check_ciphertexts("t", pk, [good, c]),
        ):
            with pytest.raises(ShapeError) as info:
                call(c)
            assert info.value.clause == "C13.6" and "[1, n^2)" in str(info.value)


PRIME_2045 = int(gmpy2.next_prime(2**2044 + 2**2000))
P1024, Q1024 = (int(gmpy2.next_prime(3 * 2**1022 + k * 2**64)) for k in (0, 1))
CARMICHAEL = 1171 * 2341 * 3511  # Chernick's form (6k+1)(12k+1)(18k+1), k = 195: no factor < 1000
WIEFERICH_SQUARE = 1093**2  # a strong pseudoprime to base 2 with no factor below 1000


@pytest.mark.spec("D13.1", "C13.12")
def test_given_primes_must_be_equal_length_probable_primes(tree: tuple[ModuleType, type]) -> None:
    mod, source = tree
    # The issue's input: n = 7 p' has 2047 bits and passed as 2048 (size rounded up).
    for p, q in ((7, PRIME_2045), (PRIME_2045, 7), (P1024, P1024)):
        with pytest.raises(ParameterError) as info:
            mod.keypair_from_primes(p, q)
        assert info.value.clause == "D13.1"
        assert str(p) not in str(info.value)  # bit lengths are named, never the primes
    composite = int(gmpy2.next_prime(P1024 // 3)) * 3  # same length as Q1024, 3 | it
    trial_free = int(gmpy2.next_prime(2**511 + 2**510)) * int(gmpy2.next_prime(2**512))
    for p in (composite, trial_free):
        assert p.bit_length() == Q1024.bit_length()
        with pytest.raises(ParameterError) as info:
            mod.keypair_from_primes(p, Q1024)
        assert info.value.clause == "D13.1" and "composite" in str(info.value)
    # A Carmichael number fools Fermat's test with every coprime base, not Miller-Rabin.
    q = int(gmpy2.next_prime(CARMICHAEL))
    assert q.bit_length() == CARMICHAEL.bit_length()
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(CARMICHAEL, q, insecure_test=True, rng=source(5))
    assert info.value.clause == "D13.1"
    for bad in (2.0, True, None, -5, 1):
        with pytest.raises(ParameterError) as info:
            mod.keypair_from_primes(bad, 433, insecure_test=True)
        assert info.value.clause == "D13.1"
    with pytest.raises(ParameterError) as info:  # a negated prime is still the prime
        mod.keypair_from_primes(-P1024, Q1024)
    assert str(P1024) not in str(info.value) and "1024 bits" in str(info.value)
    public, private = mod.keypair_from_primes(P1024, Q1024)
    assert public.bits == public.n.bit_length() == 2048 and (private.p, private.q) == (P1024, Q1024)
    assert mod.keypair_from_primes(P1024, Q1024, rng=source(1)) == (public, private)


@pytest.mark.spec("C13.1", "C13.12")
def test_given_primes_give_the_stated_modulus_size_exactly(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    # Two 1024-bit primes whose product has 2047 bits: not a 2048-bit key, and no rounding up.
    low_p, low_q = int(gmpy2.next_prime(2**1023)), int(gmpy2.next_prime(2**1023 + 2**500))
    assert (low_p * low_q).bit_length() == 2047
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(low_p, low_q)
    assert info.value.clause == "C13.1" and "2047 bits" in str(info.value)
    assert mod.keypair_from_primes(low_p, low_q, insecure_test=True)[0].bits == 2047
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(P, Q)  # 17 bits: only with insecure_test
    assert info.value.clause == "C13.1"
    assert mod.keypair_from_primes(211, 223, insecure_test=True)[0].bits == 16  # the floor ...
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(131, 137, insecure_test=True)  # ... 15 bits is below it
    assert info.value.clause == "C13.1"


@pytest.mark.spec("C13.12")
def test_given_primes_are_tested_with_bases_from_the_rng(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    q = int(gmpy2.next_prime(WIEFERICH_SQUARE))
    # An all-zero rng draws base 2 in every round (C13.2), and 1093^2 is a strong pseudoprime
    # to base 2: a fixed, predictable base lets a composite through ...
    zeros = ScriptedSource(bytes(3 * 2 * MILLER_RABIN_ROUNDS))
    mod.keypair_from_primes(WIEFERICH_SQUARE, q, insecure_test=True, rng=zeros)
    # ... and the default, a fresh CSPRNG stream, refuses it.
    with pytest.raises(ParameterError) as info:
        mod.keypair_from_primes(WIEFERICH_SQUARE, q, insecure_test=True)
    assert info.value.clause == "D13.1" and "composite" in str(info.value)


@pytest.mark.spec("C13.2", "C13.12")
def test_primality_tests_agree_with_gmpy2() -> None:
    numbers = [
        P1024,
        Q1024,
        PRIME_2045,
        CARMICHAEL,
        WIEFERICH_SQUARE,
        3511**2,
        P1024 * 3,
        int(gmpy2.next_prime(2**100)) * int(gmpy2.next_prime(2**120)),
        *range(2**61 - 40, 2**61),
    ]
    for c in numbers:
        expected = bool(gmpy2.is_prime(c, 50))
        assert ref_p.is_probable_prime(c, rng=RefSource(c % 1000)) == expected
        assert opt_p.is_probable_prime(c, rng=OptSource(c % 1000)) == expected


def _crt(sk: ref_p.PrivateKey, mod_p2: int, mod_q2: int) -> int:
    return ref_p.crt_squares(sk, mod_p2 % (sk.p * sk.p), mod_q2 % (sk.q * sk.q))


@pytest.mark.spec("C13.11")
def test_unsafe_short_exponent_bases_are_refused(
    key512: tuple[ref_p.PublicKey, ref_p.PrivateKey],
) -> None:
    pk, sk = key512
    n, n2 = pk.n, pk.n_squared
    h = ref_p.short_exponent_base(pk, rng=RefSource(2))
    unsafe = {
        # Order 2: every obfuscator is +-1, so c mod n reveals (1 + m n) up to sign.
        "n^2 - 1": n2 - 1,
        # 1 mod n: h^a = 1 + a k n shifts every plaintext by a k (decryption breaks).
        "1 + n": 1 + n,
        "1 + 5n": 1 + 5 * n,
        "a nontrivial square root of 1": _crt(sk, 1, -1),
        "1 mod p, uniform mod q": _crt(sk, 1, h),
        "-1 mod p, uniform mod q": _crt(sk, -1, h),
        "h^(lcm(1..1024) / 2) ... of small order mod p": _crt(sk, pow(h, (sk.p - 1) // 2, sk.p), h),
    }
    for mod in (ref_p, opt_p):
        for name, bad in unsafe.items():
            for call in (
                lambda b, m=mod: m.short_exponent_obfuscators(pk, b, 1, rng=RefSource(0)),
                lambda b, m=mod: m.check_short_exponent_base("t", pk, b, sk),
            ):
                with pytest.raises(ShapeError) as info:
                    call(bad)
                assert info.value.clause == "C13.11", name
                assert str(sk.p) not in str(info.value) and str(sk.q) not in str(info.value)
    # Not an n-th residue: (1 + n) h. Only the key holder can tell (DCR), so the public check
    # lets it pass (C13.11 says so) and the check with the secret key refuses it.
    shifted = (1 + n) * h % n2
    for mod in (ref_p, opt_p):
        mod.check_short_exponent_base("t", pk, shifted)
        with pytest.raises(ShapeError) as info:
            mod.check_short_exponent_base("t", pk, shifted, sk)
        assert info.value.clause == "C13.11" and "n-th residue" in str(info.value)
        for good in (h, n2 - h, h * h % n2, ref_p.short_exponent_base(pk, rng=RefSource(9))):
            mod.check_short_exponent_base("t", pk, good, sk)


@pytest.mark.spec("C13.11")
def test_every_base_of_the_tiny_key_has_small_order() -> None:
    # lambda(293 * 433) = lcm(292, 432) = 2^4 3^3 73 divides lcm(1..1024): no base is safe.
    pk, sk = ref_p.keypair_from_primes(P, Q, insecure_test=True)
    for x in (2, 3, 23, 1000, N - 2):
        h = pow(x, N, N * N)
        for mod in (ref_p, opt_p):
            with pytest.raises(ShapeError) as info:
                mod.check_short_exponent_base("t", pk, h, sk)
            assert info.value.clause == "C13.11"


@pytest.mark.spec("C13.11", "D15.1")
def test_triple_provider_checks_its_own_base(monkeypatch: pytest.MonkeyPatch) -> None:
    # S0 holds the key: a base that fails C13.11 is refused before it is published to S1.
    monkeypatch.setattr(ref_triples, "short_exponent_base", lambda public, rng: public.n + 1)
    for cls, source in ((ref_triples.PaillierTripleProvider, RefSource), (OptProvider, OptSource)):
        with pytest.raises(ShapeError) as info:
            cls(rng=source(8), bits=256, insecure_test=True, obfuscators="short-exponent")
        assert info.value.clause == "C13.11" and "PaillierTripleProvider" in str(info.value)


@pytest.mark.spec("C13.6", "C13.8")
def test_non_unit_ciphertext_errors_do_not_name_the_factor(tree: tuple[ModuleType, type]) -> None:
    mod, _ = tree
    pk, sk = mod.keypair_from_primes(P, Q, insecure_test=True)
    good = mod.encrypt_with(pk, 5, 23)
    for bad, factor in ((P * 1000, P), (Q * 7, Q)):
        for call in (
            lambda c: mod.decrypt(sk, c),
            lambda c: mod.add(pk, good, c),
            lambda c: mod.check_ciphertexts("t", pk, [good, c]),
        ):
            with pytest.raises(ShapeError) as info:
                call(bad)
            assert info.value.clause == "C13.6" and "shares a factor" in str(info.value)
            assert str(factor) not in str(info.value)
