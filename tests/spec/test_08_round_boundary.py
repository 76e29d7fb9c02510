"""The round's boundary and bookkeeping (spec/08-round.md D8.1, C8.4, C8.6, C8.8, C8.15,
P8.1 steps 0 and 1), pinned where mutation testing showed no test looked (issue 18): which
function each refusal names, the encoder's refusal inside a worker, how excluded workers are
printed, Multi-Krum's count after a pre-aggregation, the per-phase clock, where the range
material comes from under a Paillier provider, and S0's offline A^0 (A^0)^T (C4.6).
"""

from __future__ import annotations

import math
import time
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import (
    EncodingError,
    InsufficientWorkersError,
    ParameterError,
    ShapeError,
    SpecError,
)
from sbrml.core.round import (
    PhaseClock,
    describe_excluded,
    excluded_entry,
    selected_count,
    spread_weights,
)
from sbrml.optimized.beaver import Dealer, gram_sum
from sbrml.optimized.paillier_triples import PaillierTripleProvider as OptProvider
from sbrml.optimized.round_offline import offline_material, round_setup
from sbrml.optimized.round_output import weighted_sum
from sbrml.reference.paillier_triples import PaillierTripleProvider as RefProvider
from sbrml.rulespec import build_rule
from tests.helpers import as_list, decoded_inputs


def inputs(n: int, d: int) -> list[list[float]]:
    return [[math.sin(1.3 * i + 0.7 * k) for k in range(d)] for i in range(n)]


# --- Which function a refusal names (D8.1, C8.4) --------------------------------------------


@pytest.mark.spec("D8.1")
@pytest.mark.parametrize("dim", [1.5, True, 0, -2, "3"])
def test_a_dimension_that_is_not_a_positive_int_is_refused(impl: ModuleType, dim: Any) -> None:
    with pytest.raises(ShapeError) as info:
        impl.secure_aggregate(
            inputs(5, 3), impl.Krum(1), rng=impl.DeterministicRandomSource(1), dim=dim
        )
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("secure_aggregate", "dim", "D8.1")
    assert err.got == repr(dim)


@pytest.mark.spec("D8.1")
def test_an_unknown_variant_is_refused_by_the_round(impl: ModuleType) -> None:
    with pytest.raises(SpecError) as info:
        impl.secure_aggregate(
            inputs(5, 3), impl.Krum(1), rng=impl.DeterministicRandomSource(1), variant="gramm"
        )
    assert info.value.function == "secure_aggregate" and info.value.parameter == "variant"


@pytest.mark.spec("C8.4", "C6.3")
def test_too_few_workers_for_the_rule_names_the_round(impl: ModuleType) -> None:
    # Krum with f = 1 needs n >= 2f + 3 = 5 (C6.3): the round refuses 4 before any work, and
    # says so as secure_aggregate, not as the rule called alone.
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(inputs(4, 3), impl.Krum(1), rng=impl.DeterministicRandomSource(1))
    assert info.value.function == "secure_aggregate"


# --- The worker's encoder (P8.1 step 1a) ----------------------------------------------------


@pytest.mark.spec("C1.1", "C1.2", "C8.2")
@pytest.mark.parametrize("frac_bits", [4, 16])
@pytest.mark.parametrize(
    ("value", "error", "clause"),
    [(math.nan, EncodingError, "C1.1"), (1e300, EncodingError, "C1.2"), ("a", ShapeError, "C1.1")],
)
def test_the_encoder_refusal_inside_encode_update(
    impl: ModuleType, frac_bits: int, value: Any, error: type[SpecError], clause: str
) -> None:
    # The refusal is the encoder's own (function encode, the coordinate's index), with the
    # round's F in its condition where the bound depends on F: both trees say the same.
    with pytest.raises(error) as info:
        impl.encode_update([0.5, value], frac_bits=frac_bits)
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("encode", "values[1]", clause)
    other = ref if impl is opt else opt
    with pytest.raises(error) as twin:
        other.encode_update([0.5, value], frac_bits=frac_bits)
    assert str(twin.value) == str(err)
    if clause == "C1.2":
        assert f"2^{frac_bits}" in err.condition or str(frac_bits) in err.condition


