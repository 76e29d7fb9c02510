"""The rule library agrees across trees, in the clear and in the secure round.

Inputs are integer-valued so that float Gram distances (optimized) are exact like the
reference's rational ones: ties then break identically and selections must match exactly.
"""

from __future__ import annotations

import itertools
from types import ModuleType
from typing import Any

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.reference.rules import krum_scores
from sbrml.rulespec import build_rule
from tests.helpers import (
    DISTANCE_SPECS,
    EXACT_SPECS,
    PLAINTEXT_SPECS,
    as_list,
    decoded_inputs,
    feasible_f,
)
from tests.helpers.examples import budget

integer_points = st.integers(7, 9).flatmap(
    lambda n: st.integers(1, 3).flatmap(
        lambda d: st.lists(
            st.lists(st.integers(-60, 60).map(float), min_size=d, max_size=d),
            min_size=n,
            max_size=n,
        )
    )
)


def _run(tree: ModuleType, spec: str, f: int, x: list[list[float]], seed: int) -> Any:
    data = x if tree is ref else np.array(x)
    return as_list(build_rule(tree, spec, f)(data, rng=tree.DeterministicRandomSource(seed)))


@pytest.mark.spec("C9.2", "C10.3", "C11.3")
@pytest.mark.parametrize("spec", DISTANCE_SPECS + PLAINTEXT_SPECS)
@budget(130)
@given(x=integer_points, seed=st.integers(0, 2**32))
def test_plaintext_rules_agree(spec: str, x: list[list[float]], seed: int) -> None:
    f = feasible_f(spec, len(x))
    if spec.startswith("nnm+"):
        # NNM averages n - f points; with n - f = 8 the means stay exact in binary, so the
        # inner rule sees exact distances in both trees and ties break alike (C6.1 note).
        x = (x + x)[: max(8, len(x))]
        f = len(x) - 8
    if spec == "clip+krum":
        # Clipping rescales by c/||x||, which is rarely exact; skip inputs whose clipped points
        # leave two Krum scores within rounding of each other (C6.1's caveat).
        y = ref.StaticClipping(f).mix(x)
        scores = sorted(float(v) for v in krum_scores(ref.sq_distances(y), f))
        assume(all(b - a > 1e-9 * max(1.0, abs(b)) for a, b in itertools.pairwise(scores[:2])))
    a = _run(ref, spec, f, x, seed)
    b = _run(opt, spec, f, x, seed)
    assert b == pytest.approx(a, rel=1e-9, abs=1e-9)


@pytest.mark.spec("C8.11", "C8.5", "C7.3", "C10.3")
@pytest.mark.parametrize("spec", DISTANCE_SPECS)
@settings(max_examples=max(8, min(60, settings().max_examples // 3)))
@given(x=integer_points, seed=st.integers(0, 2**32))
def test_secure_rounds_agree(spec: str, x: list[list[float]], seed: int) -> None:
    x = [[v / 8 for v in row] for row in x]  # exact in fixed point: decoded inputs equal inputs
    f = feasible_f(spec, len(x))
    results = []
    for tree in (ref, opt):
        rule = build_rule(tree, spec, f)
        results.append(tree.secure_aggregate(x, rule, rng=tree.DeterministicRandomSource(seed)))
    r, o = results
    plain = build_rule(ref, spec, f).weights(
        ref.sq_distances(decoded_inputs(x)), rng=ref.DeterministicRandomSource(seed).derive("S1")
    )
    if spec in EXACT_SPECS:
        assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
        assert as_list(o.weights) == r.weights == plain
        assert as_list(o.z) == r.z
    else:
        before = [m for m in r.channel.messages if m.label != "weights"]
        assert len(before) == len([m for m in o.channel.messages if m.label != "weights"])
        assert np.allclose(as_list(o.weights), r.weights, rtol=1e-9, atol=1e-9)
        assert np.allclose(r.weights, plain, rtol=1e-9, atol=1e-9)
        assert np.allclose(as_list(o.z), r.z, rtol=1e-6, atol=1e-6)
