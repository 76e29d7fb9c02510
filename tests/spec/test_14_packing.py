"""Section 14: packing and encrypted averaging (spec/14-packing.md)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.optimized.he_averaging as opt_he
import sbrml.optimized.paillier as opt_p
import sbrml.reference as ref
import sbrml.reference.he_averaging as ref_he
from sbrml.core.channel import Message
from sbrml.core.errors import (
    EncodingError,
    InsufficientWorkersError,
    ParameterError,
    ShapeError,
)
from sbrml.optimized.packing import Packing as OptPacking
from sbrml.reference.packing import Packing as RefPacking

KEY = opt_p.generate_keypair(512, rng=opt.DeterministicRandomSource(7), insecure_test=True)


@pytest.mark.spec("D14.1")
def test_layout_known_answer() -> None:
    p = RefPacking(2048, 9)
    assert p.bound == 2**24 and p.slot_bits == ((2**25 - 1) * 9).bit_length() == 29
    assert p.slots == 2047 // 29 == 70
    # Two values, F = 1, I = 1, N = 1: B = 4, b = 3; v = 1.5 -> e = 3 -> u = 7; v = -1 -> u = 2.
    q = RefPacking(16, 1, frac_bits=1, int_bits=1)
    assert q.pack([1.5, -1.0]) == [7 + (2 << 3) + sum(4 << (3 * j) for j in range(2, q.slots))]


@pytest.mark.spec("C14.1")
@pytest.mark.parametrize(
    ("args", "kw"),
    [
        ((8, 2), {}),
        ((2048, 0), {}),
        ((2048, 2), {"frac_bits": -1}),
        ((2048, 2**40), {"int_bits": 30}),
        ((20, 9), {}),
    ],
)
def test_bad_layouts(args: tuple[int, int], kw: dict[str, int]) -> None:
    for cls in (RefPacking, OptPacking):
        with pytest.raises(ParameterError) as info:
            cls(*args, **kw)
        assert info.value.clause == "C14.1"


@pytest.mark.spec("C14.2")
@pytest.mark.parametrize("bad", [256.0, -256.0, 1e9, math.nan])
def test_out_of_range_values_raise(bad: float) -> None:
    for cls in (RefPacking, OptPacking):
        with pytest.raises(EncodingError) as info:
            cls(512, 3).pack([0.0, bad])
        assert info.value.clause in ("C14.2", "C1.1") and "values[1]" in str(info.value)
    RefPacking(512, 3).pack([255.99998])  # just inside |e| < 2^24


@pytest.mark.spec("C14.3", "P14.1", "P14.2")
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.lists(
            st.lists(st.floats(-255, 255), min_size=7, max_size=7), min_size=n, max_size=n
        )
    )
)
def test_packed_sums_decode_within_the_bound(vectors: list[list[float]]) -> None:
    n = len(vectors)
    for cls in (RefPacking, OptPacking):
        p = cls(256, 6)
        total = [sum(ms) for ms in zip(*(p.pack(v) for v in vectors), strict=True)]
        sums = list(p.unpack(total, n, 7))
        for k in range(7):
            assert abs(sums[k] - math.fsum(v[k] for v in vectors)) <= n * 2.0**-17
    assert RefPacking(256, 6).pack(vectors[0]) == OptPacking(256, 6).pack(np.array(vectors[0]))


@pytest.mark.spec("C14.3")
def test_overflow_boundary() -> None:
    for cls in (RefPacking, OptPacking):
        p = cls(256, 2, frac_bits=0, int_bits=4)  # B = 16, b = bitlength(31 * 2) = 6
        top = p.pack([15.0] * p.slots)
        assert list(p.unpack([2 * top[0]], 2, p.slots)) == [30.0] * p.slots  # N summands fit
        with pytest.raises(ParameterError) as info:
            p.unpack([3 * top[0]], 3, p.slots)  # a third summand is refused
        assert info.value.clause == "C14.3"
        with pytest.raises(ShapeError) as shape:
            p.unpack([1 << (p.slots * p.slot_bits)], 1, p.slots)
        assert shape.value.clause == "C14.3"


def _inputs(n: int, d: int) -> list[list[float]]:
    return [[round(math.sin(i + 0.3 * k) * 50, 3) for k in range(d)] for i in range(n)]


@pytest.mark.spec("C14.4", "C7.3")
@pytest.mark.parametrize("kind", ["none", "missing", "duplicate", "short", "invalid"])
def test_encrypted_average(kind: str) -> None:
    pk, sk = KEY
    x = _inputs(5, 23)

    def tamper(ms: list[Message]) -> list[Message]:
        if kind == "missing":
            return [m for m in ms if m.sender != "W3"]
        if kind == "duplicate":
            return ms + [m for m in ms if m.sender == "W3"]
        if kind == "short":
            return [
                Message(m.sender, m.receiver, m.label, bytes(m.payload)[:-1])
                if m.sender == "W3"
                else m
                for m in ms
            ]
        if kind == "invalid":  # the first ciphertext replaced by 0, which is not in Z*_{n^2}
            w = ref_he.ciphertext_width(pk)
            return [
                Message(m.sender, m.receiver, m.label, bytes(w) + bytes(m.payload)[w:])
                if m.sender == "W3"
                else m
                for m in ms
            ]
        return ms

    r = ref_he.encrypted_average(
        x, public=pk, private=sk, rng=ref.DeterministicRandomSource(1), tamper=tamper
    )
    o = opt_he.encrypted_average(
        np.array(x), public=pk, private=sk, rng=opt.DeterministicRandomSource(1), tamper=tamper
    )
    kept = [0, 1, 2, 4] if kind != "none" else [0, 1, 2, 3, 4]
    assert r.valid == o.valid == kept
    assert (3 in r.excluded) == (kind != "none") and (
        "C14.4" in r.excluded.get(3, "C14.4") or "C13.6" in r.excluded[3]
    )
    expected = [math.fsum(x[i][k] for i in kept) / len(kept) for k in range(23)]
    assert max(abs(a - b) for a, b in zip(r.mean, expected, strict=True)) <= 2.0**-16
    assert r.mean == list(o.mean)
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()


@pytest.mark.spec("C14.4")
def test_no_valid_worker() -> None:
    pk, sk = KEY
    with pytest.raises(InsufficientWorkersError) as info:
        ref_he.encrypted_average(
            _inputs(2, 3),
            public=pk,
            private=sk,
            rng=ref.DeterministicRandomSource(1),
            tamper=lambda ms: [],
        )
    assert info.value.clause == "C14.4"


@pytest.mark.spec("C14.4", "C13.8")
@pytest.mark.parametrize("bad", ["none", "zero", "too large", "shares a factor", "short"])
def test_server_sum_fast_path_equals_the_worker_by_worker_check(bad: str) -> None:
    """The optimized server multiplies every position (in one or two processes) and checks
    all the ciphertexts with one gcd; any failure must give the reference's result and reasons."""
    pk, sk = KEY
    width = ref_he.ciphertext_width(pk)
    rng = opt.DeterministicRandomSource(7)
    count = 300  # enough positions for the two-process path
    cts = {
        i: [opt_p.encrypt(pk, (i * 1000 + k) % pk.n, rng=rng) for k in range(count)]
        for i in range(3)
    }
    if bad == "zero":
        cts[1][150] = 0
    elif bad == "too large":
        cts[1][299] = pk.n_squared
    elif bad == "shares a factor":
        cts[2][7] = sk.p
    payloads = {i: ref_he.pack_ciphertexts(c, width) for i, c in cts.items()}
    if bad == "short":
        payloads[0] = payloads[0][:-1]
    expected = ref_he.sum_valid(pk, payloads, count)
    for processes in (1, 2):
        assert opt_he.sum_valid(pk, payloads, count, processes=processes) == expected
    assert sorted(expected[1]) == (
        []
        if bad == "none"
        else [{"zero": 1, "too large": 1, "shares a factor": 2, "short": 0}[bad]]
    )


