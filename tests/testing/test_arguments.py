"""Every check helper refuses a bad argument before it runs a case: KitArgumentError (a
ValueError) naming the helper, the parameter and the value, never a raw traceback from
Hypothesis or NumPy, and never a vacuous pass (issue 17, second review, A7 and N5)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from sbrml.testing.arguments import KitArgumentError
from sbrml.testing.checks import (
    ConformanceError,
    check_distance_protocol,
    check_paillier,
    check_rule,
    check_sharing,
    check_weights,
)


def _never(*args: Any) -> Any:
    raise AssertionError("a check ran the function before checking its arguments")


def _mean(x: Any) -> Any:
    return np.mean(x, axis=0)


def _flag_call(check: str, option: str, value: Any) -> Callable[[], Any]:
    """check_rule or check_weights called with ``option=value``."""
    if check == "rule":
        return lambda: check_rule(_never, "mean", f=0, **{option: value})
    return lambda: check_weights(_never, "krum", f=1, **{option: value})


BAD: list[tuple[str, Callable[[], Any], str]] = [
    ("sharing bits=0", lambda: check_sharing(_never, bits=0), "bits"),
    ("sharing bits=-3", lambda: check_sharing(_never, bits=-3), "bits"),
    ("sharing bits=1.5", lambda: check_sharing(_never, bits=1.5), "bits"),  # type: ignore[arg-type]
    ("sharing examples=0", lambda: check_sharing(_never, examples=0), "examples"),
    ("sharing examples=-1", lambda: check_sharing(_never, examples=-1), "examples"),
    ("sharing samples=0", lambda: check_sharing(_never, samples=0), "samples"),
    ("sharing alpha=0", lambda: check_sharing(_never, alpha=0), "alpha"),
    ("sharing share=None", lambda: check_sharing(None), "share"),  # type: ignore[arg-type]
    ("distance frac_bits=-1", lambda: check_distance_protocol(_never, frac_bits=-1), "frac_bits"),
    ("distance frac_bits=100", lambda: check_distance_protocol(_never, frac_bits=100), "frac_bits"),
    ("distance samples=0", lambda: check_distance_protocol(_never, samples=0), "samples"),
    ("paillier examples=0", lambda: check_paillier(_never, examples=0), "examples"),
    ("paillier encrypt=None", lambda: check_paillier(None), "encrypt"),  # type: ignore[arg-type]
    ("rule name=None", lambda: check_rule(_never, None, f=1), "name"),  # type: ignore[arg-type]
    ("rule name=123", lambda: check_rule(_never, 123, f=1), "name"),  # type: ignore[arg-type]
    ("rule f=-1", lambda: check_rule(_never, "mean", f=-1), "f"),
    ("rule f=10^9", lambda: check_rule(_never, "krum", f=10**9), "f"),
    ("weights f=21", lambda: check_weights(_never, "krum", f=21), "f"),
    ("rule f='1'", lambda: check_rule(_never, "mean", f="1"), "f"),  # type: ignore[arg-type]
    ("rule examples=0", lambda: check_rule(_never, "mean", f=1, examples=0), "examples"),
    ("rule krum m=3", lambda: check_rule(_never, "krum", f=1, m=3), "m=3"),
    ("rule geomed eps=-1", lambda: check_rule(_never, "geomed", f=1, eps=-1), "eps=-1"),
    ("rule multikrum m=100", lambda: check_rule(_never, "multikrum", f=1, m=100), "m <= n"),
    ("rule krum convention", lambda: check_rule(_never, "krum", f=1, convention="x"), "C6.6"),
    ("rule rtol=inf", lambda: check_rule(_never, "krum", f=1, rtol=float("inf")), "rtol"),
    ("rule rtol=10", lambda: check_rule(_never, "mean", f=1, rtol=10), "rtol"),
    ("weights f=-1", lambda: check_weights(_never, "krum", f=-1), "f"),
    ("weights fn=None", lambda: check_weights(None, "krum", f=1), "fn"),  # type: ignore[arg-type]
    # Issue 17, the verification review's F5: every boolean option a real bool, every count
    # bounded, and no combination of options that leaves nothing to check.
    *[
        (f"{label} {option}={value!r}", _flag_call(label, option, value), option)
        for label in ("rule", "weights")
        for option in ("vectors", "generated", "as_lists")
        for value in (5, "no", None, 1)
    ],
    ("rule robustness=0", _flag_call("rule", "robustness", 0), "robustness"),
    ("sharing as_arrays='no'", lambda: check_sharing(_never, as_arrays="no"), "as_arrays"),  # type: ignore[arg-type]
    ("distance as_arrays=1", lambda: check_distance_protocol(_never, as_arrays=1), "as_arrays"),  # type: ignore[arg-type]
    ("paillier randomized='yes'", lambda: check_paillier(_never, randomized="yes"), "randomized"),  # type: ignore[arg-type]
    ("paillier randomized=1", lambda: check_paillier(_never, randomized=1), "randomized"),  # type: ignore[arg-type]
    ("rule examples=10^12", lambda: check_rule(_never, "mean", f=0, examples=10**12), "examples"),
    ("sharing examples=10^7", lambda: check_sharing(_never, examples=10**7), "examples"),
    ("sharing samples=2^30", lambda: check_sharing(_never, samples=2**30), "samples"),
    ("distance samples=2^30", lambda: check_distance_protocol(_never, samples=2**30), "samples"),
    ("paillier examples=10^9", lambda: check_paillier(_never, examples=10**9), "examples"),
    (
        "rule nothing to check",
        lambda: check_rule(_never, "mean", f=0, generated=False, robustness=False, vectors=False),
        "nothing to check",
    ),
    (
        "rule vectors only, none of mean",
        lambda: check_rule(_never, "mean", f=0, generated=False, robustness=False),
        "nothing to check (generated=False, no vector case of 'mean', f=0",
    ),
    (
        "rule robustness only, no bound for mean",
        lambda: check_rule(_never, "mean", f=0, generated=False, vectors=False),
        "spec section 12 records no bound for mean",
    ),
    (
        "weights nothing to check",
        lambda: check_weights(_never, "krum", f=1, generated=False, vectors=False),
        "nothing to check",
    ),
    (
        "weights vectors only, none at f=20",
        lambda: check_weights(_never, "krum", f=20, generated=False),
        "no vector case",
    ),
]


@pytest.mark.parametrize(("label", "call", "named"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_argument_is_refused_before_any_case(
    label: str, call: Callable[[], Any], named: str
) -> None:
    with pytest.raises(KitArgumentError) as info:
        call()
    assert str(info.value).startswith("check_") and named in str(info.value)


def test_an_option_of_another_rule_is_named_without_the_command_line_flag() -> None:
    with pytest.raises(KitArgumentError) as info:
        check_rule(_mean, "krum", f=1, m=3)
    assert "m=3: an option of multikrum only, not of 'krum'" in str(info.value)
    assert "--m" not in str(info.value)


RETURNS: list[tuple[str, Callable[[], Any], str]] = [
    ("encrypt None", lambda: check_paillier(lambda n, m, r: None, examples=2), "returns an int"),
    ("encrypt str", lambda: check_paillier(lambda n, m, r: str(m), examples=2), "returns an int"),
    ("encrypt nan", lambda: check_paillier(lambda n, m, r: float("nan"), examples=2), "an int"),
    ("protocol (5, 6)", lambda: check_distance_protocol(lambda a, b: (5, 6), examples=2), "P5.1"),
    ("rule strings", lambda: check_rule(lambda x: [str(v) for v in _mean(x)], "mean", f=1), "D6.1"),
    ("rule complex", lambda: check_rule(lambda x: _mean(x) + 7j, "mean", f=1), "D6.1"),
    ("rule factory", lambda: check_rule(lambda x: _mean, "mean", f=1), "a factory"),
    ("rule None", lambda: check_rule(lambda x: None, "mean", f=1), "does your function return"),
    ("weights str", lambda: check_weights(lambda d: "abc", "krum", f=1), "not a vector"),
]


@pytest.mark.parametrize(("label", "call", "said"), RETURNS, ids=[r[0] for r in RETURNS])
def test_a_return_value_of_the_wrong_kind_is_a_conformance_error(
    label: str, call: Callable[[], Any], said: str
) -> None:
    with pytest.raises(ConformanceError) as info:
        call()
    assert said in str(info.value)


def test_an_option_of_no_rule_is_worded_as_such() -> None:
    import sbrml.reference as ref
    from sbrml.rulespec import RuleSpecError, build_rule

    with pytest.raises(RuleSpecError, match=r"^--eps is an option of no rule$"):
        build_rule(ref, "geomed", 1, {"eps": -1})


def test_options_that_leave_one_part_still_check_it() -> None:
    # Not refused: the vectors of Krum at f = 1, and Krum's published bound, are checks.
    krum = check_rule(_krum1, "krum", f=1, generated=False, robustness=False)
    assert krum.counts["vectors"] > 0
    bound = check_rule(_krum1, "krum", f=1, generated=False, vectors=False)
    assert bound.counts["robustness (C12.1)"] > 0


def _krum1(x: Any) -> Any:
    import sbrml.reference as ref

    return np.array(ref.Krum(f=1)(np.asarray(x).tolist()))


def test_integer_arguments_take_numpy_integers_as_python_ints() -> None:
    # A count read from a NumPy array (np.int64) was refused as "not an int" (left alone in
    # issue 17's notes); it is taken, and used as a Python int: 2**bits on np.int64(64)
    # wraps around to 0.
    from sbrml import reference
    from tests.testing.implementations import krum_weights, system_share, tree_encrypt

    checked = check_rule(_mean, "mean", f=np.int64(1), examples=np.int32(2))  # type: ignore[arg-type]
    assert checked.counts["generated inputs"] == 2 and "f=1" in checked.check
    weights = krum_weights(1, 2)
    checked = check_weights(weights, "krum", f=np.int8(1), examples=np.uint16(2))  # type: ignore[arg-type]
    assert checked.counts["generated matrices"] == 2
    checked = check_sharing(system_share(reference), bits=np.int64(64), examples=np.int64(2))  # type: ignore[arg-type]
    assert checked.check == "check_sharing(bits=64)"
    encrypt = tree_encrypt(reference.paillier)
    assert check_paillier(encrypt, examples=np.int64(2)).counts["generated cases"] == 2  # type: ignore[arg-type]

    # A rule's int option too: the reference, standard library only, refuses np.int64 (C6.5).
    def multikrum(x: Any) -> Any:
        return np.array(reference.MultiKrum(f=1, m=2)(np.asarray(x).tolist()))

    checked = check_rule(multikrum, "multikrum", f=1, m=np.int64(2), examples=2)
    assert checked.counts["generated inputs"] == 2
    with pytest.raises(KitArgumentError, match=r"m <= n"):
        check_rule(_never, "multikrum", f=1, m=np.int64(100))
