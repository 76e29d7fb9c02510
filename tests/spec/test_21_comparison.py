"""Section 21: secure comparison on shares (spec/21-comparison.md).

Every protocol is checked against plaintext on random and edge inputs, and the dealer's
material is reconstructed and checked; test_21_errors.py checks C21.4's refusals. Planes of
either tree are read through ``plane_int`` (an int in the reference tree, a uint64
array of ceil(N/64) words in the optimized tree).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import ParameterError
from tests.helpers import ScriptedSource, as_list

M = 1 << 64
MASK = M - 1
LANES = [1, 63, 64, 65, 130]
TREES: list[ModuleType] = [ref, opt]
words = st.integers(0, MASK)


def plane_int(plane: object) -> int:
    """A plane of either tree as an int (bit i = lane i)."""
    if isinstance(plane, np.ndarray):
        return int.from_bytes(plane.astype("<u8").tobytes(), "little")
    assert isinstance(plane, int)
    return plane


def lane_bits(plane: object, lanes: int) -> list[int]:
    """The lanes of a plane as 0/1 values; no bit may be set at a position >= lanes (D21.1)."""
    value = plane_int(plane)
    assert value >> lanes == 0, f"bits set at lane positions >= {lanes}"
    if isinstance(plane, np.ndarray):
        assert plane.dtype == np.uint64 and plane.shape == (-(-lanes // 64),)
    return [value >> i & 1 for i in range(lanes)]


def make_plane(tree: ModuleType, value: int, lanes: int) -> Any:
    """A plane of ``lanes`` lanes in the tree's own representation."""
    if tree is ref:
        return value
    size = 8 * (-(-lanes // 64))
    return np.frombuffer(value.to_bytes(size, "little"), dtype="<u8").astype(np.uint64)


def ring(tree: ModuleType, values: list[int]) -> Any:
    """A ring vector in the tree's own representation."""
    return list(values) if tree is ref else np.array(values, dtype=np.uint64)


def rec(pair: tuple[Any, Any]) -> list[int]:
    """Reconstruct additive shares of either tree."""
    return [(a + b) & MASK for a, b in zip(as_list(pair[0]), as_list(pair[1]), strict=True)]


def xor_rec(pair: tuple[Any, Any], lanes: int) -> list[int]:
    """Reconstruct an XOR-shared plane of either tree as lane bits."""
    return [
        a ^ b for a, b in zip(lane_bits(pair[0], lanes), lane_bits(pair[1], lanes), strict=True)
    ]


def plane_of(values: list[int], j: int) -> int:
    """Plaintext: plane j of a vector of ints."""
    return sum((v >> j & 1) << i for i, v in enumerate(values))


def signed(x: int) -> int:
    return x - M if x >> 63 else x


def xor_shared(
    tree: ModuleType, values: list[int], masks: list[int], bits: int
) -> list[tuple[Any, Any]]:
    """XOR shares of planes 0..bits-1 of ``values``: S0 holds the planes of ``masks``."""
    lanes = len(values)
    out = []
    for j in range(bits):
        p, q = plane_of(values, j), plane_of(masks, j)
        out.append((make_plane(tree, q, lanes), make_plane(tree, p ^ q, lanes)))
    return out


def additive(tree: ModuleType, values: list[int], masks: list[int]) -> tuple[Any, Any]:
    """Additive shares (masks, values - masks) of a ring vector."""
    return ring(tree, masks), ring(
        tree, [(v - m) & MASK for v, m in zip(values, masks, strict=True)]
    )


def material(tree: ModuleType, seed: int) -> tuple[Any, Any]:
    """A dealer and the channel its messages go to (kept apart from the protocol's channel)."""
    return tree.Dealer(rng=tree.DeterministicRandomSource(seed)), tree.Channel()


# ---------------------------------------------------------------------------------------------
# C21.1: the dealer's material


@pytest.mark.spec("C21.1", "P21.1")
@pytest.mark.parametrize("lanes", LANES)
def test_dealer_material_is_correct(impl: ModuleType, lanes: int) -> None:
    dealer, channel = material(impl, lanes)
    size = 8 * (-(-lanes // 64))
    t0, t1 = dealer.and_triples(lanes, 3, channel=channel)
    for k in range(3):
        a, b, c = (xor_rec((getattr(t0, f)[k], getattr(t1, f)[k]), lanes) for f in "abc")
        assert c == [x & y for x, y in zip(a, b, strict=True)]
    assert any(plane_int(p) for p in t0.a) and any(plane_int(p) for p in t1.b)
    expected_sizes = [3 * 3 * size] * 2
    for bits, high in [(1, False), (1, True), (7, True), (63, True), (64, False)]:
        m0, m1 = dealer.masks(lanes, bits, high=high, channel=channel)
        r = rec((m0.r, m1.r))
        assert len(r) == lanes and len(m0.planes) == len(m1.planes) == bits
        for j in range(bits):
            assert xor_rec((m0.planes[j], m1.planes[j]), lanes) == [v >> j & 1 for v in r]
        if high:
            assert rec((m0.high, m1.high)) == [v >> bits for v in r]
        else:
            assert m0.high is None and m1.high is None
        expected_sizes += [8 * lanes + bits * size + (8 * lanes if high else 0)] * 2
    d0, d1 = dealer.dabits(lanes, channel=channel)
    assert rec((d0.q, d1.q)) == xor_rec((d0.beta, d1.beta), lanes)
    expected_sizes += [size + 8 * lanes] * 2
    assert [m.size for m in channel.messages] == expected_sizes
    assert [m.label for m in channel.messages] == ["offline/and"] * 2 + ["offline/masks"] * 10 + [
        "offline/dabits"
    ] * 2
    assert [m.receiver for m in channel.messages] == ["S0", "S1"] * 7


@pytest.mark.spec("C21.1", "P21.1")
def test_dealer_clears_lane_bits_beyond_the_batch_in_draw_order(impl: ModuleType) -> None:
    # Every keystream byte is 0xff, so every plane is read with bits set beyond lane 2: the
    # dealer must clear them (3 lanes), and take the parts in the order P21.1 lists.
    source = ScriptedSource(b"\xff" * (5 * 8 + 2 * 3 * 8 + 2 * 8 + 3 * 8 + 2 * 8 + 3 * 8))
    dealer, channel = impl.Dealer(rng=source), impl.Channel()
    t0, t1 = dealer.and_triples(3, 1, channel=channel)
    assert [plane_int(p[0]) for p in (t0.a, t1.a, t0.b, t1.b, t0.c)] == [7] * 5
    assert plane_int(t1.c[0]) == 7  # c^1 = (7 ^ 7) & (7 ^ 7) ^ 7
    m0, m1 = dealer.masks(3, 2, high=True, channel=channel)
    assert as_list(m0.r) == as_list(m1.r) == [MASK] * 3 and plane_int(m0.planes[0]) == 7
    # r = 2^64 - 2 on every lane: plane 0 is 0, plane 1 is 1, so rho^1 = rho^0 ^ (0, 7).
    assert [plane_int(p) for p in m1.planes] == [7, 0]
    assert rec((m0.high, m1.high)) == [(M - 2) >> 2] * 3
    d0, d1 = dealer.dabits(3, channel=channel)
    assert plane_int(d0.beta) == plane_int(d1.beta) == 7 and rec((d0.q, d1.q)) == [0] * 3
    assert source.consumed == 168


@pytest.mark.spec("D21.2")
@pytest.mark.parametrize(
    "request_",
    [
        ("and_triples", (0, 1), {}),
        ("and_triples", (True, 1), {}),
        ("and_triples", (3, -1), {}),
        ("masks", (3, 0), {"high": False}),
        ("masks", (3, 65), {"high": False}),
        ("masks", (3, 64), {"high": True}),
        ("masks", (0, 4), {"high": True}),
        ("dabits", (0,), {}),
        ("dabits", (2.0,), {}),
    ],
    ids=str,
)
def test_dealer_rejects_bad_requests(
    impl: ModuleType, request_: tuple[str, tuple[Any, ...], dict[str, Any]]
) -> None:
    name, args, kwargs = request_
    dealer, channel = material(impl, 0)
    with pytest.raises(ParameterError) as info:
        getattr(dealer, name)(*args, channel=channel, **kwargs)
    assert info.value.clause == "D21.2" and info.value.function == f"Dealer.{name}"
    assert channel.messages == []


# ---------------------------------------------------------------------------------------------
# C21.2: outputs against plaintext


def run_less_than_bits(
    tree: ModuleType, c: list[int], rho: list[int], masks: list[int], bits: int, seed: int = 1
) -> tuple[list[int], Any]:
    lanes = len(c)
    dealer, offline = material(tree, seed)
    triples = dealer.and_triples(lanes, tree.gate_count(bits), channel=offline)
    channel = tree.Channel()
    c_planes = [make_plane(tree, plane_of(c, j), lanes) for j in range(bits)]
    out = tree.less_than_bits(
        c_planes,
        xor_shared(tree, rho, masks, bits),
        triples,
        lanes=lanes,
        channel=channel,
    )
    return xor_rec(out, lanes), channel


@pytest.mark.spec("C21.2", "P21.3")
@given(
    st.integers(1, 64),
    st.lists(st.tuples(words, words, words, st.booleans()), min_size=1, max_size=70),
)
def test_less_than_bits_matches_plaintext(
    bits: int, lanes: list[tuple[int, int, int, bool]]
) -> None:
    top = (1 << bits) - 1
    c = [v & top for v, _, _, _ in lanes]
    # A tie on about half the lanes: every bit compares equal and the output must be 0.
    rho = [ci if tie else w & top for ci, (_, w, _, tie) in zip(c, lanes, strict=True)]
    masks = [m for _, _, m, _ in lanes]
    for tree in TREES:
        got, _ = run_less_than_bits(tree, c, rho, masks, bits)
        assert got == [int(x < y) for x, y in zip(c, rho, strict=True)]


@pytest.mark.spec("C21.2", "P21.3")
@pytest.mark.parametrize("bits", [1, 2, 3, 4])
def test_less_than_bits_on_every_pair(impl: ModuleType, bits: int) -> None:
    # Every (c, rho) pair of `bits`-bit values, one per lane, with two different sharings.
    pairs = [(x, y) for x in range(1 << bits) for y in range(1 << bits)]
    c, rho = [x for x, _ in pairs], [y for _, y in pairs]
    for masks in ([0] * len(pairs), [(7 * i + 3) & MASK for i in range(len(pairs))]):
        got, channel = run_less_than_bits(impl, c, rho, masks, bits)
        assert got == [int(x < y) for x, y in pairs]
        # P21.3: ceil(log2 m) rounds, A(m) gates, 2 A(m) planes per server.
        sent = [m for m in channel.messages if m.sender == "S0"]
        assert len(sent) == (bits - 1).bit_length()
        plane = 8 * (-(-len(pairs) // 64))
        assert sum(m.size for m in sent) == 2 * impl.gate_count(bits) * plane
        assert {m.label for m in channel.messages} <= {"cmp/and"}


@pytest.mark.spec("P21.3")
def test_gate_count(impl: ModuleType) -> None:
    counts = [impl.gate_count(m) for m in range(1, 9)]
    assert counts == [0, 1, 3, 5, 7, 9, 11, 13]
    assert impl.gate_count(21) == 39 and impl.gate_count(63) == 123


@pytest.mark.spec("C21.2", "P21.3")
@pytest.mark.parametrize("bits", [62, 63, 64])
def test_less_than_bits_at_full_width(impl: ModuleType, bits: int) -> None:
    top = (1 << bits) - 1
    edges = [0, 1, top, top - 1, 1 << (bits - 1), (1 << (bits - 1)) - 1]
    edges += [1 << k for k in range(bits)] + [top ^ (1 << k) for k in range(bits)]
    pairs = [(x, y) for x in edges[:6] for y in edges] + [(y, x) for x in edges[:6] for y in edges]
    c, rho = [x for x, _ in pairs], [y for _, y in pairs]
    got, _ = run_less_than_bits(
        impl, c, rho, [(k * 0x9E3779B97F4A7C15) & MASK for k in range(len(c))], bits
    )
    assert got == [int(x < y) for x, y in pairs]


def run_less_than_zero(tree: ModuleType, x: list[int], width: int, seed: int = 2) -> list[int]:
    lanes = len(x)
    dealer, offline = material(tree, seed)
    masks = dealer.masks(lanes, width + 1, high=False, channel=offline)
    triples = dealer.and_triples(lanes, tree.gate_count(width), channel=offline)
    shares = additive(tree, x, [(v * 0x2545F4914F6CDD1D + 1) & MASK for v in range(lanes)])
    channel = tree.Channel()
    out = tree.less_than_zero(shares, masks, triples, width=width, channel=channel)
    opens = [m for m in channel.messages if m.label == "cmp/open"]
    assert [(m.sender, m.receiver, m.size) for m in opens] == [
        ("S0", "S1", 8 * lanes),
        ("S1", "S0", 8 * lanes),
    ]
    return xor_rec(out, lanes)


def in_range_edges(width: int) -> list[int]:
    """Signed values in [-2^w, 2^w): both bounds, zero, and e + 2^k u for every k < w."""
    low, high = -(1 << width), (1 << width) - 1
    values = [low, low + 1, -1, 0, 1, high - 1, high]
    for k in range(width):
        for e in (0, 1, -1, low, high):
            for u in (1, -1):
                v = e + u * (1 << k)
                if low <= v <= high:
                    values.append(v)
    return [v & MASK for v in values]


@pytest.mark.spec("C21.2", "P21.4")
@pytest.mark.parametrize("width", [1, 2, 20, 62, 63])
def test_less_than_zero_on_edges(impl: ModuleType, width: int) -> None:
    x = in_range_edges(width)
    if width == 63:
        x += [1 << 63, (1 << 63) - 1, MASK] + [
            (5 + (u << k)) & MASK for k in range(64) for u in (1, 3, -1)
        ]
    assert run_less_than_zero(impl, x, width) == [int(signed(v) < 0) for v in x]


@pytest.mark.spec("C21.2", "P21.4")
@given(st.integers(1, 63), st.lists(st.tuples(words, st.booleans()), min_size=1, max_size=70))
def test_less_than_zero_matches_plaintext(width: int, lanes: list[tuple[int, bool]]) -> None:
    # In-range lanes beside out-of-range ones (marked False): a lane's output depends on its
    # own value only, so every in-range lane must be right whatever its neighbours hold.
    low = -(1 << width)
    x = [(v % (1 << (width + 1)) + low) & MASK if inside else v for v, inside in lanes]
    for tree in TREES:
        got = run_less_than_zero(tree, x, width)
        for (_, inside), v, g in zip(lanes, x, got, strict=True):
            if inside or width == 63:
                assert g == int(signed(v) < 0)


@pytest.mark.spec("C21.2", "P21.5")
@given(st.integers(1, 130), st.integers(0, 2**130), st.integers(0, 2**130), st.integers(0, 99))
def test_bit_to_ring_matches_plaintext(lanes: int, value: int, mask: int, seed: int) -> None:
    value, mask = value & ((1 << lanes) - 1), mask & ((1 << lanes) - 1)
    for tree in TREES:
        dealer, offline = material(tree, seed)
        dabits = dealer.dabits(lanes, channel=offline)
        b = (make_plane(tree, mask, lanes), make_plane(tree, value ^ mask, lanes))
        channel = tree.Channel()
        out = tree.bit_to_ring(b, dabits, channel=channel)
        assert rec(out) == [value >> i & 1 for i in range(lanes)]
        assert [m.label for m in channel.messages] == ["cmp/b2a"] * 2


@pytest.mark.spec("C21.2", "P21.6")
@given(st.lists(st.tuples(st.integers(0, 1), words, words, words), min_size=1, max_size=40))
def test_select_matches_plaintext(lanes: list[tuple[int, int, int, int]]) -> None:
    b = [v[0] for v in lanes]
    x, y, masks = ([v[k] for v in lanes] for k in (1, 2, 3))
    for tree in TREES:
        dealer, offline = material(tree, len(lanes))
        triples = dealer.scalar_triples(len(lanes), channel=offline)
        out = tree.select(
            additive(tree, b, masks),
            additive(tree, x, masks[::-1]),
            additive(tree, y, [m ^ 1 for m in masks]),
            triples,
            channel=tree.Channel(),
        )
        assert rec(out) == [xi if bi else yi for bi, xi, yi in zip(b, x, y, strict=True)]


@pytest.mark.spec("C21.2", "P21.4", "P21.5", "P21.6")
def test_max_by_composition(impl: ModuleType) -> None:
    # max(x, y) = select([x - y < 0], y, x): the three protocols chained on shares.
    x = [0, 5, (-7) & MASK, 1 << 40, (-(1 << 40)) & MASK, 3, 123456789]
    y = [0, 9, 4, (-(1 << 40)) & MASK, 1 << 40, 3, 123456788]
    lanes, width = len(x), 42
    dealer, offline = material(impl, 5)
    xs, ys = additive(impl, x, [11] * lanes), additive(impl, y, [MASK] * lanes)
    diff = additive(impl, [(a - b) & MASK for a, b in zip(x, y, strict=True)], [13] * lanes)
    channel = impl.Channel()
    masks = dealer.masks(lanes, width + 1, high=False, channel=offline)
    triples = dealer.and_triples(lanes, impl.gate_count(width), channel=offline)
    below = impl.less_than_zero(diff, masks, triples, width=width, channel=channel)
    bit = impl.bit_to_ring(below, dealer.dabits(lanes, channel=offline), channel=channel)
    out = impl.select(bit, ys, xs, dealer.scalar_triples(lanes, channel=offline), channel=channel)
    assert [signed(v) for v in rec(out)] == [
        max(signed(a), signed(b)) for a, b in zip(x, y, strict=True)
    ]


def run_range_check(tree: ModuleType, x: list[int], bits: int, seed: int = 3) -> list[int]:
    lanes, m = len(x), bits + 1
    dealer, offline = material(tree, seed)
    masks = dealer.masks(lanes, m, high=True, channel=offline)
    dabits = dealer.dabits(lanes, channel=offline)
    triples = dealer.and_triples(lanes, tree.gate_count(m), channel=offline)
    shares = additive(tree, x, [(v * 0x9E3779B97F4A7C15 + 7) & MASK for v in range(lanes)])
    channel = tree.Channel()
    out = tree.range_check(shares, masks, dabits, triples, bits=bits, channel=channel)
    labels = [msg.label for msg in channel.messages]
    assert labels[:2] == ["range/open"] * 2 and labels[-2:] == ["range/high"] * 2
    return [int(v) for v in as_list(out)]


def range_edges(bits: int) -> list[int]:
    values = [0, 1 << 63, (1 << 63) - 1, MASK, -(1 << bits) - 1, -(1 << bits), (1 << bits) - 1]
    values += [1 << bits, (1 << bits) + 1, 1 << (bits + 1), -(1 << (bits + 1))]
    for k in range(64):
        for e in (0, 1, -1, (1 << bits) - 1, -(1 << bits)):
            for u in (1, -1, 3):
                values.append(e + u * (1 << k))
    return [v & MASK for v in values]


@pytest.mark.spec("C21.2", "C21.3", "P21.7")
@pytest.mark.parametrize("bits", [0, 1, 20, 61, 62])
def test_range_check_on_edges(impl: ModuleType, bits: int) -> None:
    x = range_edges(bits)
    t = run_range_check(impl, x, bits)
    # A lane passes exactly when it is in range, and t is exactly floor(y / 2^(b+1)) (C21.3).
    assert [v == 0 for v in t] == [-(1 << bits) <= signed(v) < (1 << bits) for v in x]
    assert t == [((v + (1 << bits)) & MASK) >> (bits + 1) for v in x]


@pytest.mark.spec("C21.2", "P21.7")
@given(st.integers(0, 62), st.lists(st.tuples(words, st.booleans()), min_size=1, max_size=70))
def test_range_check_matches_plaintext(bits: int, lanes: list[tuple[int, bool]]) -> None:
    # Half the lanes are drawn near the range (within 2^(b+2) of 0), the rest anywhere.
    near = 1 << (bits + 2)
    x = [(v % (2 * near) - near) & MASK if close else v for v, close in lanes]
    for tree in TREES:
        t = run_range_check(tree, x, bits)
        assert [v == 0 for v in t] == [-(1 << bits) <= signed(v) < (1 << bits) for v in x]


@pytest.mark.spec("C21.3")
@given(st.integers(0, 62), st.lists(words, min_size=1, max_size=70))
def test_range_check_publishes_zero_on_in_range_lanes(bits: int, values: list[int]) -> None:
    x = [(v % (1 << (bits + 1)) - (1 << bits)) & MASK for v in values]
    for tree in TREES:
        assert run_range_check(tree, x, bits) == [0] * len(x)
