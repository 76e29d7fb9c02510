"""Reference and optimized secure comparison agree (spec/21-comparison.md).

Both trees get sources with the same seed and the same inputs; their dealers must return the
same shares and send the same payloads (C21.1), their protocols the same output shares and
byte-identical transcripts (C21.5), and bad input the same error class and clause before any
message (C21.4). A plane is an int in the reference and a uint64 array in the optimized tree;
``plain`` turns either into the int, so the comparison is of values, not representations.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import SpecError
from tests.helpers import ScriptedSource, as_list

M = 1 << 64
TREES = (ref, opt)
LANES = [1, 63, 64, 65, 200]
WIDTHS = [1, 2, 20, 62, 63]
RANGE_BITS = [0, 1, 20, 61, 62]


def to_int(plane: Any) -> int:
    """A plane of either tree as the int whose bit i is lane i (D21.1)."""
    if isinstance(plane, int):
        return plane
    return int.from_bytes(np.ascontiguousarray(plane, dtype=np.uint64).tobytes(), "little")


def plane(tree: ModuleType, value: int, lanes: int) -> Any:
    """The plane ``value`` in ``tree``'s representation."""
    if tree is ref:
        return value
    raw = value.to_bytes(opt.plane_bytes(lanes), "little")
    return np.frombuffer(raw, dtype="<u8").copy()


def ring(tree: ModuleType, values: list[int]) -> Any:
    return list(values) if tree is ref else np.array(values, dtype=np.uint64)


def plain(x: Any) -> Any:
    """Material of either tree as tuples of ints (planes as ints, ring vectors as lists)."""
    if isinstance(x, ref.AndTriples | opt.AndTriples):
        return (x.lanes, *([to_int(p) for p in planes] for planes in (x.a, x.b, x.c)))
    if isinstance(x, ref.MaskShares | opt.MaskShares):
        high = None if x.high is None else as_list(x.high)
        return (x.lanes, x.bits, as_list(x.r), [to_int(p) for p in x.planes], high)
    if isinstance(x, ref.DaBitShares | opt.DaBitShares):
        return (x.lanes, to_int(x.beta), as_list(x.q))
    raise TypeError(type(x))


def planes_of(values: list[int], count: int) -> list[int]:
    """Planes 0 .. count-1 of plain ring elements, computed here independently of both trees."""
    return [sum((v >> j & 1) << i for i, v in enumerate(values)) for j in range(count)]


def xor_share(rand: random.Random, value: int, lanes: int) -> tuple[int, int]:
    share = rand.getrandbits(lanes)
    return share, value ^ share


def add_share(rand: random.Random, values: list[int]) -> tuple[list[int], list[int]]:
    first = [rand.getrandbits(64) for _ in values]
    return first, [(v - s) % M for v, s in zip(values, first, strict=True)]


def lanes_from(rand: random.Random, edges: list[int], lanes: int) -> list[int]:
    """``lanes`` values: every edge value when there is room (in a random rotation), then
    edge values drawn at random."""
    start = rand.randrange(len(edges))
    rotated = edges[start:] + edges[:start]
    return [rotated[i] if i < len(rotated) else rand.choice(edges) for i in range(lanes)]


def run_both(scenario: Callable[[ModuleType, Any], Any]) -> list[tuple[Any, bytes]]:
    """``scenario(tree, channel)`` in each tree on a fresh channel; (output, transcript) each."""
    results = []
    for tree in TREES:
        channel = tree.Channel()
        results.append((scenario(tree, channel), channel.transcript_bytes()))
    return results


def outcome(fn: Callable[[], Any]) -> tuple[str, Any]:
    try:
        return "ok", fn()
    except SpecError as err:
        return "error", (type(err).__name__, err.clause)


def dealer(tree: ModuleType, seed: int) -> Any:
    return tree.Dealer(rng=tree.DeterministicRandomSource(seed))


# --- C21.1: the dealers ---------------------------------------------------------------------

MASK_REQUESTS = [(1, False), (1, True), (2, True), (20, True), (62, True), (63, True), (63, False)]
MASK_REQUESTS += [(64, False)]


