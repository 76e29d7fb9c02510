"""What each server receives in a round with range validation and rules on shares is uniform
(spec C8.7, C8.14, C21.3, C22.2): the openings of range validation, of the comparisons, of
the Beaver products, the AND layers' planes and the daBit openings, on structured inputs
(zeros, identical rows, a ramp) that would show through any unmasked value."""

from __future__ import annotations

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml.rulespec import build_rule
from tests.statistical.test_uniformity import assert_uniform_u64, received

# Ring openings and planes: with lane counts that are multiples of 64, every plane bit is a
# lane's bit, so the words are uniform too (padding bits, always 0, would bias them).
LABELS = {"range/open", "cmp/open", "beaver/open", "cmp/and", "cmp/b2a", "offline/masks"}
N, D = 8, 64 * 8


def inputs(kind: str) -> np.ndarray:
    if kind == "zeros":
        return np.zeros((N, D))
    if kind == "identical":
        return np.ones((N, D))
    return np.linspace(-1, 1, N * D).reshape(N, D)


@pytest.mark.spec("C8.7", "C21.3", "C22.2")
@pytest.mark.parametrize("kind", ["zeros", "identical", "ramp"])
@pytest.mark.parametrize(
    ("name", "leakage"), [("median", None), ("meamed", None), ("krum", "output"), ("mean", None)]
)
@pytest.mark.parametrize("server", ["S0", "S1"])
def test_each_server_view_is_uniform(
    kind: str, name: str, leakage: str | None, server: str
) -> None:
    rule = build_rule(opt, name, 0 if name == "mean" else 2)
    result = opt.secure_aggregate(
        inputs(kind), rule, rng=opt.DeterministicRandomSource(11), leakage=leakage
    )
    # Krum's rank comparisons have v(v-1)/2 lanes per group, not a multiple of 64: its
    # planes carry zero padding, so only its ring openings are tested here.
    labels = LABELS if name != "krum" else {"range/open", "cmp/open", "beaver/open"}
    view = received(result.channel.messages, server, labels)
    assert_uniform_u64(view, f"{server} view of {name} ({kind})")
