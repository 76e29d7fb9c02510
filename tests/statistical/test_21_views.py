"""Each server's view of section 21's protocols is uniform and independent of the input (C21.3).

Two kinds of check. The chi-squared tests (alpha = 0.001, the critical values of
``test_uniformity``) run a protocol many times with fresh dealer material on two different
fixed inputs, with the input shares fixed too, so that only the material varies: every payload
a server receives (the other server's ``e``/``f`` planes, ``c`` openings, ``v`` plane, Beaver
openings) must be uniform bytes and balanced bits for both inputs. The exact checks enumerate
every value of the dealer's material at a small width (one enumeration point per lane of one
batch, read from a scripted source) and show that, for every input and every input sharing, a
server's own material together with what it receives takes every value exactly once, which is
the simulator of proofs_notes/comparison.md with no statistics involved.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from tests.helpers import ScriptedSource, as_list
from tests.statistical.test_uniformity import assert_uniform_u64, chi2_critical, chi2_uniform

M = 1 << 64
MASK = M - 1


def plane_int(plane: object) -> int:
    """A plane of either tree as an int (bit i = lane i)."""
    if isinstance(plane, np.ndarray):
        return int.from_bytes(plane.astype("<u8").tobytes(), "little")
    assert isinstance(plane, int)
    return plane


def make_plane(tree: ModuleType, value: int, lanes: int) -> Any:
    if tree is ref:
        return value
    size = 8 * (-(-lanes // 64))
    return np.frombuffer(value.to_bytes(size, "little"), dtype="<u8").astype(np.uint64)


def ring(tree: ModuleType, values: list[int]) -> Any:
    return list(values) if tree is ref else np.array(values, dtype=np.uint64)


def received(channel: Any, server: str, label: str) -> list[bytes]:
    """The payloads ``server`` received under ``label``, one per message."""
    return [bytes(m.payload) for m in channel.messages if m.receiver == server and m.label == label]


def assert_uniform_planes(payloads: list[bytes], plane_size: int, label: str) -> None:
    """Plane payloads (every bit a lane) are uniform: bytes, nibble pairs, each plane's bits.

    ``payloads`` are messages of equal layout (one per run); plane ``k`` of every message is
    the same gate's opening in every run, so its bits must be fair coins; adjacent planes
    (``e_t``, ``f_t`` of one gate) must be jointly uniform.
    """
    data = np.frombuffer(b"".join(payloads), dtype=np.uint8)
    if data.size >= 256 * 20:
        stat = chi2_uniform(np.bincount(data, minlength=256))
        assert stat < chi2_critical(255), f"{label}: bytes chi2={stat:.1f}"
    else:
        # A small sample (one plane per run): nibbles, 16 cells, at least 20 per cell.
        assert data.size >= 160, f"{label}: too few bytes ({data.size}) for the test"
        nibbles = np.concatenate([data & 0x0F, data >> 4])
        stat = chi2_uniform(np.bincount(nibbles, minlength=16))
        assert stat < chi2_critical(15), f"{label}: nibbles chi2={stat:.1f}"
    count = len(payloads[0]) // plane_size
    grid = data.reshape(len(payloads), count, plane_size)
    if count > 1:
        # Low nibble of plane k beside low nibble of plane k+1: 4 lanes of two planes at once.
        pairs = (grid[:, :-1, :] & 0x0F) << 4 | (grid[:, 1:, :] & 0x0F)
        stat = chi2_uniform(np.bincount(pairs.ravel(), minlength=256))
        assert stat < chi2_critical(255), f"{label}: adjacent planes chi2={stat:.1f}"
    ones = np.unpackbits(grid, axis=2).sum(axis=(0, 2)).astype(float)
    n = len(payloads) * plane_size * 8
    stat = float((((ones - n / 2) ** 2) / (n / 4)).sum())
    assert stat < chi2_critical(count), f"{label}: per-plane bit balance chi2={stat:.1f}"


def per_run(payloads: list[bytes], runs: int) -> list[bytes]:
    """Each run's messages joined: the same layout (every level's planes) in every run."""
    step = len(payloads) // runs
    assert step * runs == len(payloads)
    return [b"".join(payloads[k * step : (k + 1) * step]) for k in range(runs)]


def ring_values(payloads: list[bytes]) -> np.ndarray:
    return np.frombuffer(b"".join(payloads), dtype="<u8").astype(np.uint64)


Run = Callable[[ModuleType, Any, Any], None]


def views(tree: ModuleType, run: Run, runs: int, seed: int) -> Any:
    """One channel holding ``runs`` protocol runs, each with a fresh dealer of its own seed.

    Every dealer reads the optimized tree's source, which yields the same keystream as the
    reference's (D2.2) in a fraction of the time; the protocols under test are the tree's own.
    """
    channel = tree.Channel()
    for k in range(runs):
        dealer = tree.Dealer(rng=opt.DeterministicRandomSource(seed * 100_003 + k))
        run(tree, dealer, channel)
    return channel


def less_than_bits_run(c: list[int], rho: list[int], share0: list[int], bits: int) -> Run:
    def run(tree: ModuleType, dealer: Any, channel: Any) -> None:
        lanes = len(c)
        triples = dealer.and_triples(lanes, tree.gate_count(bits), channel=tree.Channel())
        planes = [plane_of(v, j) for v in (c, rho, share0) for j in range(bits)]
        c_pl, r_pl, s_pl = planes[:bits], planes[bits : 2 * bits], planes[2 * bits :]
        shared = [
            (make_plane(tree, s, lanes), make_plane(tree, s ^ r, lanes))
            for s, r in zip(s_pl, r_pl, strict=True)
        ]
        tree.less_than_bits(
            [make_plane(tree, p, lanes) for p in c_pl],
            shared,
            triples,
            lanes=lanes,
            channel=channel,
        )

    return run


def plane_of(values: list[int], j: int) -> int:
    return sum((v >> j & 1) << i for i, v in enumerate(values))


LANES = 256
RAMP = [(i * 0x9E3779B97F4A7C15) & MASK for i in range(LANES)]
LTB_INPUTS = {
    # All zero, shared as (0, 0): the material is the only randomness.
    "zeros": ([0] * LANES, [0] * LANES, [0] * LANES),
    # Ties on every lane (c = rho), S0 holding all of rho: the most structured input.
    "ties": (RAMP, RAMP, RAMP),
}


SERVERS = ("S0", "S1")
RUNS = 24


@pytest.mark.spec("C21.3", "P21.2", "P21.3")
@pytest.mark.parametrize("inputs", sorted(LTB_INPUTS))
def test_and_openings_are_uniform(impl: ModuleType, inputs: str) -> None:
    c, rho, share0 = LTB_INPUTS[inputs]
    channel = views(impl, less_than_bits_run(c, rho, share0, 20), RUNS, seed=1)
    for server in SERVERS:
        got = per_run(received(channel, server, "cmp/and"), RUNS)
        assert_uniform_planes(got, 32, f"{server} e, f ({inputs})")


def test_the_view_test_rejects_reused_material(impl: ModuleType) -> None:
    # The check is not vacuous: with one dealer seed for every run the openings repeat, and
    # with the input's planes themselves as the "openings" the bits are not fair coins.
    c, rho, share0 = LTB_INPUTS["ties"]
    run = less_than_bits_run(c, rho, share0, 20)
    channel = impl.Channel()
    for _ in range(RUNS):
        run(impl, impl.Dealer(rng=opt.DeterministicRandomSource(5)), channel)
    with pytest.raises(AssertionError):
        assert_uniform_planes(per_run(received(channel, "S1", "cmp/and"), RUNS), 32, "reused")
    structured = [b"".join(plane_of(RAMP, j).to_bytes(32, "little") for j in range(20))] * 12
    with pytest.raises(AssertionError):
        assert_uniform_planes(structured, 32, "input planes")


def less_than_zero_run(x: list[int], width: int) -> Run:
    def run(tree: ModuleType, dealer: Any, channel: Any) -> None:
        lanes, offline = len(x), tree.Channel()
        masks = dealer.masks(lanes, width + 1, high=False, channel=offline)
        triples = dealer.and_triples(lanes, tree.gate_count(width), channel=offline)
        shares = (ring(tree, x), ring(tree, [0] * lanes))
        tree.less_than_zero(shares, masks, triples, width=width, channel=channel)

    return run


@pytest.mark.spec("C21.3", "P21.4")
@pytest.mark.parametrize("width", [20, 63])
@pytest.mark.parametrize("inputs", ["zeros", "edges"])
def test_sign_openings_are_uniform(impl: ModuleType, width: int, inputs: str) -> None:
    low, high = -(1 << width), (1 << width) - 1
    x = (
        [0] * LANES
        if inputs == "zeros"
        else [(low, high, -1, 0)[i % 4] & MASK for i in range(LANES)]
    )
    channel = views(impl, less_than_zero_run(x, width), RUNS, seed=2 + width)
    for server in SERVERS:
        assert_uniform_u64(ring_values(received(channel, server, "cmp/open")), f"{server} c")
        got = per_run(received(channel, server, "cmp/and"), RUNS)
        assert_uniform_planes(got, 32, f"{server} e, f ({inputs})")


@pytest.mark.spec("C21.3", "P21.5")
@pytest.mark.parametrize("bit", [0, 1])
def test_b2a_openings_are_uniform(impl: ModuleType, bit: int) -> None:
    lanes = 2048
    value = (1 << lanes) - 1 if bit else 0

    def run(impl: ModuleType, dealer: Any, channel: Any) -> None:
        dabits = dealer.dabits(lanes, channel=impl.Channel())
        b = (make_plane(impl, value, lanes), make_plane(impl, 0, lanes))
        impl.bit_to_ring(b, dabits, channel=channel)

    channel = views(impl, run, RUNS, seed=3)
    for server in SERVERS:
        assert_uniform_planes(received(channel, server, "cmp/b2a"), lanes // 8, f"{server} v")


@pytest.mark.spec("C21.3", "P21.6")
@pytest.mark.parametrize("bit", [0, 1])
def test_select_openings_are_uniform(impl: ModuleType, bit: int) -> None:
    lanes = 1024

    def run(impl: ModuleType, dealer: Any, channel: Any) -> None:
        triples = dealer.scalar_triples(lanes, channel=impl.Channel())
        b = (ring(impl, [bit] * lanes), ring(impl, [0] * lanes))
        x = (ring(impl, [12345] * lanes), ring(impl, [0] * lanes))
        y = (ring(impl, [0] * lanes), ring(impl, [(-7) & MASK] * lanes))
        impl.select(b, x, y, triples, channel=channel)

    channel = views(impl, run, 6, seed=4)
    for server in SERVERS:
        got = received(channel, server, "beaver/open")
        assert_uniform_u64(ring_values([p[: 8 * lanes] for p in got]), f"{server} e (b={bit})")
        assert_uniform_u64(ring_values([p[8 * lanes :] for p in got]), f"{server} f (b={bit})")


def range_check_run(x: list[int], bits: int, sent: list[Any]) -> Run:
    def run(tree: ModuleType, dealer: Any, channel: Any) -> None:
        lanes, offline, m = len(x), tree.Channel(), bits + 1
        masks = dealer.masks(lanes, m, high=True, channel=offline)
        dabits = dealer.dabits(lanes, channel=offline)
        triples = dealer.and_triples(lanes, tree.gate_count(m), channel=offline)
        shares = (ring(tree, x), ring(tree, [0] * lanes))
        sent.append(tree.range_check(shares, masks, dabits, triples, bits=bits, channel=channel))

    return run


@pytest.mark.spec("C21.3", "P21.7")
@pytest.mark.parametrize("inputs", ["zeros", "bounds"])
def test_range_check_view_is_simulated_from_the_pass_bits(impl: ModuleType, inputs: str) -> None:
    bits, m = 20, 21
    x = (
        [0] * LANES
        if inputs == "zeros"
        else [(-(1 << bits), (1 << bits) - 1)[i % 2] & MASK for i in range(LANES)]
    )
    outputs: list[Any] = []
    channel = views(impl, range_check_run(x, bits, outputs), RUNS, seed=6)
    assert all(as_list(t) == [0] * LANES for t in outputs)
    for server in SERVERS:
        assert_uniform_u64(ring_values(received(channel, server, "range/open")), f"{server} c")
        got = per_run(received(channel, server, "cmp/and"), RUNS)
        assert_uniform_planes(got, 32, f"{server} e, f ({inputs})")
        assert_uniform_planes(received(channel, server, "cmp/b2a"), 32, f"{server} v")
        # The simulator's t-share: what a server receives is minus what it sent, mod
        # 2^(64 - m), on every in-range lane, so it carries nothing beyond the pass bits.
        other = "S1" if server == "S0" else "S0"
        got_t = ring_values(received(channel, server, "range/high"))
        sent_t = ring_values(received(channel, other, "range/high"))
        low = np.uint64((1 << (64 - m)) - 1)
        assert np.array_equal((got_t + sent_t) & low, np.zeros_like(got_t))
        assert not np.any(got_t >> np.uint64(64 - m)), "t-shares are reduced mod 2^(64 - m)"


# ---------------------------------------------------------------------------------------------
# Exact enumeration at a small width


def enumerate_and_material(lanes_bits: int, gates: int) -> bytes:
    """Dealer bytes for and_triples(2^lanes_bits, gates) putting material value i in lane i.

    Material bit ``5t + k`` of lane ``i`` (k = 0..4 for a^0, a^1, b^0, b^1, c^0 of gate t) is
    bit ``5t + k`` of ``i``; the dealer draws a^0 (all gates), a^1, b^0, b^1, c^0 in turn.
    """
    lanes = 1 << lanes_bits
    size = 8 * (-(-lanes // 64))
    out = []
    for k in range(5):
        for t in range(gates):
            plane = sum(((i >> (5 * t + k)) & 1) << i for i in range(lanes))
            out.append(plane.to_bytes(size, "little"))
    return b"".join(out)


def lane_array(plane: int, lanes: int) -> np.ndarray:
    raw = np.frombuffer(plane.to_bytes(8 * (-(-lanes // 64)), "little"), dtype=np.uint8)
    return np.unpackbits(raw, bitorder="little")[:lanes].astype(np.int64)


def check_exact_view(impl: ModuleType, bits: int, sharings: list[int]) -> None:
    """For every (c, rho) and the given XOR sharings of rho, over all 2^(5 A(m)) values of the
    material (one per lane), a server's own a, b, c shares beside the e, f it receives take
    every value exactly once: its view is the simulator's for every input."""
    gates = impl.gate_count(bits)
    width = 5 * gates
    lanes, full = 1 << width, (1 << (1 << width)) - 1
    data = enumerate_and_material(width, gates)
    size = 8 * (-(-lanes // 64))
    for c, rho, share0 in (
        (c, rho, s) for c in range(1 << bits) for rho in range(1 << bits) for s in sharings
    ):
        triples = impl.Dealer(rng=ScriptedSource(data)).and_triples(
            lanes, gates, channel=impl.Channel()
        )
        channel = impl.Channel()
        out = impl.less_than_bits(
            [make_plane(impl, full * (c >> j & 1), lanes) for j in range(bits)],
            [
                (
                    make_plane(impl, full * (share0 >> j & 1), lanes),
                    make_plane(impl, full * ((share0 ^ rho) >> j & 1), lanes),
                )
                for j in range(bits)
            ],
            triples,
            lanes=lanes,
            channel=channel,
        )
        below = lane_array(plane_int(out[0]) ^ plane_int(out[1]), lanes)
        assert set(below.tolist()) == {int(c < rho)}
        for s, server in enumerate(SERVERS):
            own = [plane_int(getattr(triples[s], f)[t]) for t in range(gates) for f in "abc"]
            got = b"".join(received(channel, server, "cmp/and"))
            opened = [
                int.from_bytes(got[k * size : (k + 1) * size], "little") for k in range(2 * gates)
            ]
            code = np.zeros(lanes, dtype=np.int64)
            for k, plane in enumerate(own + opened):
                code |= lane_array(plane, lanes) << k
            assert np.array_equal(np.sort(code), np.arange(lanes)), (
                f"{server}: view not a bijection of the material at c={c}, rho={rho}"
            )


@pytest.mark.spec("C21.3", "P21.2", "P21.3")
@pytest.mark.parametrize(("bits", "sharings"), [(1, [0, 1]), (2, [0, 1, 2, 3]), (3, [0, 5])])
def test_less_than_bits_view_is_exactly_uniform(
    impl: ModuleType, bits: int, sharings: list[int]
) -> None:
    # m = 1 runs no gate (its view is empty); m = 2 one gate, m = 3 three gates on two levels.
    check_exact_view(impl, bits, sharings)


@pytest.mark.spec("C21.3", "P21.5")
def test_bit_to_ring_view_is_exactly_uniform(impl: ModuleType) -> None:
    # Lanes 0..3 enumerate (beta^0, beta^1); for every bit and every XOR sharing of it, a
    # server's own beta share beside the received v takes each of the 4 values once.
    lanes = 4
    q0 = b"".join((7 * i + 1).to_bytes(8, "little") for i in range(lanes))
    data = (0b1010).to_bytes(8, "little") + (0b1100).to_bytes(8, "little") + q0
    for b in (0, 1):
        for share0 in (0, 1):
            dealer = impl.Dealer(rng=ScriptedSource(data))
            dabits = dealer.dabits(lanes, channel=impl.Channel())
            channel = impl.Channel()
            plane = (
                make_plane(impl, 15 * share0, lanes),
                make_plane(impl, 15 * (share0 ^ b), lanes),
            )
            out = impl.bit_to_ring(plane, dabits, channel=channel)
            assert [
                (u + v) & MASK for u, v in zip(as_list(out[0]), as_list(out[1]), strict=True)
            ] == [b] * 4
            for s, server in enumerate(("S0", "S1")):
                v = int.from_bytes(received(channel, server, "cmp/b2a")[0], "little")
                own = plane_int(dabits[s].beta)
                assert sorted((own >> i & 1, v >> i & 1) for i in range(lanes)) == [
                    (0, 0),
                    (0, 1),
                    (1, 0),
                    (1, 1),
                ]


# ---------------------------------------------------------------------------------------------
# Larger samples, under `make thorough`


@pytest.mark.slow
@pytest.mark.spec("C21.3", "P21.2", "P21.3")
def test_less_than_bits_view_is_exactly_uniform_for_every_sharing(impl: ModuleType) -> None:
    check_exact_view(impl, 3, list(range(8)))


@pytest.mark.slow
@pytest.mark.spec("C21.3", "P21.3", "P21.4", "P21.7")
def test_views_are_uniform_large(impl: ModuleType) -> None:
    runs = 200
    for width in (2, 7, 33, 64):
        c, rho, share0 = LTB_INPUTS["ties"]
        channel = views(impl, less_than_bits_run(c, rho, share0, width), runs, seed=width)
        for server in SERVERS:
            got = per_run(received(channel, server, "cmp/and"), runs)
            assert_uniform_planes(got, 32, f"{server} m={width}")
    x = [(-(1 << 62), (1 << 62) - 1, 1 << 61)[i % 3] & MASK for i in range(LANES)]
    channel = views(impl, less_than_zero_run(x, 62), runs, seed=11)
    outputs: list[Any] = []
    checks = views(impl, range_check_run(x, 62, outputs), runs, seed=12)
    for server in SERVERS:
        assert_uniform_u64(ring_values(received(channel, server, "cmp/open")), f"{server} c")
        got = per_run(received(channel, server, "cmp/and"), runs)
        assert_uniform_planes(got, 32, f"{server} e, f")
        assert_uniform_u64(ring_values(received(checks, server, "range/open")), f"{server} c")
        assert_uniform_planes(received(checks, server, "cmp/b2a"), 32, f"{server} v")
