"""Section 15: Beaver material from Paillier, both trees, in the secure round."""

from __future__ import annotations

import math
from typing import Any

import gmpy2
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.optimized.paillier as opt_p
import sbrml.reference as ref
from sbrml.core.errors import ParameterError
from sbrml.optimized.paillier_triples import PaillierTripleProvider as OptProvider
from sbrml.optimized.paillier_triples import multi_exp
from sbrml.reference.he_averaging import ciphertext_width
from sbrml.reference.paillier_triples import PaillierTripleProvider as RefProvider
from sbrml.reference.paillier_triples import slot_values
from tests.helpers import as_list, decoded_inputs
from tests.statistical.test_uniformity import assert_uniform_u64, chi2_critical, chi2_uniform

M = 1 << 64


def providers(seed: int) -> tuple[RefProvider, OptProvider]:
    return (
        RefProvider(rng=ref.DeterministicRandomSource(seed), bits=512, insecure_test=True),
        OptProvider(rng=opt.DeterministicRandomSource(seed), bits=512, insecure_test=True),
    )


def _flat(v: object) -> list[int]:
    items = as_list(v)
    return [int(x) for row in items for x in (row if isinstance(row, list) else [row])]


def _rec(a: object, b: object) -> list[int]:
    return [(x + y) % M for x, y in zip(_flat(a), _flat(b), strict=True)]


@pytest.mark.spec("C15.1", "C15.3")
@settings(max_examples=min(8, settings().max_examples))
@given(st.integers(0, 2**32), st.integers(1, 4), st.integers(1, 3))
def test_material_is_correct_and_identical(seed: int, rows: int, cols: int) -> None:
    out = []
    pair: tuple[Any, Any] = providers(seed)
    for provider, tree in zip(pair, (ref, opt), strict=True):
        channel = tree.Channel()
        t = provider.scalar_triples(3, channel=channel)
        s = provider.square_pairs(2, channel=channel)
        g = provider.gram_triple(rows, cols, channel=channel)
        a, b, c = _rec(t[0].a, t[1].a), _rec(t[0].b, t[1].b), _rec(t[0].c, t[1].c)
        assert c == [x * y % M for x, y in zip(a, b, strict=True)]
        a, b = _rec(s[0].a, s[1].a), _rec(s[0].b, s[1].b)
        assert b == [x * x % M for x in a]
        big_a = np.array(_rec(g[0].a, g[1].a), dtype=object).reshape(rows, cols)
        big_c = np.array(_rec(g[0].c, g[1].c), dtype=object).reshape(rows, rows)
        assert ((big_a @ big_a.T) % M == big_c).all()
        out.append(
            (as_list([t[0].c, t[1].c]), as_list([g[0].c, g[1].c]), channel.transcript_bytes())
        )
    assert out[0] == out[1]


@pytest.mark.spec("C15.2")
def test_modulus_must_leave_room_for_the_masks() -> None:
    for cls, source in (
        (RefProvider, ref.DeterministicRandomSource),
        (OptProvider, opt.DeterministicRandomSource),
    ):
        provider = cls(rng=source(1), bits=160, insecure_test=True)
        with pytest.raises(ParameterError) as info:
            provider.square_pairs(1, channel=ref.Channel())
        assert info.value.clause == "C15.2" and "160-bit n" in str(info.value)
        with pytest.raises(ParameterError) as low:
            cls(rng=source(1), bits=2048, sigma=20)
        assert low.value.clause == "C15.2"


@pytest.mark.spec("C15.4")
def test_kept_shares_are_uniform() -> None:
    provider = OptProvider(rng=opt.DeterministicRandomSource(9), bits=512, insecure_test=True)
    channel = opt.Channel()
    ones = np.ones(6000, dtype=np.uint64)
    s0, s1 = provider._elementwise(
        ones, ones, channel
    )  # cross = 1 everywhere: the masks must hide it
    assert_uniform_u64(s0, "S0 share of the cross term")
    assert_uniform_u64(s1, "S1 share of the cross term")


@pytest.mark.spec("C15.1", "C8.5", "C15.3")
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_secure_round_under_the_paillier_provider(variant: str) -> None:
    x = [[math.sin(i + 0.5 * k) for k in range(4)] for i in range(6)]
    results = []
    for provider, tree in zip(providers(5), (ref, opt), strict=True):
        rule = tree.MultiKrum(1)
        results.append(
            tree.secure_aggregate(
                x, rule, rng=tree.DeterministicRandomSource(2), provider=provider, variant=variant
            )
        )
    r, o = results
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
    plain = ref.MultiKrum(1)(decoded_inputs(x))
    assert r.z == as_list(o.z) and max(abs(a - b) for a, b in zip(r.z, plain, strict=True)) < 1e-8
    labels = {m.label for m in r.channel.messages}
    # The dealer supplies only range validation's comparison material (C8.14).
    assert "offline/paillier-key" in labels
    assert {m.label for m in r.channel.messages if m.sender == "dealer"} == {
        "offline/masks",
        "offline/dabits",
        "offline/and",
    }