def _all_material(tree: ModuleType, channel: Any, source: Any, lanes: int) -> list[Any]:
    d = tree.Dealer(rng=source)
    out = [plain(t) for t in d.and_triples(lanes, 0, channel=channel)]
    out += [plain(t) for t in d.and_triples(lanes, 7, channel=channel)]
    for bits, high in MASK_REQUESTS:
        out += [plain(m) for m in d.masks(lanes, bits, high=high, channel=channel)]
    out += [plain(q) for q in d.dabits(lanes, channel=channel)]
    # A scalar request after them: the comparison requests left the stream where the
    # reference leaves it.
    out += [as_list(t.c) for t in d.scalar_triples(3, channel=channel)]
    return out


@pytest.mark.spec("C21.1")
@pytest.mark.parametrize("lanes", LANES)
def test_dealers_return_the_same_material_and_payloads(lanes: int) -> None:
    (a, ta), (b, tb) = run_both(
        lambda tree, ch: _all_material(tree, ch, tree.DeterministicRandomSource(lanes), lanes)
    )
    assert a == b
    assert ta == tb


@pytest.mark.spec("C21.1")
@pytest.mark.parametrize("lanes", [1, 65])
def test_dealers_agree_on_a_source_that_is_not_a_keystream(lanes: int) -> None:
    # A source with its own random_bytes: the optimized dealer reads planes one call at a
    # time from it, as P21.1 states, not by its ChaCha20 fast path.
    data = b"".join(hashlib.sha256(f"{lanes}/{i}".encode()).digest() for i in range(2000))
    sources = [ScriptedSource(data), ScriptedSource(data)]
    results = []
    for tree, source in zip(TREES, sources, strict=True):
        channel = tree.Channel()
        results.append((_all_material(tree, channel, source, lanes), channel.transcript_bytes()))
    assert results[0] == results[1]
    assert sources[0].consumed == sources[1].consumed


@pytest.mark.spec("C21.1")
@given(st.integers(0, 2**64), st.integers(1, 140), st.integers(1, 64), st.booleans())
def test_dealers_agree_on_random_requests(seed: int, lanes: int, bits: int, high: bool) -> None:
    high = high and bits < 64

    def scenario(tree: ModuleType, channel: Any) -> Any:
        d = dealer(tree, seed)
        out = [plain(m) for m in d.masks(lanes, bits, high=high, channel=channel)]
        out += [plain(t) for t in d.and_triples(lanes, bits % 5, channel=channel)]
        return out + [plain(q) for q in d.dabits(lanes, channel=channel)]

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb


@pytest.mark.spec("D21.2", "C21.1")
@pytest.mark.parametrize(
    "request_",
    [
        ("and_triples", (0, 1), {}),
        ("and_triples", (1, -1), {}),
        ("and_triples", (True, 1), {}),
        ("and_triples", (2.0, 1), {}),
        ("masks", (0, 1), {"high": False}),
        ("masks", (3, 0), {"high": False}),
        ("masks", (3, 65), {"high": False}),
        ("masks", (3, 64), {"high": True}),
        ("masks", (3, True), {"high": True}),
        ("dabits", (0,), {}),
        ("dabits", (-5,), {}),
    ],
)
def test_dealers_refuse_the_same_requests(request_: tuple[str, tuple[Any, ...], Any]) -> None:
    name, args, kwargs = request_
    (a, ta), (b, tb) = run_both(
        lambda tree, ch: outcome(
            lambda: getattr(dealer(tree, 1), name)(*args, channel=ch, **kwargs)
        )
    )
    assert a == b == ("error", ("ParameterError", "D21.2"))
    assert ta == tb


