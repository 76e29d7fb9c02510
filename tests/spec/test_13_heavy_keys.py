"""Sections 13-15 at the deployed key sizes (2048 and 3072 bits); slow, run by `make thorough`.

The default run uses 512-bit test keys (insecure_test) for speed; these tests repeat the
checks that depend on the key size at the sizes C13.1 admits without the flag.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from phe import paillier as phe

import sbrml.optimized as opt
import sbrml.optimized.he_averaging as opt_he
import sbrml.optimized.paillier as opt_p
import sbrml.reference as ref
import sbrml.reference.he_averaging as ref_he
import sbrml.reference.paillier as ref_p
from sbrml.optimized.paillier_triples import PaillierTripleProvider as OptProvider
from sbrml.reference.paillier_triples import PaillierTripleProvider as RefProvider

pytestmark = pytest.mark.slow
M = 1 << 64


@pytest.fixture(scope="module", params=[2048, 3072], ids=["2048", "3072"])
def keys(request: pytest.FixtureRequest) -> tuple[ref_p.PublicKey, ref_p.PrivateKey]:
    bits = request.param
    a = ref_p.generate_keypair(bits, rng=ref.DeterministicRandomSource(bits))
    b = opt_p.generate_keypair(bits, rng=opt.DeterministicRandomSource(bits))
    assert a == b  # C13.2: one key from one seed in both trees
    assert a[0].n.bit_length() == bits and a[1].p.bit_length() == a[1].q.bit_length()
    return a


@pytest.mark.spec("C13.1", "C13.2", "C13.4", "C13.7", "C13.10")
def test_encryption_at_full_size(keys: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, sk = keys
    phe_pub = phe.PaillierPublicKey(pk.n)
    phe_priv = phe.PaillierPrivateKey(phe_pub, sk.p, sk.q)
    lam = math.lcm(sk.p - 1, sk.q - 1)
    for m in (0, 1, 2**64 + 3, pk.n - 1):
        c = ref_p.encrypt(pk, m, rng=ref.DeterministicRandomSource(m % 101))
        assert c == opt_p.encrypt(pk, m, rng=opt.DeterministicRandomSource(m % 101))
        assert c == opt_p.encrypt_private(sk, m, rng=opt.DeterministicRandomSource(m % 101))
        assert ref_p.decrypt(sk, c) == opt_p.decrypt(sk, c) == m == phe_priv.raw_decrypt(c)
        assert (pow(c, lam, pk.n_squared) - 1) // pk.n * pow(lam, -1, pk.n) % pk.n == m
        assert opt_p.decrypt(sk, phe_pub.raw_encrypt(m)) == m
    obf = ref_p.key_holder_obfuscators(sk, 3, rng=ref.DeterministicRandomSource(5))
    assert obf == opt_p.key_holder_obfuscators(
        sk, 3, rng=opt.DeterministicRandomSource(5), processes=2
    )
    for o in obf:
        assert phe_priv.raw_decrypt(ref_p.encrypt_with_obfuscator(pk, 77, o)) == 77


@pytest.mark.spec("C14.4", "C7.3")
def test_encrypted_average_at_full_size(keys: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, sk = keys
    x = [[math.sin(i + 0.3 * k) * 20 for k in range(150)] for i in range(4)]
    r = ref_he.encrypted_average(x, public=pk, private=sk, rng=ref.DeterministicRandomSource(1))
    o = opt_he.encrypted_average(
        np.array(x), public=pk, private=sk, rng=opt.DeterministicRandomSource(1)
    )
    expected = [math.fsum(row[k] for row in x) / 4 for k in range(150)]
    assert max(abs(a - b) for a, b in zip(r.mean, expected, strict=True)) <= 2.0**-16
    assert r.mean == list(o.mean)
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()


@pytest.mark.spec("C15.1", "C15.3")
def test_gram_triple_at_full_size(keys: tuple[ref_p.PublicKey, ref_p.PrivateKey]) -> None:
    pk, _ = keys
    rows, cols = 13, 5  # 13 rows: more than one group of s = 11 slots at 2048 bits
    out = []
    for cls, tree in ((RefProvider, ref), (OptProvider, opt)):
        provider = cls(rng=tree.DeterministicRandomSource(pk.bits), bits=pk.bits)
        channel = tree.Channel()
        g0, g1 = provider.gram_triple(rows, cols, channel=channel)
        a = (np.array(g0.a, dtype=object) + np.array(g1.a, dtype=object)) % M
        c = (np.array(g0.c, dtype=object) + np.array(g1.c, dtype=object)) % M
        assert (
            (a.reshape(rows, cols) @ a.reshape(rows, cols).T) % M == c.reshape(rows, rows)
        ).all()
        out.append(channel.transcript_bytes())
    assert out[0] == out[1]