@pytest.mark.spec("C1.2", "C8.2")
def test_the_encoder_bound_follows_the_round_frac_bits(impl: ModuleType) -> None:
    # 2^20 encodes at F = 4 as 2^24 (squared norm 2^48 < 2^62, C8.2) and fails C8.2 at
    # F = 16 (2^72); 2^50 fails C1.2 at F = 16 (2^66 >= 2^63).
    with pytest.raises(EncodingError):
        impl.encode_update([2.0**50, 0.0], frac_bits=16)
    with pytest.raises(ShapeError) as info:
        impl.encode_update([2.0**20, 0.0], frac_bits=16)
    assert info.value.clause == "C8.2"
    small = impl.encode_update([2.0**20, 0.0], frac_bits=4, bound_log2=30)
    assert int(small[0]) == 2**24


# --- How excluded workers are printed (C8.4's values, C0.1) ---------------------------------


@pytest.mark.spec("C8.4")
def test_excluded_workers_are_printed_by_index_each_named_once() -> None:
    assert excluded_entry(3, "S0: no share received (C8.3)") == "W3: S0: no share received (C8.3)"
    own = "W3: input rejected before sharing: encode: need a finite value (C1.1)"
    assert excluded_entry(3, own) == own
    assert excluded_entry(13, "W1: x") == "W13: W1: x"
    assert describe_excluded({}) == "none"
    assert describe_excluded({4: "b", 1: "a"}) == "W1: a; W4: b"


@pytest.mark.spec("C8.4")
def test_too_few_after_exclusions_lists_the_excluded(impl: ModuleType) -> None:
    def drop(messages: list[Any]) -> list[Any]:
        return [m for m in messages if m.sender != "W2"]

    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            inputs(5, 3), impl.Krum(1), rng=impl.DeterministicRandomSource(1), tamper=drop
        )
    err = info.value
    assert (err.function, err.clause) == ("secure_aggregate", "C8.4")
    assert "W2: S0: no share received (C8.3); S1: no share received (C8.3)" in err.got


# --- Multi-Krum's count after a pre-aggregation (C6.5, D11.6) -------------------------------


@pytest.mark.spec("C6.5", "D11.6")
def test_selected_count_is_the_inner_rule_count_on_the_pre_aggregated_points() -> None:
    rule = build_rule(opt, "bucketing+multikrum", 1, {"m": 3, "s": 2})
    assert [selected_count(rule, v) for v in (6, 7, 8)] == [3, 3, 3]
    with pytest.raises(ParameterError) as info:  # 4 workers make 2 buckets: m = 3 > 2
        selected_count(rule, 4)
    assert info.value.clause == "C6.5"
    assert selected_count(opt.Krum(1), 9) == 1
    assert selected_count(opt.MultiKrum(1, m=4), 9) == 4


@pytest.mark.spec("C8.7")
def test_public_weights_cover_every_worker_and_refuse_a_length_mismatch() -> None:
    assert spread_weights(4, [0, 2], [0.25, 0.75]) == [0.25, 0.0, 0.75, 0.0]
    with pytest.raises(ValueError):
        spread_weights(4, [0, 2], [1.0])
    with pytest.raises(ValueError):
        weighted_sum(np.array([1, 2], dtype=np.uint64), [np.zeros(3, dtype=np.uint64)], 3)


# --- The per-phase clock (C8.8) -------------------------------------------------------------


@pytest.mark.spec("C8.8")
def test_the_clock_adds_repeated_phases_and_moves_offline_seconds(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ticks = iter([10.0, 11.0, 13.0, 17.0, 18.0])
    monkeypatch.setattr(time, "perf_counter", lambda: next(ticks))
    clock = PhaseClock()  # starts at 10
    clock.lap("share")  # 1 s
    clock.lap("compare", offline=0.5)  # 2 s, of which 0.5 s offline
    clock.lap("compare", offline=1.0)  # 4 s, of which 1 s offline
    clock.lap("share")  # 1 s more
    assert clock.seconds == {"share": 2.0, "compare": 4.5, "offline_comparison": 1.5}


# --- P8.1 step 0: where the material comes from (C8.1, C4.6) --------------------------------


@pytest.mark.spec("C8.1", "C15.1")
def test_range_material_comes_from_the_dealer_label_under_a_paillier_provider(
    impl: ModuleType,
) -> None:
    # A Paillier provider gives D's material only; range validation's comes from a dealer
    # drawing from rng.derive("dealer") (C8.1), as it does without a provider.
    cls = RefProvider if impl is ref else OptProvider
    provider = cls(rng=impl.DeterministicRandomSource(5), bits=512, insecure_test=True)
    n, d = 5, 2
    result = impl.secure_aggregate(
        inputs(n, d), impl.MultiKrum(1), rng=impl.DeterministicRandomSource(2), provider=provider
    )
    assert result.valid == list(range(n))
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(2).derive("dealer"))
    setup = round_setup(n, d, opt.MultiKrum(1))
    channel = impl.Channel()
    lanes = n * d
    dealer.masks(lanes, setup.bits + 1, high=True, channel=channel)
    want = [m.payload for m in channel.messages]
    got = [m.payload for m in result.channel.messages if m.label == "offline/masks"]
    assert [bytes(p) for p in got] == [bytes(p) for p in want]