# --- C21.5: the protocols -------------------------------------------------------------------


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("gates", [0, 1, 5])
def test_and_layer_agrees(lanes: int, gates: int) -> None:
    rand = random.Random(lanes * 10 + gates)
    xs = [xor_share(rand, rand.getrandbits(lanes), lanes) for _ in range(gates)]
    ys = [xor_share(rand, rand.getrandbits(lanes), lanes) for _ in range(gates)]

    def scenario(tree: ModuleType, channel: Any) -> Any:
        triples = dealer(tree, gates).and_triples(lanes, gates, channel=channel)
        x = [(plane(tree, p, lanes), plane(tree, q, lanes)) for p, q in xs]
        y = [(plane(tree, p, lanes), plane(tree, q, lanes)) for p, q in ys]
        out = tree.and_layer(x, y, triples, channel=channel)
        return [(to_int(z0), to_int(z1)) for z0, z1 in out]

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb
    assert [z0 ^ z1 for z0, z1 in a] == [
        (x0 ^ x1) & (y0 ^ y1) for (x0, x1), (y0, y1) in zip(xs, ys, strict=True)
    ]


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("bits", [1, 2, 3, 20, 62, 63, 64])
def test_less_than_bits_agrees(lanes: int, bits: int) -> None:
    rand = random.Random(lanes * 100 + bits)
    top = (1 << bits) - 1
    rho_values = [rand.getrandbits(bits) for _ in range(lanes)]
    # Ties on whole values, on all but the lowest bit, and random values.
    c_values = [[r, r ^ 1, rand.getrandbits(bits), 0, top][i % 5] for i, r in enumerate(rho_values)]
    c_planes = planes_of(c_values, bits)
    rho_shares = [xor_share(rand, p, lanes) for p in planes_of(rho_values, bits)]

    def scenario(tree: ModuleType, channel: Any) -> Any:
        triples = dealer(tree, bits).and_triples(lanes, tree.gate_count(bits), channel=channel)
        c = [plane(tree, p, lanes) for p in c_planes]
        rho = [(plane(tree, p, lanes), plane(tree, q, lanes)) for p, q in rho_shares]
        out = tree.less_than_bits(c, rho, triples, lanes=lanes, channel=channel)
        return to_int(out[0]), to_int(out[1])

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb
    pairs = enumerate(zip(c_values, rho_values, strict=True))
    assert a[0] ^ a[1] == sum(int(c < r) << i for i, (c, r) in pairs)


def _signed_edges(width: int) -> list[int]:
    low, high = -(1 << width), (1 << width) - 1
    return [v % M for v in (0, 1, -1, low, low + 1, high, high - 1, -(1 << (width - 1)))]


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("width", WIDTHS)
def test_less_than_zero_agrees(lanes: int, width: int) -> None:
    rand = random.Random(lanes * 100 + width)
    edges = _signed_edges(width) + [
        (rand.randrange(-(1 << width), 1 << width)) % M for _ in range(8)
    ]
    values = lanes_from(rand, edges, lanes)
    x = add_share(rand, values)

    def scenario(tree: ModuleType, channel: Any) -> Any:
        d = dealer(tree, width)
        masks = d.masks(lanes, width + 1, high=False, channel=channel)
        triples = d.and_triples(lanes, tree.gate_count(width), channel=channel)
        pair = (ring(tree, x[0]), ring(tree, x[1]))
        out = tree.less_than_zero(pair, masks, triples, width=width, channel=channel)
        return to_int(out[0]), to_int(out[1])

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb
    assert a[0] ^ a[1] == sum(int(v >= 1 << 63) << i for i, v in enumerate(values))


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
def test_bit_to_ring_agrees(lanes: int) -> None:
    rand = random.Random(lanes)
    bits = rand.getrandbits(lanes)
    shares = xor_share(rand, bits, lanes)

    def scenario(tree: ModuleType, channel: Any) -> Any:
        dabits = dealer(tree, lanes).dabits(lanes, channel=channel)
        b = (plane(tree, shares[0], lanes), plane(tree, shares[1], lanes))
        return as_list(tree.bit_to_ring(b, dabits, channel=channel))

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb
    assert [(u + v) % M for u, v in zip(*a, strict=True)] == [bits >> i & 1 for i in range(lanes)]


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
def test_select_agrees(lanes: int) -> None:
    rand = random.Random(lanes)
    bits = [rand.getrandbits(1) for _ in range(lanes)]
    xs = [rand.getrandbits(64) for _ in range(lanes)]
    ys = [rand.getrandbits(64) for _ in range(lanes)]
    shares = [add_share(rand, v) for v in (bits, xs, ys)]

    def scenario(tree: ModuleType, channel: Any) -> Any:
        triples = dealer(tree, lanes).scalar_triples(lanes, channel=channel)
        b, x, y = ((ring(tree, s0), ring(tree, s1)) for s0, s1 in shares)
        return as_list(tree.select(b, x, y, triples, channel=channel))

    (a, ta), (b, tb) = run_both(scenario)
    assert a == b
    assert ta == tb
    assert [(u + v) % M for u, v in zip(*a, strict=True)] == [
        x if bit else y for bit, x, y in zip(bits, xs, ys, strict=True)
    ]


