"""C0.1's "values received" for an int Python will not print: every entry point that rejects a
user's 10**5000 raises its own SpecError (class, clause, function and parameter), with the int
shown by its size (``an int of N bits``), never a bare ``ValueError`` from building the message
(``sys.get_int_max_str_digits``, 4,300 digits by default)."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.attacks.vector as attacks
import sbrml.privacy as privacy
import sbrml.reference.mask_vectors as mask_vectors
from sbrml.core.errors import (
    SHOWN_CHARS,
    EncodingError,
    InsufficientWorkersError,
    ParameterError,
    RandomnessError,
    ShapeError,
    SpecError,
    int_size,
    shown,
)
from sbrml.core.network import sorting_layers
from sbrml.core.params import check_processes
from sbrml.simulation.config import Config, ConfigError

HUGE = 10**5000
BITS = HUGE.bit_length()  # 16610


def part(impl: ModuleType, name: str) -> Any:
    """The tree's module ``name`` (paillier, packing, ...), not all re-exported at the top."""
    return importlib.import_module(f"{impl.__name__}.{name}")


def rng(impl: ModuleType) -> Any:
    return impl.DeterministicRandomSource(1)


def small_key(impl: ModuleType) -> Any:
    return part(impl, "paillier").keypair_from_primes(293, 433, insecure_test=True)


def aggregate(impl: ModuleType, **kwargs: Any) -> Any:
    return impl.secure_aggregate([[1.0]] * 5, impl.Krum(1), rng=rng(impl), **kwargs)


@dataclass(frozen=True)
class Case:
    """One entry point given ``sign * 10**5000``, and the error it must raise."""

    name: str
    clause: str
    error: type[SpecError]
    call: Callable[[ModuleType, int], object]
    signs: tuple[int, ...] = (1, -1)
    trees: tuple[str, ...] = ("reference", "optimized")


