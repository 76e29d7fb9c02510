"""check_rule and check_weights catch the float shortcuts of the second adversarial review
(issue 17, A5): Krum on float32 distances, by the Gram identity, or on distances rescaled
by their largest entry, and weights from D in float32 (C6.8); a failure on a tie names C6.4,
one in ByzFL's convention C6.6 (N1, N6); a fixed case says how to rebuild it (N2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from sbrml.testing.checks import ConformanceError, check_rule, check_weights
from sbrml.testing.fixed_cases import grid, points
from tests.testing.implementations import krum, krum_ties_to_the_last, krum_weights

F = 1


def _krum_from(x: Any, d: Any, f: int = F) -> Any:
    n = len(x)
    scores = [np.sort(d[i][np.arange(n) != i])[: n - f - 2].sum() for i in range(n)]
    return np.asarray(x[int(np.argmin(scores))], dtype=np.float64)


def krum_float32(x: Any) -> Any:
    y = np.asarray(x).astype(np.float32)
    return _krum_from(x, ((y[:, None, :] - y[None, :, :]) ** 2).sum(-1))


def krum_gram(x: Any) -> Any:
    x = np.asarray(x)
    g = x @ x.T
    s = np.diag(g)
    return _krum_from(x, np.maximum(s[:, None] + s[None, :] - 2 * g, 0))


def krum_rescaled(x: Any) -> Any:
    x = np.asarray(x)
    d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    return _krum_from(x, np.round(d / d.max(), 12) if d.max() > 0 else d)


def weights_float32(d: Any) -> Any:
    d = np.asarray(d).astype(np.float32)
    n = len(d)
    scores = [np.sort(np.delete(d[i], i))[: n - F - 2].sum() for i in range(n)]
    p = np.zeros(n)
    p[int(np.argmin(scores))] = 1.0
    return p


@pytest.mark.spec("C6.8")
@pytest.mark.parametrize("fn", [krum_float32, krum_gram, krum_rescaled])
def test_a_krum_taking_a_float_shortcut_fails_c6_8(fn: Any) -> None:
    with pytest.raises(ConformanceError) as info:
        check_rule(fn, "krum", f=F, examples=10)
    assert info.value.clause == "C6.8"


@pytest.mark.spec("C6.8")
def test_weights_from_a_float32_d_fail_c6_8() -> None:
    with pytest.raises(ConformanceError) as info:
        check_weights(weights_float32, "krum", f=F, examples=10)
    assert info.value.clause == "C6.8"


def test_a_correct_float64_krum_passes_the_hard_cases() -> None:
    checked = check_rule(krum(F, 2), "krum", f=F, examples=5)
    assert checked.counts["hard inputs (C6.8)"] == 5
    checked = check_weights(krum_weights(F, 2), "krum", f=F, examples=5)
    assert checked.counts["hard matrices (C6.8)"] == 2


@pytest.mark.spec("C6.6")
def test_a_wrong_krum_in_byzfl_convention_is_labelled_c6_6() -> None:
    with pytest.raises(ConformanceError) as info:
        check_rule(krum(F, 2), "krum", f=F, convention="byzfl", examples=5)
    assert info.value.clause == "C6.6"
    with pytest.raises(ConformanceError) as info:
        check_weights(krum_weights(F, 2), "krum", f=F, convention="byzfl", examples=5)
    assert info.value.clause == "C6.6"


def test_a_fixed_case_is_rebuilt_by_the_expression_in_the_message() -> None:
    with pytest.raises(ConformanceError) as info:
        check_rule(krum_ties_to_the_last(F), "krum", f=F, vectors=False, examples=1)
    message = str(info.value)
    expr = message.split("x = grid(")[1].split(") (from")[0]
    x = eval(f"grid({expr})", {"grid": grid, "points": points})
    assert x.tolist() == info.value.case  # the whole input, where the message shortens it