def _range_edges(rand: random.Random, bits: int) -> list[int]:
    low, high = -(1 << bits), 1 << bits
    edges = [0, 1 << 63, low - 1, low, high - 1, high, (1 << 63) - 1, M - 1]
    # e + 2^k u: an in-range e moved by a multiple of 2^k, for every k.
    edges += [(rand.randrange(low, high) + (rand.getrandbits(64) << k)) % M for k in range(64)]
    return [v % M for v in edges]


def _range_run(
    values: list[int], bits: int, seed: int, rand: random.Random
) -> list[tuple[Any, bytes]]:
    lanes = len(values)
    x = add_share(rand, values)

    def scenario(tree: ModuleType, channel: Any) -> Any:
        d = dealer(tree, seed)
        masks = d.masks(lanes, bits + 1, high=True, channel=channel)
        dabits = d.dabits(lanes, channel=channel)
        triples = d.and_triples(lanes, tree.gate_count(bits + 1), channel=channel)
        pair = (ring(tree, x[0]), ring(tree, x[1]))
        return as_list(tree.range_check(pair, masks, dabits, triples, bits=bits, channel=channel))

    return run_both(scenario)


def _range_t(value: int, bits: int) -> int:
    return ((value + (1 << bits)) % M) >> (bits + 1)


@pytest.mark.spec("C21.5")
@pytest.mark.parametrize("lanes", LANES)
@pytest.mark.parametrize("bits", RANGE_BITS)
def test_range_check_agrees(lanes: int, bits: int) -> None:
    rand = random.Random(lanes * 100 + bits)
    values = lanes_from(rand, _range_edges(rand, bits), lanes)
    (a, ta), (b, tb) = _range_run(values, bits, lanes + bits, rand)
    assert a == b
    assert ta == tb
    assert a == [_range_t(v, bits) for v in values]


@pytest.mark.spec("C21.5")
@given(
    st.lists(st.integers(0, M - 1), min_size=1, max_size=70),
    st.integers(0, 62),
    st.integers(0, 2**32),
)
def test_range_check_agrees_on_random_values(values: list[int], bits: int, seed: int) -> None:
    (a, ta), (b, tb) = _range_run(values, bits, seed, random.Random(seed))
    assert a == b
    assert ta == tb


# --- C21.4: the same error, before any message -----------------------------------------------