@pytest.mark.spec("C4.6")
def test_s0_precomputes_its_gram_term_offline() -> None:
    setup = round_setup(5, 3, opt.Krum(1))
    dealer = Dealer(rng=opt.DeterministicRandomSource(4))
    material = offline_material(setup, dealer, dealer, channel=opt.Channel(), clock=PhaseClock())
    gram = material.gram
    assert gram is not None and gram[0].aat is not None
    assert np.array_equal(gram[0].aat, gram_sum(gram[0].a, None, gram[0].a, None))


# --- Krum's convention in the hidden modes (C6.6, P22.5, P22.7) -----------------------------

# Six points where Krum keeps a different input under each convention (n - f - 2 or n - f - 1
# neighbours per score, C6.6), alone and after NNM.
CONVENTION_POINTS = [
    [0.19, -1.15],
    [-1.35, 0.37],
    [-0.65, -1.7],
    [-0.68, 0.86],
    [-0.47, 0.93],
    [1.53, 0.03],
]


@pytest.mark.spec("C6.6", "P22.5", "P22.7")
@pytest.mark.parametrize("name", ["krum", "nnm+krum"])
@pytest.mark.parametrize("leakage", ["index", "output"])
def test_hidden_modes_keep_the_rule_convention(impl: ModuleType, name: str, leakage: str) -> None:
    x = decoded_inputs(CONVENTION_POINTS)
    outputs = {}
    for convention in ("blanchard", "byzfl"):
        rule = build_rule(impl, name, 1, {"convention": convention})
        result = impl.secure_aggregate(
            CONVENTION_POINTS, rule, rng=impl.DeterministicRandomSource(3), leakage=leakage
        )
        plain = build_rule(opt, name, 1, {"convention": convention})(np.array(x))
        assert np.allclose(as_list(result.z), plain, atol=1e-4), convention
        outputs[convention] = as_list(result.z)
    assert not np.allclose(outputs["blanchard"], outputs["byzfl"], atol=1e-2)


@pytest.mark.spec("C8.15")
def test_a_provider_for_a_round_without_distances_names_the_rule_and_leakage(
    impl: ModuleType,
) -> None:
    # C8.15: a distance provider given to a round that computes no D is refused, and the error
    # says which rule and which leakage made the round need none.
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            inputs(5, 3),
            impl.CoordinateMedian(1),
            rng=impl.DeterministicRandomSource(1),
            provider=impl.Dealer(rng=impl.DeterministicRandomSource(2)),
        )
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("secure_aggregate", "provider", "C8.15")
    assert err.got == "a Dealer for 'median' with leakage 'output'"


@pytest.mark.spec("P8.1")
def test_the_reference_public_weighted_sum_refuses_a_length_mismatch() -> None:
    from sbrml.reference.round import public_weighted_sum

    assert public_weighted_sum([2, 3], [[1, 1], [1, 2]], 2) == [5, 8]
    with pytest.raises(ValueError):
        public_weighted_sum([2, 3, 4], [[1, 1], [1, 2]], 2)


@pytest.mark.spec("C1.2")
def test_encode_update_words_c1_2_with_the_rounds_frac_bits(impl: ModuleType) -> None:
    """An int beyond the float range in a worker's update is refused with C1.2's condition
    at the round's F, not the default's (both trees word it with range_condition)."""
    from sbrml.reference.ring import range_condition

    with pytest.raises(EncodingError) as info:
        impl.encode_update([2**1100], frac_bits=10)
    assert info.value.clause == "C1.2"
    assert info.value.condition == range_condition(64, 10)


