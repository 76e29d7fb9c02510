"""Section 15: Beaver material from Paillier, both trees, in the secure round."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.optimized.paillier_triples import PaillierTripleProvider as OptProvider
from sbrml.reference.errors import ParameterError
from sbrml.reference.paillier_triples import PaillierTripleProvider as RefProvider
from tests.helpers import as_list, decoded_inputs
from tests.statistical.test_uniformity import assert_uniform_u64

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
    assert "offline/paillier-key" in labels and not any(
        m.sender == "dealer" for m in r.channel.messages
    )