CASES = [
    Case("secure_aggregate frac_bits", "C8.6", ParameterError,
         lambda t, v: aggregate(t, frac_bits=v)),
    Case("secure_aggregate weight_frac_bits", "C8.6", ParameterError,
         lambda t, v: aggregate(t, weight_frac_bits=v)),
    Case("MultiKrum m", "C6.5", ParameterError, lambda t, v: t.MultiKrum(1, m=v), (-1,)),
    Case("MultiKrum selected_count", "C6.5", ParameterError,
         lambda t, v: t.MultiKrum(1, m=v).selected_count(5), (1,)),
    Case("Krum f", "C6.2", ParameterError, lambda t, v: t.Krum(v), (-1,)),
    Case("Krum check_n", "C6.3", InsufficientWorkersError,
         lambda t, v: t.Krum(v).check_n(5), (1,)),
    Case("MDA check_n", "C10.4", ParameterError,
         lambda t, v: t.MinimumDiameterAveraging(1).check_n(v), (1,)),
    Case("DeterministicRandomSource seed", "C2.2", ParameterError,
         lambda t, v: t.DeterministicRandomSource(v)),
    Case("random_bytes count", "C2.4", ParameterError,
         lambda t, v: rng(t).random_bytes(v), (-1,)),
    Case("random_bytes count beyond the keystream", "C2.5", RandomnessError,
         lambda t, v: rng(t).random_bytes(v), (1,)),
    Case("uniform_below bound", "C2.7", ParameterError,
         lambda t, v: t.uniform_below(rng(t), v), (-1,)),
    Case("encode frac_bits", "D1.3", ParameterError,
         lambda t, v: t.encode([1.0], frac_bits=v)),
    Case("encode bits", "D1.1", ParameterError, lambda t, v: t.encode([1.0], bits=v)),
    Case("encode value", "C1.2", EncodingError, lambda t, v: t.encode([v])),
    Case("generate_keypair bits", "C13.1", ParameterError,
         lambda t, v: part(t, "paillier").generate_keypair(v, rng=rng(t))),
    Case("paillier encrypt m", "C13.5", ShapeError,
         lambda t, v: part(t, "paillier").encrypt(small_key(t)[0], v, rng=rng(t))),
    Case("paillier decrypt c", "C13.6", ShapeError,
         lambda t, v: part(t, "paillier").decrypt(small_key(t)[1], v)),
    Case("paillier encrypt_with r", "C13.3", ShapeError,
         lambda t, v: part(t, "paillier").encrypt_with(small_key(t)[0], 1, v)),
    Case("Packing max_summands", "C14.1", ParameterError,
         lambda t, v: part(t, "packing").Packing(2048, max_summands=v)),
    Case("PaillierTripleProvider sigma", "C15.2", ParameterError,
         lambda t, v: part(t, "paillier_triples").PaillierTripleProvider(
             rng=rng(t), sigma=v), (-1,)),
    Case("shamir_share secret", "C19.2", ShapeError,
         lambda t, v: part(t, "masking_primitives").shamir_share(v, 2, 3, rng=rng(t))),
    Case("shamir_share t", "C19.2", ParameterError,
         lambda t, v: part(t, "masking_primitives").shamir_share(1, v, 3, rng=rng(t))),
    Case("hkdf_sha256 length", "D19.3", ParameterError,
         lambda t, v: part(t, "masking_primitives").hkdf_sha256(b"k", b"i", v),
         trees=("reference",)),
    Case("publish q", "P22.2", ParameterError,
         lambda t, v: part(t, "secure_coordinatewise").publish([0], v, 16), (-1,)),
    Case("sorting_layers v", "D22.1", ParameterError, lambda t, v: sorting_layers(v), (-1,)),
    Case("check_processes", "C0.2", ParameterError,
         lambda t, v: check_processes("secure_aggregate", v)),
    # A real hyperparameter is used as a double: the int is refused by its clause, not an
    # OverflowError from math.isfinite (review 17, finding 3).
    Case("GeometricMedian nu", "C10.2", ParameterError, lambda t, v: t.GeometricMedian(1, nu=v)),
    Case("GeometricMedian tol", "C10.2", ParameterError,
         lambda t, v: t.GeometricMedian(1, tol=v)),
    Case("CenteredClipping tau", "C10.6", ParameterError,
         lambda t, v: t.CenteredClipping(1, tau=v)),
    Case("CenteredClipping center", "C10.6", ShapeError,
         lambda t, v: t.CenteredClipping(0)([[1.0, 2.0]], center=[0.0, v])),
    Case("StaticClipping c", "C11.4", ParameterError, lambda t, v: t.StaticClipping(1, c=v)),
]  # fmt: skip


@pytest.mark.spec(
    "C0.1", "C0.2", "C1.2", "C2.2", "C2.4", "C2.5", "C2.7", "C6.2", "C6.3", "C6.5", "C8.6",
    "C10.2", "C10.4", "C10.6", "C11.4", "C13.1", "C13.3", "C13.5", "C13.6", "C14.1", "C15.2",
    "C19.2", "D1.1", "D1.3", "D19.3", "D22.1", "P22.2",
)  # fmt: skip
@pytest.mark.parametrize(
    ("case", "sign"),
    [(c, s) for c in CASES for s in c.signs],
    ids=[f"{c.name}-{'plus' if s > 0 else 'minus'}" for c in CASES for s in c.signs],
)
def test_huge_int_gets_its_spec_error(impl: ModuleType, case: Case, sign: int) -> None:
    """Each check reaches its own class and clause, the int shown by its size (C0.1). The
    signs a case lists are those its check refuses (the other is a valid value)."""
    tree = impl.__name__.rsplit(".", 1)[-1]
    if tree not in case.trees:
        # Only one tree has the function: the optimized tree uses the cryptography package's HKDF.
        assert not hasattr(part(impl, "masking_primitives"), case.name.split()[0]), case.name
        return
    with pytest.raises(SpecError) as info:
        case.call(impl, sign * HUGE)
    assert type(info.value) is case.error, info.value
    assert info.value.clause == case.clause
    assert "an int of" in str(info.value)


