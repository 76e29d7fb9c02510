"""Values Python will not print (issue 17's final review, E3): an int beyond the decimal digit
limit (4,300 digits) passed to the strategy is refused with its ParameterError, naming the
parameter and the clause, never a bare ValueError or OverflowError from the error message
itself (``sbrml.core.errors.shown``)."""

from __future__ import annotations

from typing import Any

import pytest

from sbrml.core.errors import ParameterError, ShapeError
from sbrml.flower import SecureRobustStrategy, Template
from tests.flower.federation import strategy

HUGE = 10**5000  # beyond sys.get_int_max_str_digits(): repr(HUGE) raises ValueError
SHOWN = "an int of 16610 bits"


@pytest.mark.parametrize(
    ("rule", "kw", "parameter", "clause"),
    [
        ("krum", {"f": HUGE}, "f", "C8.4"),
        ("multikrum", {"hyperparameters": {"m": HUGE}}, "hyperparameters", "C8.4"),
        ("bucketing+krum", {"hyperparameters": {"s": HUGE}}, "hyperparameters", "C8.4"),
        ("multikrum", {"hyperparameters": {HUGE: 1}}, "hyperparameters", "D6.7"),
        ("krum", {"mode": HUGE}, "mode", "D18.1"),
        ("krum", {"leakage": HUGE}, "leakage", "C8.15"),
        ("krum", {"mode": "plaintext", "leakage": HUGE}, "leakage", "D18.1"),
        ("krum", {"server_lr": HUGE}, "server_lr", "D18.1"),
        ("krum", {"fraction_train": HUGE}, "fraction_train", "D18.1"),
        ("krum", {"fraction_evaluate": HUGE}, "fraction_evaluate", "D18.1"),
        ("krum", {"min_train_nodes": HUGE}, "min_train_nodes", "D18.1"),
        ("krum", {"min_available_nodes": HUGE}, "min_available_nodes", "D18.1"),
        ("krum", {"min_evaluate_nodes": HUGE}, "min_evaluate_nodes", "D18.1"),
        ("krum", {"weighted_by_key": HUGE}, "weighted_by_key", "D18.1"),
        ("krum", {"unknown": HUGE}, "unknown", "D18.1"),
    ],
)
def test_a_huge_int_is_refused_with_its_parameter_and_clause(
    rule: str, kw: dict[str, Any], parameter: str, clause: str
) -> None:
    kw = dict(kw)
    f = kw.pop("f", 1)
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=f, **kw)
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("SecureRobustStrategy", parameter, clause)
    str(err)  # the message itself prints


@pytest.mark.parametrize("key", ["f", "server_lr", "fraction_train", "min_train_nodes", "mode"])
def test_the_huge_int_is_shown_by_its_size(key: str) -> None:
    with pytest.raises(ParameterError) as info:
        kw: dict[str, Any] = {"f": 1, key: HUGE}
        SecureRobustStrategy("krum", **kw)
    assert SHOWN in str(info.value)


@pytest.mark.parametrize("stage", ["aggregate_train", "aggregate_evaluate"])
def test_a_huge_round_number_is_refused(stage: str) -> None:
    s = strategy("median", 1, 7)
    with pytest.raises(ParameterError) as info:
        getattr(s, stage)(HUGE, [])
    assert (info.value.parameter, info.value.clause) == ("server_round", "D18.1")
    assert SHOWN in str(info.value)


class Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


def test_a_template_of_an_unprintable_object_is_a_shape_error() -> None:
    with pytest.raises(ShapeError) as info:
        Template.of(Unprintable())  # type: ignore[arg-type]
    assert info.value.clause == "D8.1" and "Unprintable" in str(info.value)
