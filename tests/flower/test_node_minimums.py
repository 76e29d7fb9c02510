"""``min_available_nodes`` below the number Flower waits for (issue 17's final review, E4):
Flower's ``sample_nodes`` waits for max(min_available_nodes, sample size) nodes and samples at
least ``min_train_nodes`` (``min_evaluate_nodes`` when evaluating), so a smaller
``min_available_nodes`` would read as if a smaller federation would do; refused when built."""

from __future__ import annotations

from typing import Any

import pytest

from sbrml.core.errors import ParameterError
from sbrml.flower import SecureRobustStrategy


@pytest.mark.parametrize(
    ("kw", "condition"),
    [
        ({"min_train_nodes": 9, "min_available_nodes": 5}, ">= min_train_nodes (9)"),
        ({"min_evaluate_nodes": 9, "min_available_nodes": 7}, ">= min_evaluate_nodes (9)"),
        (
            {"min_evaluate_nodes": 9, "min_available_nodes": 7, "fraction_evaluate": 0.5},
            ">= min_evaluate_nodes (9)",
        ),
    ],
)
def test_fewer_available_nodes_than_sampled_are_refused(kw: dict[str, Any], condition: str) -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("krum", f=1, **kw)
    err = info.value
    assert (err.function, err.parameter, err.clause) == (
        "SecureRobustStrategy",
        "min_available_nodes",
        "D18.1",
    )
    assert condition in err.condition and err.got == repr(kw["min_available_nodes"])


def test_min_available_nodes_defaults_to_min_train_nodes() -> None:
    s = SecureRobustStrategy("krum", f=1, min_train_nodes=9)
    assert (s.min_train_nodes, s.min_available_nodes) == (9, 9)


def test_min_evaluate_nodes_does_not_count_without_evaluation() -> None:
    # FedAvg sets min_evaluate_nodes to 0 when fraction_evaluate is 0: nothing waits for it.
    s = SecureRobustStrategy(
        "krum", f=1, min_evaluate_nodes=9, min_available_nodes=7, fraction_evaluate=0.0
    )
    assert (s.min_available_nodes, s.min_evaluate_nodes) == (7, 0)


def test_equal_minimums_are_accepted() -> None:
    s = SecureRobustStrategy(
        "krum", f=1, min_train_nodes=9, min_evaluate_nodes=9, min_available_nodes=9
    )
    assert (s.min_train_nodes, s.min_evaluate_nodes, s.min_available_nodes) == (9, 9, 9)