@pytest.mark.spec("C16.1", "C17.1", "C17.2", "C17.3", "C17.4", "C17.6")
@pytest.mark.parametrize(
    ("clause", "call"),
    [
        ("C16.1", lambda v: attacks.Gaussian(1, mu=v)),
        ("C16.1", lambda v: attacks.Gaussian(1, sigma=v)),
        ("C16.1", lambda v: attacks.IPM(1, epsilon=v)),
        ("C16.1", lambda v: attacks.ALIE(1, z=v)),
        ("C16.1", lambda v: attacks.Gaussian(-abs(v))),
        ("C16.1", lambda v: attacks.Mimic(1, target=-abs(v))),
        ("C17.1", lambda v: privacy.GaussianMechanism(clip=v, sigma=1.0)),
        ("C17.1", lambda v: privacy.GaussianMechanism(clip=1.0, sigma=v)),
        ("C17.2", lambda v: privacy.epsilon(v, 1e-5, 0.1, 10)),
        ("C17.2", lambda v: privacy.epsilon(1.0, 1e-5, 0.1, -abs(v))),
        ("C17.3", lambda v: privacy.calibrate_sigma(v, 1e-5, 0.1, 10)),
        ("C17.4", lambda v: privacy.poisson_batch(10, v, np.random.default_rng(0))),
        ("C17.6", lambda v: privacy.check_noise_tails("f", 1.0, 1e-5, -abs(v), 10)),
    ],
)
@pytest.mark.parametrize("sign", [1, -1])
def test_attacks_and_privacy_refuse_the_huge_int(
    clause: str, call: Callable[[int], object], sign: int
) -> None:
    """The attacks' and the DP mechanism's real parameters are doubles: the int is refused by
    its clause and shown by its size, never an OverflowError or a ValueError from repr."""
    with pytest.raises(ParameterError) as info:
        call(sign * HUGE)
    assert info.value.clause == clause and "an int of" in str(info.value)


@pytest.mark.spec("C9.7", "D9.2", "D9.4")
@pytest.mark.parametrize("rule", ["CoordinateMedian", "Meamed"])
def test_ints_whose_sum_leaves_the_float_range(impl: ModuleType, rule: str) -> None:
    """Two ints of a double's range (D6.1) may sum, or differ, beyond it: the median's middle
    pair and meamed's gaps then take the halved form (C9.7), never an OverflowError from
    math.isfinite on that int (review 17, finding 3)."""
    big = 2**1023
    assert [float(v) for v in getattr(impl, rule)(0)([[big], [big]])] == [float(big)]
    assert [float(v) for v in getattr(impl, rule)(0)([[big], [-big], [-big], [big]])] == [0.0]


@pytest.mark.spec("C6.5")
def test_trees_give_the_same_message(impl: ModuleType) -> None:
    """Both trees word the same refusal identically, the int shown by its size."""
    with pytest.raises(ParameterError) as info:
        impl.MultiKrum(1, m=HUGE).selected_count(5)
    assert str(info.value) == (
        f"multikrum: m: need m <= n (C6.5); got m=an int of {BITS} bits, n=5"
    )


@pytest.mark.spec("C20.2")
def test_mask_input_wrap_error_huge() -> None:
    """The reference's C20.2 message (mask rounds) shows a huge value by its size."""
    err = mask_vectors.wrap_error(0, 16, 5, HUGE)
    assert type(err) is EncodingError and err.clause == "C20.2"
    assert err.got == f"an int of {BITS} bits"


@pytest.mark.spec("C18.1")
@pytest.mark.parametrize("field", ["n", "rounds", "seed"])
def test_simulation_config_huge(field: str) -> None:
    """simulate's C18.1 checks show a huge int by its size."""
    with pytest.raises(ConfigError) as info:
        Config(**{field: -HUGE}).validate()  # type: ignore[arg-type]
    assert f"an int of {BITS} bits" in str(info.value)


class _Unprintable:
    def __repr__(self) -> str:
        raise RuntimeError("no repr")


