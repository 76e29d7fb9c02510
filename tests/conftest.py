"""Shared test configuration: Hypothesis profiles and the two implementation trees."""

from __future__ import annotations

import os
from types import ModuleType

import pytest
from hypothesis import HealthCheck, settings

import sbrml.optimized as opt
import sbrml.reference as ref

# `ci`: derandomized and bounded, for the default run; `thorough`: long searches.
settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile(
    "thorough",
    max_examples=1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)
settings.register_profile("dev", max_examples=10, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

TREES = {"reference": ref, "optimized": opt}


@pytest.fixture(params=sorted(TREES))
def impl(request: pytest.FixtureRequest) -> ModuleType:
    """Each spec test runs once per implementation tree."""
    return TREES[request.param]
