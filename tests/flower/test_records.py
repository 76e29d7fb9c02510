"""Flower records as rows (sbrml.flower.records): the global model's layout is kept, and a
record that is not such a row is refused with the clause (D8.1, C1.1), never the value."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from flwr.app import Array, ArrayRecord

from sbrml.core.errors import EncodingError, ShapeError
from sbrml.flower.records import Template

MODEL = ArrayRecord(
    {"w": Array(np.arange(6.0).reshape(2, 3)), "b": Array(np.arange(2, dtype=np.int32))}
)


def test_flatten_is_c_order_in_record_order_and_unflatten_inverts_it() -> None:
    template = Template.of(MODEL)
    assert template == Template(("w", "b"), ((2, 3), (2,)), ("float64", "int32"))
    vector = template.flatten(MODEL)
    assert vector.dtype == np.float64 and vector.tolist() == [0, 1, 2, 3, 4, 5, 0, 1]
    back = template.unflatten(vector)
    assert [a.dtype for a in back.values()] == ["float64", "int32"]
    assert np.array_equal(back["w"].numpy(), MODEL["w"].numpy())


@pytest.mark.spec("D8.1")
@pytest.mark.parametrize(
    "arrays",
    [ArrayRecord(), ArrayRecord({"flag": Array(np.array([True, False]))}), [np.zeros(2)]],
)
def test_a_template_needs_a_nonempty_numeric_record(arrays: Any) -> None:
    with pytest.raises(ShapeError) as info:
        Template.of(arrays)
    assert info.value.clause == "D8.1"


@pytest.mark.spec("D8.1")
@pytest.mark.parametrize(
    ("arrays", "text"),
    [
        ({"b": np.zeros(2), "w": np.zeros((2, 3))}, "the arrays ['w', 'b']"),  # another order
        ({"w": np.zeros((3, 2)), "b": np.zeros(2)}, "'w' of shape (2, 3)"),
        ({"w": np.zeros((2, 3)), "b": np.array([True, False])}, "'b' of a numeric dtype"),
    ],
)
def test_another_layout_is_refused_naming_it(arrays: dict[str, Any], text: str) -> None:
    record = ArrayRecord({k: Array(v) for k, v in arrays.items()})
    with pytest.raises(ShapeError) as info:
        Template.of(MODEL).flatten(record, "aggregate_train")
    assert text in str(info.value) and str(info.value).startswith("aggregate_train: arrays")


@pytest.mark.spec("C1.1")
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_a_non_finite_value_is_refused_without_saying_which(bad: float) -> None:
    w = np.zeros((2, 3))
    w[1, 2] = bad
    record = ArrayRecord({"w": Array(w), "b": Array(np.zeros(2, dtype=np.int32))})
    with pytest.raises(EncodingError) as info:
        Template.of(MODEL).flatten(record)
    assert info.value.clause == "C1.1" and "[1, 2]" not in str(info.value)


def test_unflatten_needs_a_vector_of_length_d() -> None:
    with pytest.raises(ShapeError) as info:
        Template.of(MODEL).unflatten(np.zeros(7))
    assert "length 8" in str(info.value)
    with pytest.raises(ShapeError):
        Template.of(MODEL).flatten([np.zeros(8)])  # type: ignore[arg-type]


def test_without_flower_the_package_names_its_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib
    import sys

    from sbrml.extras import MissingExtraError

    monkeypatch.setitem(sys.modules, "flwr", None)  # as if Flower were not installed
    for name in [m for m in sys.modules if m == "sbrml.flower" or m.startswith("sbrml.flower.")]:
        monkeypatch.delitem(sys.modules, name)
    with pytest.raises(MissingExtraError) as info:
        importlib.import_module("sbrml.flower")
    assert str(info.value) == (
        "sbrml.flower needs the 'flower' extra: pip install 'sbrml[flower]' (missing: flwr)"
    )
