"""C8.15 and C8.11 for a rule that is not in the library: a caller's own rule object."""

from __future__ import annotations

from types import ModuleType

import pytest

from sbrml.core.errors import ParameterError
from tests.helpers import as_list

X = [[float(i), float(-i)] for i in range(5)]


@pytest.mark.spec("C8.15")
def test_a_rule_of_ones_own_with_a_distance_form_runs_with_distances_only(
    impl: ModuleType,
) -> None:
    class OwnKrum(impl.Krum):  # type: ignore[name-defined,misc]
        name = "own-krum"

    result = impl.secure_aggregate(X, OwnKrum(1), rng=impl.DeterministicRandomSource(0))
    library = impl.secure_aggregate(X, impl.Krum(1), rng=impl.DeterministicRandomSource(0))
    assert (result.leakage, result.rule) == ("distances", "own-krum")
    assert as_list(result.z) == as_list(library.z)
    # Hiding D is proved for the library's Krum (P22.5), not for a rule the caller wrote.
    for leakage in ("index", "output"):
        with pytest.raises(ParameterError) as info:
            impl.secure_aggregate(
                X, OwnKrum(1), rng=impl.DeterministicRandomSource(0), leakage=leakage
            )
        assert (info.value.clause, info.value.parameter) == ("C8.15", "leakage")


@pytest.mark.spec("C8.11")
def test_a_rule_of_ones_own_without_a_distance_form_does_not_run_on_shares(
    impl: ModuleType,
) -> None:
    # P22.2 runs the library's coordinate-wise rules on shares; a renamed one is not one of them.
    median = impl.RULES["median"](1)
    median.name = "own-median"
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(X, median, rng=impl.DeterministicRandomSource(0))
    assert (info.value.clause, info.value.parameter) == ("C8.11", "rule")
