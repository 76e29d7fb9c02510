"""C6.9 and C9.7: finite inputs of any magnitude give finite aggregates in both trees.

Issue 13, item 8: ``[[1.5e308, k] for k in 1..4]`` with f = 1 gave inf from the optimized mean,
median, trimmed mean and Meamed (and the reference median), and raw OverflowErrors from the
reference mean, trimmed mean and Meamed; the geometric median of a 1e300 row raised
ZeroDivisionError in the reference. Warnings are errors here: no overflow may be left behind.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import SpecError
from sbrml.rulespec import build_rule
from tests.helpers import as_list

pytestmark = pytest.mark.filterwarnings("error")

N = 7
ISSUE = [[1.5e308, float(k)] for k in range(1, 5)]
# Inputs near the float limits, spaced unevenly (k^2) so that no selection is a near tie.
CASES = {
    "issue": ISSUE,
    "near-max": [[1.5e308, float(k * k)] for k in range(1, N + 1)],
    "both-signs": [[(-1) ** k * 1.7e308, k * k * 3e306] for k in range(N)],
    "norm-beyond-max": [[1.7e308, 1.7e308 - k * k * 1e306] for k in range(N)],
    "ulps-apart": [[1.7e308 - k * 2.0**971, -1.7e308 + (k * k % 5) * 2.0**971] for k in range(N)],
    "one-1e300-row": [[1e300, -1e300]] + [[float(k * k), 2.0 * k] for k in range(1, N)],
    "1e-300": [[k * k * 1e-300, -k * 2e-300] for k in range(1, N + 1)],
    "subnormal": [[k * k * 5e-324, (N - k) * 5e-324] for k in range(N)],
}
SPECS = [
    *ref.RULES,
    *(
        f"{pre}+{rule}"
        for pre in ref.PREAGGREGATIONS
        for rule in ("mean", "krum", "median", "geomed")
    ),
]


def _run(tree: ModuleType, spec: str, x: list[list[float]]) -> Any:
    """The aggregate as a float array, or (error class, clause) for a SpecError."""
    try:
        rule = build_rule(tree, spec, 1)
        out = rule(x if tree is ref else np.array(x), rng=tree.DeterministicRandomSource(3))
    except SpecError as err:
        return (type(err).__name__, err.clause)
    return np.asarray(as_list(out), dtype=np.float64)


@pytest.mark.spec("C6.9", "C9.7")
@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("spec", SPECS)
def test_every_rule_gives_the_same_finite_aggregate(spec: str, case: str) -> None:
    x = CASES[case]
    a, b = _run(ref, spec, x), _run(opt, spec, x)
    if isinstance(a, tuple) or isinstance(b, tuple):
        assert a == b  # the same refusal (class and clause) in both trees
        return
    assert np.isfinite(a).all() and np.isfinite(b).all()
    top = max(abs(v) for row in x for v in row)
    assert np.max(np.abs(a - b)) <= 1e-9 * top


@pytest.mark.spec("C6.9", "C9.7")
def test_issue_example_has_the_exact_aggregates(impl: ModuleType) -> None:
    x = ISSUE if impl is ref else np.array(ISSUE)
    for rule in (impl.Mean(1), impl.CoordinateMedian(1), impl.TrimmedMean(1), impl.Meamed(1)):
        got = as_list(rule(x))
        assert got[0] == 1.5e308
        assert got[1] == (2.0 if rule.name == "meamed" else 2.5)


@pytest.mark.spec("C6.9")
def test_geometric_median_beside_a_1e300_row(impl: ModuleType) -> None:
    x = [[1e300, 0.0], [1.0, 2.0], [2.0, 1.0], [1.5, 1.5], [1.0, 1.0]]
    z, report = impl.GeometricMedian(1).run(x if impl is ref else np.array(x))
    assert all(np.isfinite(as_list(z))) and report.spread > 1e299
    # The weight of the far row shrinks with each step; the others hold the output near 1.3.
    far = impl.GeometricMedian(1, tol=1e-300, max_iter=50)
    assert abs(as_list(far(x if impl is ref else np.array(x)))[1] - 1.375) < 0.01
    # On distances: D holds 1e600, beyond the float range (the reference's exact D).
    if impl is ref:
        w = impl.GeometricMedian(1).weights(impl.sq_distances(x))
        assert all(np.isfinite(w)) and w[0] < 1e-10 and sum(w) == pytest.approx(1.0)


@pytest.mark.spec("C9.7")
def test_middle_values_and_gaps_beyond_the_float_range(impl: ModuleType) -> None:
    # Median of an even count: (a + b)/2 overflows, a/2 + b/2 does not.
    two = [[1.7e308], [1.7e308], [-1.0], [1.6e308]]
    assert as_list(impl.CoordinateMedian(1)(two if impl is ref else np.array(two))) == [
        1.7e308 / 2 + 1.6e308 / 2
    ]
    # Meamed, f = 1: median 1.2e308; the gaps of -1.7e308 and -1.6e308 both overflow. Halved,
    # the farther one (-1.7e308, the lower index) is dropped; as inf they tied and it stayed.
    col = [[-1.7e308], [-1.6e308], [1.2e308], [1.3e308], [1.7e308]]
    got = as_list(impl.Meamed(1)(col if impl is ref else np.array(col)))
    assert got == [pytest.approx(0.65e308, rel=1e-15)]  # (-1.6 + 1.2 + 1.3 + 1.7) / 4


@pytest.mark.spec("C6.9")
def test_static_clipping_of_a_norm_beyond_the_range(impl: ModuleType) -> None:
    # ||(1.7e308, 1.7e308)|| = 2.4e308 is beyond the float range: the row became 0.
    x = [[1.7e308, 1.7e308], [3.0, 4.0]]
    got = [as_list(r) for r in impl.StaticClipping(c=1.0).mix(x if impl is ref else np.array(x))]
    assert got == [pytest.approx([0.5**0.5] * 2, rel=1e-15), pytest.approx([0.6, 0.8])]


@pytest.mark.parametrize("n", [7, 8])
def test_a_rule_on_int_rows_returns_floats_in_both_trees(n: int) -> None:
    # The reference median of an odd count of ints returned that int (issue 17's notes).
    x = [[k * k, 3 * k - 7] for k in range(n)]
    for spec in [*ref.RULES, "nnm+median", "clip+median", "nnm+krum"]:
        out = build_rule(ref, spec, 1)(x)
        assert all(type(v) is float for v in out), (spec, out)
        assert np.asarray(build_rule(opt, spec, 1)(x)).dtype == np.float64, spec