def _cross_check(provider: Any, u: Any, v: Any, tree: Any) -> tuple[Any, bytes]:
    channel = tree.Channel()
    s0, s1 = provider.cross(u, v, channel=channel)
    got = np.array(_rec(s0, s1), dtype=object).reshape(len(u), len(v))
    want = (np.array(u, dtype=object) @ np.array(v, dtype=object).T) % M
    assert (got == want).all()
    return as_list([s0, s1]), channel.transcript_bytes()


@pytest.mark.spec("C15.1", "C15.3")
@settings(max_examples=min(6, settings().max_examples))
@given(st.integers(0, 2**32), st.integers(1, 8), st.integers(1, 4), st.integers(1, 5))
def test_packed_cross_with_several_groups(seed: int, rows: int, cols: int, d: int) -> None:
    # sigma = 0 makes the slots as narrow as the layout allows (kappa = 128 + bitlength(d)),
    # so a slot one bit too narrow carries into its neighbour for a
    # sizeable share of the entries (t >= 2^kappa whenever the cross term tops up the mask); a
    # 512-bit key then holds s = 3 slots, and rows = 7 leaves a last group of one row.
    gen = np.random.default_rng(seed)  # test data, not secret randomness
    u = gen.integers(0, 2**64, size=(rows, d), dtype=np.uint64)
    v = gen.integers(0, 2**64, size=(cols, d), dtype=np.uint64)
    out = []
    for cls, tree in ((RefProvider, ref), (OptProvider, opt)):
        provider = cls(
            rng=tree.DeterministicRandomSource(seed), bits=512, insecure_test=True, sigma=0
        )
        kappa, width, slots = provider.slot_layout(d)
        assert (kappa, width) == (128 + d.bit_length(), 129 + d.bit_length())
        assert slots == (provider.public.n.bit_length() - 1) // width == 3
        if tree is ref:
            out.append(_cross_check(provider, u.tolist(), v.tolist(), tree))
        else:
            out.append(_cross_check(provider, u, v, tree))
    assert out[0] == out[1]


