"""C2.9 across protocol calls: one source object given to two calls never repeats a secret.

Before spec 0.5, ``derive(label)`` was a function of the label alone, so two rounds drawn from
one ``SystemRandomSource`` sent byte-identical shares and dealer material: ``S1`` alone
computed ``x - x'`` from its two shares of one worker (issue 13, item 1). Each test below runs a
protocol twice with one source object and checks what one party received in the two calls:
no payload repeats, and the difference of two views is not the difference of the inputs.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.channel import Channel, Message
from sbrml.optimized import he_averaging as opt_he
from sbrml.optimized import mask_protocol as opt_mp
from sbrml.optimized import paillier as opt_p
from sbrml.optimized import paillier_triples as opt_pt
from sbrml.reference import he_averaging as ref_he
from sbrml.reference import mask_protocol as ref_mp
from sbrml.reference import paillier_triples as ref_pt

X = [[1.0, -2.0, 0.5], [0.25, 3.0, -1.0], [2.0, 2.0, 2.0], [-1.5, 0.0, 4.0], [0.0, 1.0, 1.0]]
X2 = [[v + 1.0 for v in row] for row in X]
KEY = opt_p.generate_keypair(256, rng=opt.DeterministicRandomSource(11), insecure_test=True)


def _data(tree: ModuleType, x: list[list[float]]) -> object:
    return np.asarray(x) if tree is opt else x


def _received(channel: Channel, receiver: str) -> dict[tuple[str, str], bytes]:
    got: dict[tuple[str, str], bytes] = {}
    for m in channel.messages:
        if m.receiver == receiver:
            key = (m.sender, m.label)
            got[key] = got.get(key, b"") + bytes(m.payload)
    return got


def _assert_fresh(
    first: dict[tuple[str, str], bytes], second: dict[tuple[str, str], bytes]
) -> None:
    assert first.keys() == second.keys()
    repeated = [key for key in first if first[key] == second[key]]
    assert repeated == []


def _ring(payload: bytes) -> list[int]:
    return [int.from_bytes(payload[i : i + 8], "little") for i in range(0, len(payload), 8)]


@pytest.mark.spec("C2.9", "C8.1")
@pytest.mark.parametrize("tree", [ref, opt], ids=["reference", "optimized"])
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_two_rounds_from_one_source_share_nothing(tree: ModuleType, variant: str) -> None:
    source = tree.DeterministicRandomSource(3)
    rule = tree.Krum(1)
    one = tree.secure_aggregate(_data(tree, X), rule, rng=source, variant=variant)
    two = tree.secure_aggregate(_data(tree, X2), rule, rng=source, variant=variant)
    for server in ("S0", "S1"):
        a, b = _received(one.channel, server), _received(two.channel, server)
        offline = {k: v for k, v in a.items() if k[1].startswith("offline")}
        assert offline, "the dealer's material is part of each server's view"
        _assert_fresh(
            {k: v for k, v in a.items() if k[0] != "S0" and k[0] != "S1"},
            {k: v for k, v in b.items() if k[0] != "S0" and k[0] != "S1"},
        )
        # The old failure: share' - share = encode(x') - encode(x) = 2^16 on every coordinate.
        for i in range(len(X)):
            s, t = _ring(a[(f"W{i}", "share")]), _ring(b[(f"W{i}", "share")])
            assert [(v - u) % 2**64 for u, v in zip(s, t, strict=True)] != [2**16] * 3


@pytest.mark.spec("C2.9", "C14.4")
@pytest.mark.parametrize(("tree", "he"), [(ref, ref_he), (opt, opt_he)], ids=["ref", "opt"])
def test_two_encrypted_averages_from_one_source(tree: ModuleType, he: ModuleType) -> None:
    pk, sk = KEY
    source = tree.DeterministicRandomSource(4)
    one = he.encrypted_average(_data(tree, X), public=pk, private=sk, rng=source)
    two = he.encrypted_average(_data(tree, X), public=pk, private=sk, rng=source)
    # Same inputs: with repeated obfuscators the ciphertexts were identical.
    _assert_fresh(_received(one.channel, "S"), _received(two.channel, "S"))


@pytest.mark.spec("C2.9", "C20.7")
@pytest.mark.parametrize(("tree", "mp"), [(ref, ref_mp), (opt, opt_mp)], ids=["ref", "opt"])
def test_two_masked_aggregates_from_one_source(tree: ModuleType, mp: ModuleType) -> None:
    source = tree.DeterministicRandomSource(5)
    one = mp.masked_aggregate(_data(tree, X), t=3, rng=source)
    two = mp.masked_aggregate(_data(tree, X2), t=3, rng=source)
    a, b = _received(one.channel, "S"), _received(two.channel, "S")
    _assert_fresh(a, b)
    # The old failure: y' - y = encode(x') - encode(x) for every worker's masked input.
    for i in range(len(X)):
        s, t = _ring(a[(f"W{i}", "mask/input")]), _ring(b[(f"W{i}", "mask/input")])
        assert [(v - u) % 2**64 for u, v in zip(s, t, strict=True)] != [2**16] * 3


@pytest.mark.spec("C2.9", "D15.1")
@pytest.mark.parametrize(("tree", "pt"), [(ref, ref_pt), (opt, opt_pt)], ids=["ref", "opt"])
def test_two_triple_providers_from_one_source(tree: ModuleType, pt: ModuleType) -> None:
    source = tree.DeterministicRandomSource(6)
    first = pt.PaillierTripleProvider(rng=source, bits=256, insecure_test=True, sigma=8)
    second = pt.PaillierTripleProvider(rng=source, bits=256, insecure_test=True, sigma=8)
    assert first.public.n != second.public.n
    views = []
    for provider in (first, second):
        channel = Channel()
        provider.square_pairs(4, channel=channel)
        views.append(
            {(m.sender, m.label): bytes(m.payload) for m in channel.messages if m.receiver == "S1"}
        )
    _assert_fresh(*views)


def test_messages_are_compared_by_payload() -> None:
    # The helper itself must see a repeat: a check that could not fail would be a defect.
    same = {("W0", "share"): b"\x01"}
    with pytest.raises(AssertionError):
        _assert_fresh(same, dict(same))
    assert Message("W0", "S0", "share", b"").size == 0
