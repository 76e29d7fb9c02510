"""Section 3: additive secret sharing (spec/03-sharing.md)."""

from __future__ import annotations

from collections import Counter
from types import ModuleType

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sbrml.core.errors import ShapeError
from tests.helpers import ScriptedSource, as_list


@pytest.mark.spec("C3.1")
@given(
    st.integers(2, 64).flatmap(
        lambda bits: st.tuples(
            st.just(bits), st.lists(st.integers(0, (1 << bits) - 1), min_size=0, max_size=30)
        )
    ),
    st.integers(0, 2**32),
)
def test_reconstruct_inverts_share(case: tuple[int, list[int]], seed: int) -> None:
    import sbrml.optimized as opt
    import sbrml.reference as ref

    bits, secret = case
    for tree in (ref, opt):
        s0, s1 = tree.share(secret, rng=tree.DeterministicRandomSource(seed), bits=bits)
        assert as_list(tree.reconstruct(s0, s1, bits=bits)) == secret


@pytest.mark.spec("P3.1")
def test_share_known_answer(impl: ModuleType) -> None:
    data = (5).to_bytes(8, "little") + (1 << 63).to_bytes(8, "little")
    s0, s1 = impl.share([3, 1], rng=ScriptedSource(data))
    assert as_list(s0) == [5, 1 << 63]
    assert as_list(s1) == [(3 - 5) % (1 << 64), (1 - (1 << 63)) % (1 << 64)]


@pytest.mark.spec("C3.2")
def test_each_share_is_uniform_by_enumeration_in_z_2_8(impl: ModuleType) -> None:
    # For every secret x in Z_2^8, as the mask r runs over the whole ring, each share takes
    # every ring value exactly once: the distribution of either share does not depend on x.
    ring = list(range(256))
    for x in ring:
        firsts: Counter[int] = Counter()
        seconds: Counter[int] = Counter()
        for r in ring:
            s0, s1 = impl.share([x], rng=ScriptedSource(r.to_bytes(8, "little")), bits=8)
            firsts[as_list(s0)[0]] += 1
            seconds[as_list(s1)[0]] += 1
        assert sorted(firsts) == ring and set(firsts.values()) == {1}
        assert sorted(seconds) == ring and set(seconds.values()) == {1}


@pytest.mark.spec("P3.2")
def test_reconstruct_rejects_mismatched_shares(impl: ModuleType) -> None:
    with pytest.raises(ShapeError) as info:
        impl.reconstruct([1, 2], [3])
    assert info.value.clause == "P3.2"