@pytest.mark.spec("C0.1")
@pytest.mark.parametrize(
    ("value", "text"),
    [
        (True, "True"),
        (False, "False"),
        (5, "5"),
        (-5, "-5"),
        (1.5, "1.5"),
        ("S0", "'S0'"),
        (HUGE, f"an int of {BITS} bits"),
        (-HUGE, f"an int of {BITS} bits"),
        ([HUGE], "a list that cannot be printed"),
        (_Unprintable(), "a _Unprintable that cannot be printed"),
    ],
    ids=["true", "false", "int", "negative", "float", "str", "huge", "-huge", "list", "repr"],
)
def test_shown(value: object, text: str) -> None:
    """shown is repr, except an int too long for decimal (its size) and a value whose repr
    raises (its type); it never raises."""
    assert shown(value) == text


@pytest.mark.spec("C0.1")
def test_shown_grouped_and_int_size() -> None:
    assert shown(1234567, grouped=True) == "1,234,567"
    assert shown(HUGE, grouped=True) == f"an int of {BITS} bits"
    assert shown("x", grouped=True) == "'x'"
    assert int_size(-HUGE) == int_size(HUGE) == f"an int of {BITS} bits"
    assert int_size(0) == "an int of 0 bits"


LONG = 10**300  # 301 digits: printable, but longer than SHOWN_CHARS


@pytest.mark.spec("C0.1")
@pytest.mark.parametrize(
    ("value", "start", "size"),
    [
        ([1] * 10_000, "[1, 1, 1", "a list of 10,000 items"),
        (tuple(range(300)), "(0, 1, 2", "a tuple of 300 items"),
        ("x" * 500, "'xxx", "a str of 500 characters"),
        (LONG, "1000", f"an int of {LONG.bit_length()} bits"),
        ({k: k for k in range(100)}, "{0: 0, 1: 1", "a dict of 100 items"),
        ([[0.5] * 50] * 20, "[[0.5, 0.5", "a list of 20 items"),
    ],
    ids=["long list", "long tuple", "long str", "301 digits", "dict", "nested"],
)
def test_shown_cuts_a_long_value_and_gives_its_size(value: object, start: str, size: str) -> None:
    """A value printed in more than SHOWN_CHARS characters is cut there and followed by its
    size: a 10,000-element f made a 30 KB message before."""
    text = shown(value)
    assert text == f"{repr(value)[:SHOWN_CHARS]}... ({size})" and text.startswith(start)
    assert len(text) < SHOWN_CHARS + 40


@pytest.mark.spec("C0.1")
def test_shown_keeps_a_value_of_up_to_shown_chars_whole() -> None:
    assert shown([7] * 66) == repr([7] * 66)  # 198 characters
    long = "y" * SHOWN_CHARS  # 202 characters with its quotes
    assert shown(long) == repr(long)[:SHOWN_CHARS] + "... (a str of 200 characters)"


@pytest.mark.spec("C6.2")
def test_both_trees_refuse_a_long_f_in_a_short_message(impl: ModuleType) -> None:
    with pytest.raises(ParameterError) as info:
        impl.Krum(f=[1] * 10_000)
    assert len(str(info.value)) < 300 and str(info.value).endswith("(a list of 10,000 items)")
    assert str(info.value).startswith("krum: f: need an int f >= 0 (C6.2); got [1, 1")


class _LenRefused(str):
    def __len__(self) -> int:
        raise RuntimeError("len refused")


@pytest.mark.spec("C0.1")
def test_shown_never_raises_and_bounds_its_cost() -> None:
    # A str whose __len__ raises made shown raise; a list of 200 rows of 10^6 entries or a
    # long list that holds itself was printed whole before the cut (adversarial review).
    assert shown(_LenRefused("1" * 1000)).endswith("(a str of 1,000 characters)")
    rows = [[0] * 10**6] * 201
    assert shown(rows) == repr([[0] * 100])[:SHOWN_CHARS] + "... (a list of 201 items)"
    looped: list[object] = list(range(10**6))
    looped[0] = looped
    assert shown(looped).startswith("[[...], 1, 2, 3") and shown(looped).endswith(
        "1,000,000 items)"
    )
    small: list[object] = [1]
    small.append(small)
    assert shown(small) == repr(small) == "[1, [...]]"
    assert [shown(v) for v in [(1,), (), [], [1, (2,), [3, [4]]]]] == [
        "(1,)",
        "()",
        "[]",
        "[1, (2,), [3, [4]]]",
    ]
