"""What a user's function returns is read inside the kit's guard: whatever the returned
object's own code raises (``__array__``, ``__index__``, a generator's body), an endless
iterator, a bool entry and a masked entry are ConformanceErrors naming the clause, the input
and what was returned, never a raw traceback, a hang or a pass (issue 17, final verification
review, K1-K4)."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from sbrml.testing.checks import (
    ConformanceError,
    check_distance_protocol,
    check_paillier,
    check_rule,
    check_sharing,
    check_weights,
)

M = 2**64 - 1


def _mean(x: Any) -> Any:
    return np.mean(np.asarray(x, dtype=np.float64), axis=0)


def _share(x: Any) -> tuple[list[int], list[int]]:
    r = [secrets.randbits(64) for _ in x]
    return r, [(int(v) - a) & M for v, a in zip(x, r, strict=True)]


def _protocol(x0: Any, x1: Any) -> tuple[list[list[int]], list[list[int]]]:
    """A correct distance protocol in the clear: D computed, then shared afresh."""
    x = [[(a + b) & M for a, b in zip(r0, r1, strict=True)] for r0, r1 in zip(x0, x1, strict=True)]
    signed = [[v - 2**64 if v >= 2**63 else v for v in row] for row in x]
    d = [[sum((a - b) ** 2 for a, b in zip(p, q, strict=True)) & M for q in signed] for p in signed]
    masks = [[secrets.randbits(64) for _ in row] for row in d]
    return masks, [
        [(v - m) & M for v, m in zip(r, s, strict=True)] for r, s in zip(d, masks, strict=True)
    ]


class _Raises:
    """An object whose conversion to an array raises ``error``."""

    def __init__(self, error: BaseException) -> None:
        self.error = error

    def __array__(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


class _BadInterface:
    @property
    def __array_interface__(self) -> Any:
        raise KeyError("interface")


class _BadIndex:
    def __index__(self) -> int:
        raise ValueError("no index")


CONVERSIONS: dict[str, Callable[[], Any]] = {
    "RuntimeError": lambda: _Raises(RuntimeError("requires grad")),
    "MemoryError": lambda: _Raises(MemoryError()),
    "RecursionError": lambda: _Raises(RecursionError()),
    "KeyError": _BadInterface,
}


@pytest.mark.parametrize("kind", list(CONVERSIONS))
def test_a_rule_output_whose_conversion_raises_is_a_d6_1_failure(kind: str) -> None:
    with pytest.raises(ConformanceError) as info:
        check_rule(lambda x: CONVERSIONS[kind](), "mean", f=1, examples=2)
    assert info.value.clause == "D6.1"
    assert "reading it raised" in str(info.value.got) and "input:" in str(info.value)


@pytest.mark.parametrize("kind", list(CONVERSIONS))
def test_a_weight_output_whose_conversion_raises_is_a_failure_of_the_rule(kind: str) -> None:
    with pytest.raises(ConformanceError) as info:
        check_weights(lambda d: CONVERSIONS[kind](), "krum", f=1, examples=2)
    assert info.value.clause == "D6.3" and "reading it raised" in str(info.value.got)


@pytest.mark.byzfl  # needs PyTorch, which make crosscheck installs (with ByzFL); not skipped
def test_a_torch_tensor_that_requires_grad_is_a_d6_1_failure() -> None:
    import torch

    weight = torch.ones(1, requires_grad=True)
    with pytest.raises(ConformanceError) as info:
        check_rule(lambda x: torch.as_tensor(x).mean(0) * weight, "mean", f=1, examples=2)
    assert info.value.clause == "D6.1" and "RuntimeError" in str(info.value.got)


def test_an_int_whose_index_raises_is_a_failure_of_each_check() -> None:
    with pytest.raises(ConformanceError) as info:
        check_paillier(lambda n, m, r: _BadIndex(), examples=2)
    assert info.value.clause == "D13.2" and "ValueError: no index" in str(info.value.got)
    with pytest.raises(ConformanceError) as info:
        check_sharing(lambda x: ([_BadIndex()] * len(x), [0] * len(x)), examples=2)
    assert info.value.clause == "P3.1" and "ValueError: no index" in str(info.value.got)
    with pytest.raises(ConformanceError) as info:
        check_distance_protocol(lambda a, b: ([[_BadIndex()] * len(a)] * len(a),) * 2)
    assert info.value.clause == "P5.1" and "ValueError: no index" in str(info.value.got)


def test_a_function_raising_any_base_exception_is_a_failure_but_a_keyboard_interrupt() -> None:
    class Custom(BaseException):
        pass

    def skips(x: Any) -> Any:
        pytest.skip("inside the function under test")

    def custom(x: Any) -> Any:
        raise Custom("custom")

    for fn in (skips, custom):
        with pytest.raises(ConformanceError) as info:
            check_rule(fn, "mean", f=1, examples=2)
        assert info.value.clause == "D9.1"

    def interrupted(x: Any) -> Any:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        check_rule(interrupted, "mean", f=1, examples=2)


# K2: lazy shares are read inside the guard, and never beyond length + 1 entries.
def _lazy_raising(x: Any) -> Any:
    r, s = _share(x)

    def entries() -> Iterator[int]:
        yield from r[:-1]
        raise ValueError("lazy share failed")

    return entries(), s


def _pair_raising(x: Any) -> Any:
    def shares() -> Iterator[list[int]]:
        yield [0] * len(x)
        raise RuntimeError("second share unavailable")

    return shares()


LAZY: dict[str, Callable[[Any], Any]] = {
    "generator": _lazy_raising,
    "map": lambda x: (map(lambda v: 1 // 0, _share(x)[0]), _share(x)[1]),
    "pair generator": _pair_raising,
}


@pytest.mark.parametrize("kind", list(LAZY))
def test_a_lazy_share_that_raises_is_a_p3_1_failure(kind: str) -> None:
    with pytest.raises(ConformanceError) as info:
        check_sharing(LAZY[kind], examples=2)
    assert info.value.clause == "P3.1" and "reading it raised" in str(info.value.got)


class _Counting:
    """An iterator of zeros that counts how many entries were taken (up to ``limit``, where an
    endless one would hang)."""

    def __init__(self, limit: int = 10**5) -> None:
        self.taken, self.limit = 0, limit

    def __iter__(self) -> Iterator[int]:
        while self.taken < self.limit:
            self.taken += 1
            yield 0


def test_an_endless_share_is_read_for_at_most_one_entry_too_many() -> None:
    first, second = _Counting(), _Counting()
    with pytest.raises(ConformanceError) as info:
        check_sharing(lambda x: (first, second), examples=2)
    assert info.value.clause == "P3.1" and "longer than" in str(info.value.got)
    assert first.taken <= 257  # the longest x the check draws has 256 entries
    with pytest.raises(ConformanceError) as info:
        check_sharing(lambda x: (itertools.count(), itertools.count()), examples=2)
    assert info.value.clause == "P3.1"


def test_an_endless_share_of_d_is_read_for_at_most_one_row_too_many() -> None:
    rows = _Counting()
    with pytest.raises(ConformanceError) as info:
        check_distance_protocol(lambda a, b: ([[0] * len(a) for _ in rows], _Counting()))
    assert info.value.clause == "P5.1"
    endless = _Counting()
    with pytest.raises(ConformanceError) as info:
        check_distance_protocol(lambda a, b: (endless, endless))
    assert info.value.clause == "P5.1" and endless.taken <= 2 * 13


# K3: a bool is not a ring element.
BOOLS: dict[str, Callable[[Any], Any]] = {
    "appended": lambda x: (_share(x)[0] + [True], _share(x)[1] + [False]),
    "in place": lambda x: ([True, *_share(x)[0][1:]], _share(x)[1]),
    "numpy bool": lambda x: ([np.True_, *_share(x)[0][1:]], _share(x)[1]),
}


@pytest.mark.parametrize("kind", list(BOOLS))
def test_a_share_with_a_bool_entry_is_refused(kind: str) -> None:
    with pytest.raises(ConformanceError) as info:
        check_sharing(BOOLS[kind], examples=2)
    assert info.value.clause == "P3.1"


def test_a_share_of_d_with_a_bool_entry_is_refused() -> None:
    def protocol(x0: Any, x1: Any) -> Any:
        d0, d1 = _protocol(x0, x1)
        d0[0] = [True, *d0[0][1:]]
        return d0, d1

    with pytest.raises(ConformanceError) as info:
        check_distance_protocol(protocol)
    assert info.value.clause == "P5.1" and "bool" in str(info.value.got)


# K4: a masked entry is not an output, whatever the data under it.
def test_a_masked_rule_output_is_a_d6_1_failure() -> None:
    def rule(x: Any) -> Any:
        z = _mean(x)
        return np.ma.masked_array(z, mask=[True] * len(z))

    with pytest.raises(ConformanceError) as info:
        check_rule(rule, "mean", f=1, examples=2)
    assert info.value.clause == "D6.1" and "masked" in str(info.value.got)
    unmasked = check_rule(lambda x: np.ma.masked_array(_mean(x)), "mean", f=1, examples=2)
    assert unmasked.counts["vectors"] > 0


def test_a_masked_weight_output_is_a_failure() -> None:
    def weights(d: Any) -> Any:
        p = np.full(len(d), 1.0 / len(d))
        return np.ma.masked_array(p, mask=[False] * (len(d) - 1) + [True])

    with pytest.raises(ConformanceError) as info:
        check_weights(weights, "mean", f=1, examples=2)
    assert "masked" in str(info.value.got)


def test_masked_shares_are_refused() -> None:
    def share(x: Any) -> Any:
        r, s = _share(x)
        return np.ma.masked_array(np.array(r, dtype=np.uint64), mask=True), s

    with pytest.raises(ConformanceError) as info:
        check_sharing(share, examples=2)
    assert info.value.clause == "P3.1" and "masked" in str(info.value.got)

    def protocol(x0: Any, x1: Any) -> Any:
        d0, d1 = _protocol(x0, x1)
        return np.ma.masked_array(np.array(d0, dtype=np.uint64), mask=True), d1

    with pytest.raises(ConformanceError) as info:
        check_distance_protocol(protocol)
    assert info.value.clause == "P5.1" and "masked" in str(info.value.got)


def test_the_correct_protocol_of_these_tests_passes() -> None:
    # The mutated protocols above fail for what was changed, not for the base.
    check_distance_protocol(_protocol, examples=2)