def _bad_calls(tree: ModuleType, channel: Any) -> dict[str, Callable[[], Any]]:
    """One call per kind of bad input, each with material drawn for 5 lanes."""
    d = dealer(tree, 9)
    lanes = 5
    x = (ring(tree, [1, 2, 3, 4, 5]), ring(tree, [0] * 5))
    short = (ring(tree, [1, 2, 3, 4]), ring(tree, [0] * 4))
    uneven = (ring(tree, [1, 2, 3, 4, 5]), ring(tree, [0] * 4))
    triples3 = d.and_triples(lanes, tree.gate_count(3), channel=channel)
    triples4 = d.and_triples(lanes, tree.gate_count(4), channel=channel)
    other_lanes = d.and_triples(6, tree.gate_count(3), channel=channel)
    mask4 = d.masks(lanes, 4, high=False, channel=channel)
    mask4h = d.masks(lanes, 4, high=True, channel=channel)
    mask3h = d.masks(lanes, 3, high=True, channel=channel)
    dabits = d.dabits(lanes, channel=channel)
    dabits6 = d.dabits(6, channel=channel)
    scalar = d.scalar_triples(lanes, channel=channel)
    scalar4 = d.scalar_triples(4, channel=channel)
    p = plane(tree, 0b10110, lanes)
    wide = plane(tree, 0b100000, lanes)  # a bit at lane position 5 >= N
    ch = channel

    def ltz(xx: Any, masks: Any, triples: Any, width: Any) -> Callable[[], Any]:
        return lambda: tree.less_than_zero(xx, masks, triples, width=width, channel=ch)

    def rc(xx: Any, masks: Any, da: Any, triples: Any, bits: Any) -> Callable[[], Any]:
        return lambda: tree.range_check(xx, masks, da, triples, bits=bits, channel=ch)

    def ltb(c: Any, rho: Any, triples: Any) -> Callable[[], Any]:
        return lambda: tree.less_than_bits(c, rho, triples, lanes=lanes, channel=ch)

    return {
        "and: y count": lambda: tree.and_layer([(p, p)], [], triples3, channel=ch),
        "and: triple count": lambda: tree.and_layer([(p, p)], [(p, p)], triples3, channel=ch),
        "and: wide plane": lambda: tree.and_layer(
            [(p, p)] * 4, [(p, wide)] * 4, triples3, channel=ch
        ),
        "ltb: no planes": ltb([], [], triples3),
        "ltb: rho count": ltb([p, p, p], [(p, p)] * 2, triples3),
        "ltb: triple count": ltb([p, p, p], [(p, p)] * 3, triples4),
        "ltb: triple lanes": ltb([p, p, p], [(p, p)] * 3, other_lanes),
        "ltb: wide c": ltb([p, wide, p], [(p, p)] * 3, triples3),
        "ltb: wide rho": ltb([p, p, p], [(p, p), (wide, p), (p, p)], triples3),
        "ltz: width 0": ltz(x, mask4, triples3, 0),
        "ltz: width 64": ltz(x, mask4, triples3, 64),
        "ltz: width True": ltz(x, mask4, triples3, True),
        "ltz: width 3.0": ltz(x, mask4, triples3, 3.0),
        "ltz: short x": ltz(short, mask4, triples3, 3),
        "ltz: uneven x": ltz(uneven, mask4, triples3, 3),
        "ltz: mask width": ltz(x, mask3h, triples3, 3),
        "ltz: mask high part": ltz(x, mask4h, triples3, 3),
        "ltz: triple count": ltz(x, mask4, triples4, 3),
        "b2a: dabit lanes": lambda: tree.bit_to_ring((p, p), (dabits[0], dabits6[1]), channel=ch),
        "b2a: wide b": lambda: tree.bit_to_ring((p, wide), dabits, channel=ch),
        "select: short x": lambda: tree.select(x, short, x, scalar, channel=ch),
        "select: uneven y": lambda: tree.select(x, x, uneven, scalar, channel=ch),
        "select: uneven b": lambda: tree.select(uneven, x, x, scalar, channel=ch),
        "select: triple count": lambda: tree.select(x, x, x, scalar4, channel=ch),
        "rc: bits -1": rc(x, mask4h, dabits, triples4, -1),
        "rc: bits 63": rc(x, mask4h, dabits, triples4, 63),
        "rc: bits False": rc(x, mask4h, dabits, triples4, False),
        "rc: short x": rc(short, mask4h, dabits, triples4, 3),
        "rc: mask without high part": rc(x, mask4, dabits, triples4, 3),
        "rc: mask width": rc(x, mask3h, dabits, triples4, 3),
        "rc: dabit lanes": rc(x, mask4h, dabits6, triples4, 3),
        "rc: triple count": rc(x, mask4h, dabits, triples3, 3),
    }


BAD = sorted(_bad_calls(ref, ref.Channel()))


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("case", BAD)
def test_bad_input_raises_the_same_error_before_any_message(case: str) -> None:
    results = []
    for tree in TREES:
        channel = tree.Channel()
        calls = _bad_calls(tree, channel)
        dealt = len(channel.messages)
        results.append((outcome(calls[case]), channel.transcript_bytes()))
        assert len(channel.messages) == dealt, case
    (a, ta), (b, tb) = results
    assert a == b
    assert a[0] == "error"
    assert a[1][1] in ("C21.4", "D4.4"), a
    assert ta == tb