@pytest.mark.spec("C14.4", "C7.3", "C13.11")
def test_encrypted_average_with_short_exponent_obfuscators() -> None:
    pk, sk = KEY
    h = opt_p.short_exponent_base(pk, rng=opt.DeterministicRandomSource(3))
    x = _inputs(4, 31)
    runs = [
        ref_he.encrypted_average(
            x, public=pk, private=sk, rng=ref.DeterministicRandomSource(1), short_exponent_base=h
        ),
        opt_he.encrypted_average(
            np.array(x),
            public=pk,
            private=sk,
            rng=opt.DeterministicRandomSource(1),
            short_exponent_base=h,
        ),
    ]
    default = ref_he.encrypted_average(
        x, public=pk, private=sk, rng=ref.DeterministicRandomSource(1)
    )
    r, o = runs
    assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
    assert r.channel.transcript_bytes() != default.channel.transcript_bytes()
    expected = [math.fsum(row[k] for row in x) / 4 for k in range(31)]
    assert max(abs(a - b) for a, b in zip(r.mean, expected, strict=True)) <= 2.0**-16
    assert r.mean == list(o.mean) == default.mean
    for bad in (1, pk.n_squared):  # the caller's error, raised before any worker runs
        with pytest.raises(ShapeError) as info:
            opt_he.encrypted_average(
                np.array(x),
                public=pk,
                private=sk,
                rng=opt.DeterministicRandomSource(1),
                short_exponent_base=bad,
            )
        assert info.value.clause == "C13.11" and "encrypted_average" in str(info.value)