@pytest.mark.spec("D8.1")
@pytest.mark.parametrize("n", [True, 5.0, "5", None])
def test_round_setup_refuses_an_n_that_is_not_an_int(n: Any) -> None:
    """A party's set-up takes n as an int (D8.1): a bool, float or str is a ShapeError naming
    round_setup and n, before any other check."""
    with pytest.raises(ShapeError) as info:
        round_setup(n, 4, opt.Krum(1))
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("round_setup", "n", "D8.1")
    assert err.condition == "an int n >= 1" and err.got == repr(n)


@pytest.mark.spec("P23.2")
@pytest.mark.parametrize(
    ("rule", "leakage", "online"),
    [
        (opt.Krum(1), "distances", False),
        (opt.Krum(1), "index", True),
        (opt.Krum(1), "output", True),
        (opt.MultiKrum(1, m=2), "distances", False),
        (opt.CoordinateMedian(1), None, True),
    ],
)
def test_draws_online_follows_the_rule_and_leakage(rule: Any, leakage: Any, online: bool) -> None:
    """P23.2: dealer material is drawn while the round runs exactly for the coordinate-wise
    rules on shares and Krum's hidden modes (S0 then sends the dealer requests)."""
    from sbrml.optimized.round_offline import draws_online

    assert draws_online(round_setup(7, 4, rule, leakage=leakage)) is online


@pytest.mark.spec("C8.15")
@pytest.mark.parametrize(
    ("rule", "variant", "gram", "squares"),
    [
        (opt.CoordinateMedian(1), "gram", False, False),
        (opt.Krum(1), "gram", True, False),
        (opt.Krum(1), "pairwise", False, True),
    ],
    ids=["median", "gram", "pairwise"],
)
def test_offline_material_holds_only_what_the_round_uses(
    rule: Any, variant: str, gram: bool, squares: bool
) -> None:
    """P8.1 step 0: the Gram triple for variant gram, square pairs for pairwise, and neither
    (None) for a rule that computes no distances (C8.15)."""
    setup = round_setup(5, 3, rule, variant=variant)
    dealer = Dealer(rng=opt.DeterministicRandomSource(4))
    material = offline_material(setup, dealer, dealer, channel=opt.Channel(), clock=PhaseClock())
    assert (material.gram is not None, material.squares is not None) == (gram, squares)
    if not gram:
        assert material.gram is None
    if not squares:
        assert material.squares is None


@pytest.mark.spec("C8.6")
def test_check_round_params_names_frac_bits_first() -> None:
    """F = 62 is refused as F's own range [0, 61] (C8.6), before W's and the sum's checks."""
    from sbrml.core.round import check_round_params

    with pytest.raises(ParameterError) as info:
        check_round_params(62, 1)
    assert (info.value.parameter, info.value.condition) == ("frac_bits", "an int in [0, 61]")


@pytest.mark.spec("C8.4")
def test_too_few_after_exclusions_chains_the_rules_refusal_for_secure_aggregate() -> None:
    """C8.4's error chains the rule's own refusal (C6.3), asked for secure_aggregate."""
    from sbrml.core.round import check_after_exclusions

    with pytest.raises(InsufficientWorkersError) as info:
        check_after_exclusions(opt.Krum(1), 3, 5, {3: "gone", 4: "gone"})
    cause = info.value.__cause__
    assert isinstance(cause, InsufficientWorkersError)
    assert (cause.function, cause.parameter, cause.clause) == ("secure_aggregate", "n", "C6.3")


@pytest.mark.spec("C1.1")
@pytest.mark.parametrize("values", [[1 + 2j], ["1.5"], [b"1"]], ids=["complex", "str", "bytes"])
def test_encode_refuses_arrays_of_other_kinds(impl: ModuleType, values: list[Any]) -> None:
    """C1.1: an array of complex numbers or strings is not an array of reals (its kind is
    not i, u or f), never read as its real part or parsed."""
    with pytest.raises(ShapeError) as info:
        impl.encode(np.array(values))
    assert info.value.clause == "C1.1"
