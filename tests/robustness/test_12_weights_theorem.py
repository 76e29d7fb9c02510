"""C6.1 for every distance rule and composition: rule(x) == sum_i weights(D(x))_i x_i."""

from __future__ import annotations

from types import ModuleType

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.rulespec import build_rule
from tests.helpers import DISTANCE_SPECS, as_list, feasible_f
from tests.helpers.examples import budget

# Quarter-integers: float Gram distances of these (and of bucket and neighbour means) are
# exact, so near-ties cannot break differently in rule(x) and in weights(D) (C6.1).
quarters = st.integers(-400, 400).map(lambda v: v / 4)
points = st.integers(6, 10).flatmap(
    lambda n: st.integers(1, 3).flatmap(
        lambda d: st.lists(st.lists(quarters, min_size=d, max_size=d), min_size=n, max_size=n)
    )
)


@pytest.mark.spec("C6.1", "C11.6", "C10.3")
@pytest.mark.parametrize("spec", DISTANCE_SPECS)
@pytest.mark.parametrize("tree", [ref, opt], ids=["reference", "optimized"])
@budget(100)
@given(x=points, seed=st.integers(0, 2**32))
def test_rule_equals_its_weights(
    spec: str, tree: ModuleType, x: list[list[float]], seed: int
) -> None:
    if spec in ("mda", "smea") and len(x) > 8:
        x = x[:8]
    f = feasible_f(spec, len(x))
    if spec.startswith("nnm+") and "mean" not in spec:
        # NNM averages n - f points; with n - f = 8 the means stay exact in binary, so the
        # selection after it sees exact distances in both paths and ties break alike.
        x = (x + x)[: max(8, len(x))]
        f = len(x) - 8
    rule = build_rule(tree, spec, f)
    data = x if tree is ref else np.array(x)
    z = np.asarray(as_list(rule(data, rng=tree.DeterministicRandomSource(seed))), dtype=np.float64)
    p = np.asarray(
        as_list(rule.weights(tree.sq_distances(data), rng=tree.DeterministicRandomSource(seed)))
    )
    assert p.sum() == pytest.approx(1.0, abs=1e-12)
    scale = max(1.0, float(np.abs(np.asarray(x)).max()))
    tol = 1e-9 * scale if "geomed" in spec else 1e-12 * scale
    assert np.max(np.abs(p @ np.asarray(x) - z)) <= tol
