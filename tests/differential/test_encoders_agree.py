"""Both trees' encoders refuse the same values with the same class and clause (C1.6, spec 0).

The review of issue 13 (its F10) found list rows on which the trees parted: ``[10**400, 1.0]``
raised a raw ``OverflowError`` in the reference's ``secure_aggregate``, ``masked_aggregate``
and ``encrypted_average`` (and the optimized ``encrypted_average``) where the optimized
``secure_aggregate`` excluded the worker; ``[True, 1.0]`` and NumPy float32 values were refused
by the reference and encoded by the optimized tree; ``["1.0", 2.0]`` was encrypted as 1.0 by
the optimized ``encrypted_average``; ``[2**70, 1.0]`` cited C1.2 in the reference and C1.1
in the optimized tree.
"""

from __future__ import annotations

import decimal
import fractions
import functools
import re
from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.optimized import he_averaging as opt_he
from sbrml.optimized import mask_protocol as opt_mp
from sbrml.optimized import paillier as opt_p
from sbrml.optimized.mask_protocol import encode_input as opt_mask_encode
from sbrml.optimized.mask_protocol import mask_input as opt_mask_input
from sbrml.optimized.packing import Packing as OptPacking
from sbrml.reference import he_averaging as ref_he
from sbrml.reference import mask_protocol as ref_mp
from sbrml.reference.mask_vectors import encode_input as ref_mask_encode
from sbrml.reference.mask_vectors import mask_input as ref_mask_input
from sbrml.reference.packing import Packing as RefPacking
from sbrml.rulespec import build_rule

KEY = opt_p.generate_keypair(256, rng=opt.DeterministicRandomSource(11), insecure_test=True)
GOOD = [[1.0, -2.0], [0.25, 3.0], [2.0, 2.0], [-1.5, 0.0], [0.0, 1.0], [1.0, 1.0]]

# (first value of a row [value, 1.0], what both trees must do: None = accept, else the clause)
VALUES: list[tuple[str, Any, str | None]] = [
    ("int beyond the floats", 10**400, "C1.2"),
    ("negative int beyond the floats", -(10**400), "C1.2"),
    # float() rounds ints from 2^1024 - 2^970 up to 2^1024 and overflows: a search for
    # |v| >= 2^1024 found no such int and raised StopIteration (the optimized tree, F10's kind).
    ("int rounding up to 2^1024", 2**1024 - 2**970, "C1.2"),
    ("negative int rounding up to 2^1024", -(2**1024 - 2**970), "C1.2"),
    ("int rounding down to the float maximum", 2**1024 - 2**970 - 1, "C1.2"),
    ("int beyond the ring", 2**70, "C1.2"),
    ("bool", True, "C1.1"),
    ("numpy bool", np.bool_(True), "C1.1"),
    ("string", "1.0", "C1.1"),
    ("None", None, "C1.1"),
    ("complex", 1j, "C1.1"),
    ("fraction", fractions.Fraction(1, 3), "C1.1"),
    ("decimal", decimal.Decimal("1.5"), "C1.1"),
    ("nan", float("nan"), "C1.1"),
    ("float beyond the ring", 1e300, "C1.2"),
    ("numpy float32", np.float32(1.5), None),
    ("numpy float16", np.float16(0.5), None),
    ("numpy int64", np.int64(3), None),
    ("numpy uint8", np.uint8(3), None),
    ("numpy float64", np.float64(1.5), None),
    ("int", 3, None),
]
IDS = [name for name, _, _ in VALUES]


def outcome(fn: Callable[[], Any]) -> tuple[str, str | None]:
    """("ok", None), or (error class, clause); any other exception fails the test."""
    try:
        fn()
    except ValueError as err:  # SpecError is a ValueError; a bare one fails below
        clause = getattr(err, "clause", None)
        assert clause is not None, f"a raw {type(err).__name__}: {err}"
        return type(err).__name__, clause
    return "ok", None


def _expected(clause: str | None) -> tuple[str, str | None]:
    if clause is None:
        return "ok", None
    return ("EncodingError" if clause == "C1.2" else "ShapeError"), clause


