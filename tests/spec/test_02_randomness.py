"""Section 2: randomness (spec/02-randomness.md)."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections import Counter
from pathlib import Path
from types import ModuleType

import pytest

import sbrml.core.randomness as core_rand
import sbrml.optimized.randomness as opt_rand
import sbrml.reference.randomness as ref_rand
from sbrml.core.errors import ParameterError, RandomnessError
from tests.helpers import ScriptedSource, as_list

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.spec("D2.1")
def test_chacha20_block_rfc8439_section_2_3_2() -> None:
    key = bytes(range(32))
    nonce = bytes.fromhex("000000090000004a00000000")
    expected = bytes.fromhex(
        "10f1e7e4d13b5915500fdd1fa32071c4c7d1f4c733c068030422aa9ac3d46c4e"
        "d2826446079faa0914c2d705d98b02a2b5129cd1de164eb9cbd083e8a2503c4e"
    )
    assert ref_rand.chacha20_block(key, 1, nonce) == expected


@pytest.mark.spec("D2.2")
def test_keystream_rfc8439_appendix_a1_all_zero(impl: ModuleType) -> None:
    # RFC 8439 A.1 test vector #1: all-zero key and nonce, counter 0.
    expected = bytes.fromhex(
        "76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
        "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586"
    )
    assert impl.ChaCha20RandomSource(bytes(32)).random_bytes(64) == expected


@pytest.mark.spec("D2.2")
def test_both_trees_give_the_same_keystream() -> None:
    key = bytes(range(100, 132))
    assert ref_rand.ChaCha20RandomSource(key).random_bytes(1000) == opt_rand.ChaCha20RandomSource(
        key
    ).random_bytes(1000)


@pytest.mark.spec("C2.1")
@pytest.mark.parametrize("module", [ref_rand, opt_rand])
def test_system_source_is_keyed_by_the_os(
    module: ModuleType, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []

    def fake_token_bytes(n: int) -> bytes:
        calls.append(n)
        return bytes([7]) * n

    monkeypatch.setattr(module.secrets, "token_bytes", fake_token_bytes)
    got = module.SystemRandomSource().random_bytes(32)
    assert calls == [32]
    assert got == module.ChaCha20RandomSource(bytes([7]) * 32).random_bytes(32)


@pytest.mark.spec("C2.1")
def test_system_sources_differ(impl: ModuleType) -> None:
    assert impl.SystemRandomSource().random_bytes(32) != impl.SystemRandomSource().random_bytes(32)


@pytest.mark.spec("C2.2")
def test_seed_key_known_answer(impl: ModuleType) -> None:
    seed = 12345
    key = hashlib.sha256(b"sbrml/seed/v1/" + seed.to_bytes(32, "little")).digest()
    assert impl.DeterministicRandomSource(seed).random_bytes(80) == ref_rand.ChaCha20RandomSource(
        key
    ).random_bytes(80)
    assert "UNSAFE" in (impl.DeterministicRandomSource.__doc__ or "")


@pytest.mark.spec("C2.2")
@pytest.mark.parametrize("seed", [-1, 1 << 256, 1.0, True, "7"])
def test_bad_seeds_are_rejected(impl: ModuleType, seed: object) -> None:
    with pytest.raises(ParameterError) as info:
        impl.DeterministicRandomSource(seed)
    assert info.value.clause == "C2.2"


def _child_key(parent_key: bytes, k: int, label: str) -> bytes:
    message = b"sbrml/derive/v2/" + k.to_bytes(8, "little") + label.encode()
    return hmac.new(parent_key, message, hashlib.sha256).digest()


@pytest.mark.spec("C2.3")
def test_derive_uses_hmac_and_leaves_parent_untouched(impl: ModuleType) -> None:
    parent_key = bytes(range(32))
    parent = impl.ChaCha20RandomSource(parent_key)
    child = parent.derive("worker/3")
    child_key = _child_key(parent_key, 0, "worker/3")
    assert child.random_bytes(40) == ref_rand.ChaCha20RandomSource(child_key).random_bytes(40)
    assert parent.random_bytes(40) == ref_rand.ChaCha20RandomSource(parent_key).random_bytes(40)
    with pytest.raises(ParameterError) as info:
        parent.derive("")
    assert info.value.clause == "C2.3"


@pytest.mark.spec("C2.3", "C2.9")
def test_derive_counts_per_label(impl: ModuleType) -> None:
    # The k-th derivation of a label is keyed with LE64(k); other labels do not move k.
    parent_key = bytes(range(32))
    parent = impl.ChaCha20RandomSource(parent_key)
    draws = [(label, parent.derive(label).random_bytes(32)) for label in "abab"]
    draws.append(("a", parent.derive("a").random_bytes(32)))
    counts: dict[str, int] = {}
    for label, got in draws:
        k = counts.get(label, 0)
        counts[label] = k + 1
        expected = ref_rand.ChaCha20RandomSource(_child_key(parent_key, k, label))
        assert got == expected.random_bytes(32), (label, k)
    assert len({got for _, got in draws}) == len(draws)


@pytest.mark.spec("C2.9")
def test_no_source_hands_out_a_stream_twice(impl: ModuleType) -> None:
    # Same label twice, on the parent and on a child: every stream differs.
    root = impl.DeterministicRandomSource(5)
    streams = [root.derive("worker/0").random_bytes(64) for _ in range(3)]
    child = root.derive("S1")
    streams += [child.derive("x").random_bytes(64), child.derive("x").random_bytes(64)]
    streams.append(root.random_bytes(64))
    assert len(set(streams)) == len(streams)
    # A sequence of calls stays reproducible from the seed.
    again = impl.DeterministicRandomSource(5)
    assert [again.derive("worker/0").random_bytes(64) for _ in range(3)] == streams[:3]


@pytest.mark.spec("C2.9")
def test_derivation_counter_does_not_wrap(impl: ModuleType) -> None:
    source = impl.ChaCha20RandomSource(bytes(32))
    source._derived["worker/0"] = 1 << 64
    with pytest.raises(RandomnessError) as info:
        source.derive("worker/0")
    assert info.value.clause == "C2.9"


@pytest.mark.spec("C2.4")
def test_bytes_are_consumed_in_order(impl: ModuleType) -> None:
    a = impl.DeterministicRandomSource(1)
    pieces = a.random_bytes(3) + a.random_bytes(0) + a.random_bytes(70) + a.random_bytes(5)
    assert pieces == impl.DeterministicRandomSource(1).random_bytes(78)


@pytest.mark.spec("C2.5")
def test_stream_length_limit(impl: ModuleType) -> None:
    source = impl.DeterministicRandomSource(1)
    if impl.__name__.endswith("reference"):
        source._counter = core_rand.MAX_BLOCKS - 1
    else:
        source._used = (core_rand.MAX_BLOCKS - 1) * core_rand.BLOCK_BYTES
    source.random_bytes(64)  # the last block is still allowed
    with pytest.raises(RandomnessError) as info:
        source.random_bytes(1)
    assert info.value.clause == "C2.5"


@pytest.mark.spec("C2.6")
def test_ring_elements_from_bytes(impl: ModuleType) -> None:
    data = bytes(range(16))
    got = as_list(impl.ring_elements(ScriptedSource(data), 2))
    assert got == [int.from_bytes(data[:8], "little"), int.from_bytes(data[8:], "little")]
    narrow = as_list(impl.ring_elements(ScriptedSource(data), 2, 8))
    assert narrow == [0, 8]


@pytest.mark.spec("C2.7")
def test_uniform_below_rejection_known_answer(impl: ModuleType) -> None:
    source = ScriptedSource(bytes([7, 6, 0xFB]))  # 7 and 6 are rejected; 0xFB & 7 = 3
    assert impl.uniform_below(source, 5) == 3
    assert source.consumed == 3
    empty = ScriptedSource(b"")
    assert impl.uniform_below(empty, 1) == 0
    with pytest.raises(ParameterError) as info:
        impl.uniform_below(empty, 0)
    assert info.value.clause == "C2.7"


@pytest.mark.spec("C2.7")
@pytest.mark.parametrize("bound", [2, 3, 5, 7, 100, 255, 256, 300])
def test_uniform_below_is_exactly_uniform(impl: ModuleType, bound: int) -> None:
    # Enumerate every first draw: accepted values must each appear equally often.
    width = (bound - 1).bit_length()
    nbytes = -(-width // 8)
    counts: Counter[int] = Counter()
    for raw in range(1 << (8 * nbytes)):
        candidate = raw & ((1 << width) - 1)
        if candidate < bound:
            src = ScriptedSource(raw.to_bytes(nbytes, "little"))
            counts[impl.uniform_below(src, bound)] += 1
    assert sorted(counts) == list(range(bound))
    assert len(set(counts.values())) == 1


@pytest.mark.spec("C2.8")
def test_no_other_randomness_in_the_library() -> None:
    forbidden = re.compile(
        r"^\s*(import random|from random import)|np\.random|numpy\.random|default_rng", re.M
    )
    offenders = [
        str(p.relative_to(ROOT))
        for tree in ("reference", "optimized")
        for p in (ROOT / "sbrml" / tree).rglob("*.py")
        if forbidden.search(p.read_text(encoding="utf-8"))
    ]
    assert offenders == []


@pytest.mark.spec("D2.2")
@pytest.mark.parametrize("key", [bytes(31), bytes(33), "k" * 32])
def test_keys_are_32_bytes(impl: ModuleType, key: object) -> None:
    with pytest.raises(ParameterError) as info:
        impl.ChaCha20RandomSource(key)
    assert info.value.clause == "D2.2"


@pytest.mark.spec("C2.9")
def test_a_source_cannot_be_copied(impl: ModuleType) -> None:
    import copy
    import pickle

    for source in (impl.SystemRandomSource(), impl.DeterministicRandomSource(3)):
        for duplicate in (copy.copy, copy.deepcopy, pickle.dumps):
            with pytest.raises(TypeError, match=r"C2\.9"):
                duplicate(source)
