"""The front door, ``import sbrml`` (spec D0.1)."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import numpy as np
import pytest

import sbrml
from sbrml.api import AggregationResult
from sbrml.core.errors import ParameterError, ShapeError

X = np.array([[1.0, 2.0], [1.5, 2.5], [0.5, 1.5], [1.0, 2.5], [1.25, 2.0], [90.0, -90.0]])


@pytest.mark.spec("D0.1")
def test_importing_the_front_door_loads_no_third_party_package() -> None:
    code = (
        "import sys, sbrml, sbrml.reference\n"
        "print(sorted(m for m in ('numpy', 'gmpy2', 'cryptography') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


@pytest.mark.spec("D0.1")
def test_every_exported_name_resolves() -> None:
    for name in sbrml.__all__:
        assert getattr(sbrml, name) is not None
    assert sbrml.RULES["krum"] is sbrml.Krum
    with pytest.raises(AttributeError):
        _ = sbrml.no_such_name


@pytest.mark.spec("D0.1", "C2.9")
@pytest.mark.parametrize("call", ["secure", "masks", "paillier"])
def test_both_trees_agree_through_the_front_door(call: str) -> None:
    keys = sbrml.generate_keypair(256, rng=sbrml.DeterministicRandomSource(1), insecure_test=True)
    results = []
    for impl in ("optimized", "reference"):
        rng = sbrml.DeterministicRandomSource(7)
        if call == "secure":
            rule = sbrml.rule("nnm+krum", f=1, impl=impl)
            results.append(sbrml.secure_aggregate(X, rule, rng=rng, impl=impl, transcript=True))
        elif call == "masks":
            results.append(sbrml.masked_mean(X, rng=rng, impl=impl))
        else:
            results.append(sbrml.encrypted_mean(X, keys=keys, rng=rng, impl=impl))
    opt, ref = results
    assert opt.impl == "optimized" and ref.impl == "reference"
    assert np.array_equal(opt.aggregate, ref.aggregate)
    assert opt.transcript.transcript_bytes() == ref.transcript.transcript_bytes()
    assert opt.aggregate.dtype == np.float64 and opt.aggregate.shape == (2,)
    assert opt.weights is not None and opt.weights.shape == (6,)


@pytest.mark.spec("D0.1", "C2.1")
def test_default_randomness_is_fresh_per_call() -> None:
    rule = sbrml.rule("krum", f=1)
    a, b = (sbrml.secure_aggregate(X, rule, transcript=True) for _ in range(2))
    assert np.array_equal(a.aggregate, b.aggregate)
    assert a.transcript.transcript_digest() != b.transcript.transcript_digest()


@pytest.mark.spec("D0.1")
def test_one_result_type_for_every_protocol() -> None:
    results = [
        sbrml.secure_aggregate(X, sbrml.Krum(1)),
        sbrml.masked_mean(X, threshold=4, dropouts={5: "input"}),
    ]
    fields = {f.name for f in dataclasses.fields(AggregationResult)}
    assert "output" not in fields  # "output" already means "mean" in the CLI's JSON contract
    for r in results:
        assert isinstance(r, AggregationResult)
    secure, masked = results
    assert secure.distances is not None and secure.threshold is None
    assert masked.threshold == 4 and masked.valid == [0, 1, 2, 3, 4] and 5 in masked.excluded
    assert np.allclose(masked.aggregate, X[:5].mean(axis=0), atol=2.0**-16)


@pytest.mark.spec("D0.1", "D6.7")
def test_bad_arguments_name_the_clause() -> None:
    with pytest.raises(sbrml.ParameterError) as info:
        sbrml.secure_aggregate(X, sbrml.Krum(1), impl="fast")
    assert info.value.clause == "D0.1"
    with pytest.raises(sbrml.ParameterError) as info:
        sbrml.rule("krum+nnm", f=1)
    assert info.value.clause == "D6.7"
    with pytest.raises(sbrml.ParameterError) as info:
        sbrml.rule("krum", f=1, s=3)
    assert info.value.clause == "D6.7"
    with pytest.raises(sbrml.ShapeError):
        sbrml.masked_mean(np.zeros(3))


@pytest.mark.spec("D0.1")
def test_a_rule_needs_f_and_a_round_needs_a_rule_object() -> None:
    with pytest.raises(TypeError):
        sbrml.rule("krum")  # type: ignore[call-arg]
    with pytest.raises(sbrml.ParameterError) as info:
        sbrml.secure_aggregate(X, "krum")
    assert info.value.clause == "D0.1" and "sbrml.rule" in str(info.value)


@pytest.mark.spec("D0.1", "C2.8", "D6.7")
def test_front_door_misuse_names_the_parameter() -> None:
    with pytest.raises(sbrml.ParameterError) as info:  # a NumPy generator is not a source
        sbrml.masked_mean(X, rng=np.random.default_rng(0))
    assert info.value.clause == "C2.8" and info.value.parameter == "rng"
    with pytest.raises(sbrml.ParameterError) as info:  # a rule of the other tree
        sbrml.secure_aggregate(X, sbrml.rule("nnm+krum", f=1), impl="reference")
    assert info.value.clause == "D0.1" and "optimized tree" in str(info.value)
    provider = sbrml.PaillierTripleProvider(
        rng=sbrml.DeterministicRandomSource(1), bits=256, insecure_test=True, sigma=8
    )
    with pytest.raises(sbrml.ParameterError) as info:
        rule = sbrml.rule("krum", f=1, impl="reference")
        sbrml.secure_aggregate(X, rule, impl="reference", provider=provider)
    assert info.value.parameter == "provider"
    keys = sbrml.generate_keypair(256, rng=sbrml.DeterministicRandomSource(1), insecure_test=True)
    with pytest.raises(sbrml.ParameterError) as info:  # keys swapped
        sbrml.encrypted_mean(X, keys=(keys[1], keys[0]))
    assert info.value.parameter == "keys"
    with pytest.raises(sbrml.ParameterError) as info:  # Krum takes no m; the message says who
        sbrml.rule("krum", f=2, m=5)
    assert info.value.parameter == "m" and "multikrum" in str(info.value)
    assert "--" not in str(info.value)
    with pytest.raises(sbrml.ParameterError):
        sbrml.rule("geomed", f=2, **{"max-iter": 10})  # type: ignore[arg-type]


@pytest.mark.spec("C8.15", "D8.1")
def test_front_door_refuses_a_variant_without_distances_and_ragged_rows() -> None:
    x = np.random.default_rng(0).normal(size=(5, 3))
    with pytest.raises(ParameterError) as info:
        sbrml.secure_aggregate(x, sbrml.rule("median", f=2), variant="pairwise")
    assert info.value.clause == "C8.15"
    assert sbrml.secure_aggregate(x, sbrml.rule("median", f=2)).leakage == "output"
    with pytest.raises(ShapeError) as shape:
        sbrml.secure_aggregate([[1.0, 2.0], [3.0]], sbrml.rule("mean", f=0))
    assert shape.value.clause == "D8.1" and "different lengths" in str(shape.value)


@pytest.mark.spec("D7.2")
def test_the_front_door_keeps_no_transcript_unless_asked() -> None:
    rule = sbrml.rule("krum", f=1)
    quiet = sbrml.secure_aggregate(X, rule, rng=sbrml.DeterministicRandomSource(3))
    kept = sbrml.secure_aggregate(X, rule, rng=sbrml.DeterministicRandomSource(3), transcript=True)
    assert quiet.transcript is None and kept.transcript is not None
    assert quiet.bytes == kept.bytes == kept.transcript.bytes_by_link()
    assert np.array_equal(quiet.aggregate, kept.aggregate)