@pytest.mark.spec("C1.6", "C1.1", "C1.2")
@pytest.mark.parametrize(("name", "value", "clause"), VALUES, ids=IDS)
def test_encoders_agree_on_a_value(name: str, value: Any, clause: str | None) -> None:
    row = [value, 1.0]
    encoders: dict[str, tuple[Callable[[], Any], Callable[[], Any]]] = {
        "encode": (lambda: ref.encode(row), lambda: opt.encode(row)),
        "pack": (lambda: RefPacking(256, 6).pack(row), lambda: OptPacking(256, 6).pack(row)),
        "mask encode": (
            lambda: ref_mask_encode(row, 16, 6),
            lambda: opt_mask_encode(row, 16, 6),
        ),
        "mask input": (
            lambda: ref_mask_input(row, 16, 6, []),
            lambda: opt_mask_input(row, 16, 6, []),
        ),
    }
    for label, (in_ref, in_opt) in encoders.items():
        got_ref, got_opt = outcome(in_ref), outcome(in_opt)
        assert got_ref == got_opt, label
        want = _expected(clause)
        if name == "nan":  # a non-finite value is an EncodingError citing C1.1
            want = ("EncodingError", "C1.1")
        assert got_ref == want, label


def _excluded(result: Any) -> dict[int, str]:
    return dict(result.excluded)


def _calls(tree: ModuleType, he: ModuleType, mp: ModuleType, x: Any) -> dict[str, Any]:
    rng = tree.DeterministicRandomSource
    return {
        "secure_aggregate": lambda: tree.secure_aggregate(x, tree.Krum(1), rng=rng(1)),
        "masked_aggregate": lambda: mp.masked_aggregate(x, t=3, rng=rng(1)),
        "encrypted_average": lambda: he.encrypted_average(
            x, public=KEY[0], private=KEY[1], rng=rng(1)
        ),
    }


@pytest.mark.spec("C1.6", "C0.1")
@pytest.mark.parametrize(("name", "value", "clause"), VALUES, ids=IDS)
def test_protocols_exclude_the_same_worker(name: str, value: Any, clause: str | None) -> None:
    """A worker whose list row holds the value is excluded by both trees' protocols, with
    the same clause in the published reason; the other workers' rounds complete (an int
    that rounds up to 2^1024 raised StopIteration in the optimized protocols)."""
    x = [*GOOD[:2], [value, 1.0], *GOOD[2:]]
    ref_calls = _calls(ref, ref_he, ref_mp, x)
    opt_calls = _calls(opt, opt_he, opt_mp, x)
    want = "C1.1" if name == "nan" else clause
    for label, call in ref_calls.items():
        got = {}
        for tree, fn in (("reference", call), ("optimized", opt_calls[label])):
            excluded = _excluded(fn())
            got[tree] = {i: re.findall(r"\((C\d+\.\d+)\)", r) for i, r in excluded.items()}
        assert got["reference"] == got["optimized"], label
        assert got["reference"] == ({2: [want]} if want else {}), label


def _run(tree: ModuleType, spec: str, x: Any) -> Any:
    return build_rule(tree, spec, 1)(x)


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize(("name", "value", "clause"), VALUES, ids=IDS)
@pytest.mark.parametrize("spec", ["mean", "median", "krum", "cc", "nnm+krum", "clip+mean"])
def test_rules_read_list_rows_alike(name: str, value: Any, clause: str | None, spec: str) -> None:
    """D6.1 on rows given as lists: the same class and clause in both trees (a bool was 1.0
    to the optimized tree; 2**70 was refused by it as non-numeric; 2**1024 - 2**970 gave a
    StopIteration)."""
    x = [*GOOD[:2], [value, 1.0], *GOOD[2:]]
    got = [outcome(functools.partial(_run, tree, spec, x)) for tree in (ref, opt)]
    assert got[0] == got[1]
    if isinstance(value, bool | np.bool_ | str) or value is None:
        assert got[0] == ("ShapeError", "D6.1")
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) < 2**1000:
        assert got[0] == ("ok", None)


@pytest.mark.spec("C1.6")
def test_arrays_are_taken_by_dtype() -> None:
    """The optimized tree takes an array by its dtype (float32 accepted, bool refused) and the
    reference its elements alike: a float32 row gives the same ring elements in both."""
    row = np.array([1.5, -0.25], dtype=np.float32)
    assert list(map(int, opt.encode(row))) == ref.encode(list(row))
    flags: Any = np.array([True, False])
    for encode in (ref.encode, opt.encode):
        assert outcome(functools.partial(encode, flags)) == ("ShapeError", "C1.1")