@pytest.mark.spec("C15.2")
def test_packed_messages_hold_one_ciphertext_per_group_and_column() -> None:
    # P15.1 counts: ceil(r/s) d ciphertexts from S0 and ceil(r/s) c from S1 (2 * 128 bytes
    # each at 512 bits), so packing really happens and every slot is read back.
    rows, cols, d = 7, 4, 3
    provider = RefProvider(rng=ref.DeterministicRandomSource(3), bits=512, insecure_test=True)
    kappa, width, slots = provider.slot_layout(d)
    assert kappa == 128 + 2 + 40 and slots == 511 // width == 2
    gen = np.random.default_rng(1)
    u = gen.integers(0, 2**64, size=(rows, d), dtype=np.uint64).tolist()
    v = gen.integers(0, 2**64, size=(cols, d), dtype=np.uint64).tolist()
    channel = ref.Channel()
    _cross_check(provider, u, v, ref)
    provider.cross(u, v, channel=channel)
    sizes = {m.label: len(m.payload) for m in channel.messages}
    groups = -(-rows // slots)
    assert sizes["offline/cross-enc"] == groups * d * 128
    assert sizes["offline/cross-masked"] == groups * cols * 128


@pytest.mark.spec("C15.4")
def test_packed_cross_shares_are_uniform() -> None:
    # U V^T = d everywhere: the slot masks must hide it in both kept shares.
    provider = OptProvider(rng=opt.DeterministicRandomSource(4), bits=512, insecure_test=True)
    ones = np.ones((80, 2), dtype=np.uint64)
    s0, s1 = provider.cross(ones, ones, channel=opt.Channel())
    assert_uniform_u64(s0, "S0 share of the packed cross product")
    assert_uniform_u64(s1, "S1 share of the packed cross product")


@settings(max_examples=min(20, settings().max_examples))
@given(
    st.lists(st.integers(0, 2**64 - 1), min_size=0, max_size=40),
    st.integers(1, 2**64),
    st.integers(0, 2**32),
)
def test_multi_exp_equals_the_direct_product(exps: list[int], scale: int, seed: int) -> None:
    modulus = (2 * seed + 3) * (2**61 - 1)
    bases = [gmpy2.mpz((seed + 7 * k + 2) % modulus) for k in range(len(exps))]
    exps = [e % scale for e in exps]  # small and large exponents, so every window size runs
    want = 1
    for b, e in zip(bases, exps, strict=True):
        want = want * pow(int(b), e, modulus) % modulus
    assert int(multi_exp(bases, exps, gmpy2.mpz(modulus))) == want


@pytest.mark.spec("C15.2", "C15.4")
@pytest.mark.parametrize("value", [0, 2**64 - 1])
def test_s0_view_of_the_packed_cross_does_not_depend_on_the_inputs(value: int) -> None:
    # S0's whole view is what it decrypts from S1's message: the slots t = X + rho. For
    # X = 0 and for the largest X (every product (2^64 - 1)^2), each t must stay below
    # 2^(kappa + 1) and its top byte below bit kappa must be uniform; so must t mod 2^64,
    # S0's kept share. (S1 sees only ciphertexts under S0's key: C15.4 rests on DCR there.)
    provider = OptProvider(rng=opt.DeterministicRandomSource(6), bits=512, insecure_test=True)
    rows, cols, d = 80, 80, 2
    kappa, width, _ = provider.slot_layout(d)
    u = np.full((rows, d), value, dtype=np.uint64)
    channel = opt.Channel()
    provider.cross(u, u, channel=channel)
    by_label = {m.label: bytes(m.payload) for m in channel.messages}
    w = ciphertext_width(provider.public)
    sk = provider._private
    slots = []
    masked = by_label["offline/cross-masked"]
    for g in range(0, len(masked) // w):
        m = opt_p.decrypt(sk, int.from_bytes(masked[g * w : (g + 1) * w], "little"))
        slots.extend(slot_values(m, width, 2))
    t = np.array(slots, dtype=object)
    assert len(t) == rows * cols and all(x < 2 ** (kappa + 1) for x in t)
    top = np.array([(x >> (kappa - 8)) & 0xFF for x in t], dtype=np.intp)
    stat = chi2_uniform(np.bincount(top, minlength=256))
    assert stat < chi2_critical(255), f"top byte of S0's slots: chi2={stat:.1f}"
    assert_uniform_u64(np.array([x & (M - 1) for x in t], dtype=np.uint64), "S0's slots mod 2^64")


@pytest.mark.spec("C15.1", "C15.3")
@settings(max_examples=min(6, settings().max_examples))
@given(st.integers(0, 2**32), st.integers(1, 10))
def test_packed_elementwise_products(seed: int, count: int) -> None:
    # P15.3 at sigma = 0: three elements per returned ciphertext at 512 bits, so counts up to
    # 10 give several groups and short last groups; a slot one bit short carries.
    gen = np.random.default_rng(seed)  # test data, not secret randomness
    u = gen.integers(0, 2**64, size=count, dtype=np.uint64)
    v = gen.integers(0, 2**64, size=count, dtype=np.uint64)
    out = []
    for cls, tree in ((RefProvider, ref), (OptProvider, opt)):
        provider: Any = cls(
            rng=tree.DeterministicRandomSource(seed), bits=512, insecure_test=True, sigma=0
        )
        assert provider.slot_layout(1)[2] == 3
        channel = tree.Channel()
        if tree is ref:
            s0, s1 = provider._elementwise(u.tolist(), v.tolist(), channel)
        else:
            s0, s1 = provider._elementwise(u, v, channel)
        assert _rec(s0, s1) == [int(a) * int(b) % M for a, b in zip(u, v, strict=True)]
        sizes = {m.label: len(m.payload) for m in channel.messages}
        assert sizes["offline/cross-enc"] == count * 128
        assert sizes["offline/cross-masked"] == -(-count // 3) * 128
        out.append((as_list([s0, s1]), channel.transcript_bytes()))
    assert out[0] == out[1]


@pytest.mark.spec("C15.1", "C15.3", "D15.1", "C13.11")
def test_short_exponent_option() -> None:
    out = []
    for cls, tree in ((RefProvider, ref), (OptProvider, opt)):
        provider: Any = cls(
            rng=tree.DeterministicRandomSource(8),
            bits=512,
            insecure_test=True,
            obfuscators="short-exponent",
        )
        channel = tree.Channel()
        s = provider.square_pairs(5, channel=channel)
        a, b = _rec(s[0].a, s[1].a), _rec(s[0].b, s[1].b)
        assert b == [x * x % M for x in a]
        g = provider.gram_triple(3, 2, channel=channel)
        big_a = np.array(_rec(g[0].a, g[1].a), dtype=object).reshape(3, 2)
        big_c = np.array(_rec(g[0].c, g[1].c), dtype=object).reshape(3, 3)
        assert ((big_a @ big_a.T) % M == big_c).all()
        key = bytes(channel.messages[0].payload)
        assert channel.messages[0].label == "offline/paillier-key" and len(key) == 64 + 128
        assert int.from_bytes(key[64:], "little") == provider.base
        out.append(channel.transcript_bytes())
    assert out[0] == out[1]
    default = RefProvider(rng=ref.DeterministicRandomSource(8), bits=512, insecure_test=True)
    assert default.base is None and default.public == provider.public
    for cls in (RefProvider, OptProvider):
        with pytest.raises(ParameterError) as info:
            cls(rng=ref.DeterministicRandomSource(1), bits=512, insecure_test=True, obfuscators="x")
        assert info.value.clause == "D15.1"
