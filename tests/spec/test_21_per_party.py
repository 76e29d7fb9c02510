"""Section 21 per party (D23.1): each comparison protocol with S0 and S1 in their own threads,
each over a channel that plays it alone and holds only its own shares (the other's is None),
gives each server the share it gets when one process plays both.

The round runs these protocols per party too (tests/net/test_parties.py), but not P21.2's
``and_layer`` nor P21.3's ``less_than_bits`` on their own; mutation testing found their
per-party paths unchecked (session 10).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
from tests.helpers.parties import Hub, ThreadChannel
from tests.spec.test_21_comparison import make_plane, material, ring

N = 70  # two words a plane


def _own(value: Any, s: int) -> Any:
    """Server s's part of a pair, or of a list of pairs: the other's share is None."""
    if isinstance(value, list):
        return [_own(v, s) for v in value]
    return (value[0], None) if s == 0 else (None, value[1])


def _flat(value: Any) -> list[int]:
    """Every word of an output (a pair, a list of pairs, an array) as ints, None as -1."""
    if value is None:
        return [-1]
    if isinstance(value, list | tuple):
        return [w for v in value for w in _flat(v)]
    return [int(w) for w in np.asarray(value).ravel()]


def _split(run: Callable[[Callable[[Any], Any], Any], Any]) -> tuple[Any, Any]:
    """``run(own, channel)`` with both servers on one in-memory channel, then with each on its
    own thread channel; returns (what each server got alone, what one process gave)."""
    together = run(lambda v: v, opt.Channel())
    hub, alone = Hub(), [None, None]

    def play(s: int) -> None:
        alone[s] = run(lambda v: _own(v, s), ThreadChannel(f"S{s}", hub, timeout=10.0))

    threads = [threading.Thread(target=play, args=(s,)) for s in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30.0)
    return (alone[0], alone[1]), together


def _planes(seed: int, count: int) -> list[tuple[Any, Any]]:
    gen = np.random.default_rng(seed)
    top = (1 << N) - 1
    return [
        (
            make_plane(opt, int(gen.integers(0, 2**62)) << 8 & top, N),
            make_plane(opt, int(gen.integers(0, 2**62)) * 3 & top, N),
        )
        for _ in range(count)
    ]


def _server(out: Any, s: int) -> Any:
    if isinstance(out, list):
        return [p[s] for p in out]
    return out[s]


PROTOCOLS: dict[str, Callable[[Callable[[Any], Any], Any], Any]] = {}


def _protocol(name: str) -> Callable[[Any], Any]:
    def register(fn: Any) -> Any:
        PROTOCOLS[name] = fn
        return fn

    return register


@_protocol("and_layer")
def _and_layer(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 3)
    triples = dealer.and_triples(N, 3, channel=offline)
    return opt.and_layer(own(_planes(1, 3)), own(_planes(2, 3)), own(triples), channel=channel)


@_protocol("less_than_bits")
def _less_than_bits(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 4)
    triples = dealer.and_triples(N, 9, channel=offline)  # A(6) = 9
    c = [p[0] for p in _planes(5, 6)]
    return opt.less_than_bits(c, own(_planes(6, 6)), own(triples), lanes=N, channel=channel)


@_protocol("less_than_zero")
def _less_than_zero(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 5)
    masks = dealer.masks(N, 6, high=False, channel=offline)
    triples = dealer.and_triples(N, 7, channel=offline)  # A(5) = 7
    negative = [(2**64 - 5 * k) % 2**64 for k in range(N)]
    x = (ring(opt, [7 * k for k in range(N)]), ring(opt, negative))
    return opt.less_than_zero(own(x), own(masks), own(triples), width=5, channel=channel)


@_protocol("bit_to_ring")
def _bit_to_ring(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 6)
    dabits = dealer.dabits(N, channel=offline)
    return opt.bit_to_ring(own(_planes(7, 1)[0]), own(dabits), channel=channel)


@_protocol("select")
def _select(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 7)
    triples = dealer.scalar_triples(N, channel=offline)
    b = (ring(opt, [k % 2 for k in range(N)]), ring(opt, [0] * N))
    x = (ring(opt, list(range(N))), ring(opt, [3] * N))
    y = (ring(opt, [9] * N), ring(opt, list(range(N, 2 * N))))
    return opt.select(own(b), own(x), own(y), own(triples), channel=channel)


@_protocol("range_check")
def _range_check(own: Callable[[Any], Any], channel: Any) -> Any:
    dealer, offline = material(opt, 8)
    masks = dealer.masks(N, 5, high=True, channel=offline)
    dabits = dealer.dabits(N, channel=offline)
    triples = dealer.and_triples(N, 7, channel=offline)  # A(5) = 7
    x = (ring(opt, [k * k for k in range(N)]), ring(opt, [2**64 - 3] * N))
    t = opt.range_check(own(x), own(masks), own(dabits), own(triples), bits=4, channel=channel)
    return (t, t)  # public: both servers learn it


@pytest.mark.spec("D23.1", "C21.5")
@pytest.mark.parametrize("name", sorted(PROTOCOLS))
def test_each_server_alone_gets_its_share_of_the_two_server_run(name: str) -> None:
    (alone0, alone1), together = _split(PROTOCOLS[name])
    assert _flat(_server(alone0, 0)) == _flat(_server(together, 0))
    assert _flat(_server(alone1, 1)) == _flat(_server(together, 1))
    # The absent share stays absent: a server's output holds nothing of the other's.
    if name != "range_check":
        assert set(_flat(_server(alone0, 1))) == {-1} and set(_flat(_server(alone1, 0))) == {-1}
