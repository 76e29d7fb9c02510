"""Section 2: the sources' and the block function's refusals (C2.4, D2.1), in both trees."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import pytest

import sbrml.reference.randomness as ref_rand
from sbrml.core.errors import ParameterError

KEY = bytes(range(32))
NONCE = bytes(12)


@pytest.mark.spec("C2.4")
@pytest.mark.parametrize("count", [-1, True, 2.0, "3", None])
def test_random_bytes_refuses_a_count_that_is_not_an_int_at_least_zero(
    impl: ModuleType, count: Any
) -> None:
    source = impl.DeterministicRandomSource(1)
    with pytest.raises(ParameterError) as info:
        source.random_bytes(count)
    assert (info.value.function, info.value.parameter, info.value.clause) == (
        "random_bytes",
        "count",
        "C2.4",
    )
    # A refused call consumes nothing: the stream goes on where it was.
    assert source.random_bytes(40) == impl.DeterministicRandomSource(1).random_bytes(40)


@pytest.mark.spec("D2.1")
@pytest.mark.parametrize(
    ("key", "counter", "nonce"),
    [
        (KEY[:31], 0, NONCE),
        (KEY + b"\0", 0, NONCE),
        (KEY, 0, NONCE[:11]),
        (KEY, 0, NONCE + b"\0"),
        (KEY, -1, NONCE),
        (KEY, 1 << 32, NONCE),
    ],
)
def test_chacha20_block_refuses_bad_arguments(key: bytes, counter: int, nonce: bytes) -> None:
    with pytest.raises(ParameterError) as info:
        ref_rand.chacha20_block(key, counter, nonce)
    assert (info.value.function, info.value.clause) == ("chacha20_block", "D2.1")


@pytest.mark.spec("D2.1")
def test_chacha20_block_takes_the_last_counter() -> None:
    # RFC 8439's counter is 32 bits: 2^32 - 1 is the last block, and it is a valid one.
    last = ref_rand.chacha20_block(KEY, (1 << 32) - 1, NONCE)
    assert len(last) == 64 and last != ref_rand.chacha20_block(KEY, 0, NONCE)
