"""Leakage modes of the secure round (spec/08-round.md C8.15, spec/22-secure-rules.md P22.5)."""

from __future__ import annotations

import math
from types import ModuleType

import numpy as np
import pytest

import sbrml.reference as ref
from sbrml.core.errors import ParameterError, ShapeError
from sbrml.core.params import coordinate_bound_log2, hidden_bound_log2
from sbrml.rulespec import build_rule
from tests.helpers import as_list

N, D, F = 8, 3, 1


def rows(scale: float = 1.0) -> list[list[float]]:
    return [[scale * math.sin(1.7 * i + k) for k in range(D)] for i in range(N)]


def data(impl: ModuleType, x: list[list[float]]) -> object:
    return x if impl is ref else np.asarray(x)


@pytest.mark.spec("C8.15", "C22.2")
@pytest.mark.parametrize("name", ["krum", "multikrum"])
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
def test_hidden_modes_select_what_the_distance_mode_selects(
    impl: ModuleType, name: str, variant: str
) -> None:
    x = data(impl, rows())
    results = {
        leakage: impl.secure_aggregate(
            x,
            build_rule(impl, name, F),
            rng=impl.DeterministicRandomSource(7),
            variant=variant,
            leakage=leakage,
        )
        for leakage in ("distances", "index", "output")
    }
    base = results["distances"]
    assert base.leakage == "distances" and base.distances is not None
    for leakage in ("index", "output"):
        r = results[leakage]
        assert r.leakage == leakage and r.distances is None
        assert as_list(r.z) == as_list(base.z)
        labels = {m.label for m in r.channel.messages}
        assert "distances" not in labels and "weights" not in labels
        assert ("selection" in labels) == (leakage == "index")
    assert as_list(results["index"].weights) == as_list(base.weights)
    assert results["output"].weights is None


@pytest.mark.spec("C8.15", "C8.13")
def test_hidden_modes_tighten_the_coordinate_bound(impl: ModuleType) -> None:
    # b(3) = 30 but b_h(8, 3) = 27: a coordinate of 2^27 / 2^16 = 2048 passes in the
    # distance mode and is refused by the honest worker in the hidden ones.
    assert (coordinate_bound_log2(D), hidden_bound_log2(N, D)) == (30, 27)
    x = rows()
    x[2][1] = 2.0 ** (27 - 16)
    kept = impl.secure_aggregate(data(impl, x), impl.Krum(F), rng=impl.DeterministicRandomSource(1))
    assert 2 in kept.valid
    for leakage in ("index", "output"):
        hidden = impl.secure_aggregate(
            data(impl, x), impl.Krum(F), rng=impl.DeterministicRandomSource(1), leakage=leakage
        )
        assert 2 not in hidden.valid and "C8.13" in hidden.excluded[2]
    # The mean's default leakage, output, compares no scores: it keeps b(d).
    mean = impl.secure_aggregate(data(impl, x), impl.Mean(0), rng=impl.DeterministicRandomSource(1))
    assert mean.leakage == "output" and 2 in mean.valid
    with pytest.raises(ShapeError) as info:
        impl.encode_update(x[2], bound_log2=hidden_bound_log2(N, D))
    assert info.value.clause == "C8.13" and "2^27" in str(info.value)


@pytest.mark.spec("C8.15")
@pytest.mark.parametrize(
    ("name", "leakage"),
    [
        ("geomed", "index"),
        ("bucketing+krum", "output"),
        ("mean", "index"),
        ("median", "distances"),
        ("krum", "everything"),
        ("krum", ""),
    ],
)
def test_a_leakage_the_rule_does_not_run_in_is_refused(
    impl: ModuleType, name: str, leakage: str
) -> None:
    f = 2 if name == "median" else F
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            data(impl, rows()),
            build_rule(impl, name, f),
            rng=impl.DeterministicRandomSource(0),
            leakage=leakage,
        )
    assert info.value.clause == "C8.15" and repr(leakage) in str(info.value)


@pytest.mark.spec("C8.15", "C22.2")
def test_hidden_modes_are_byte_identical_across_trees() -> None:
    import sbrml.optimized as opt

    for leakage in ("index", "output"):
        r = ref.secure_aggregate(
            rows(), ref.MultiKrum(F, 3), rng=ref.DeterministicRandomSource(4), leakage=leakage
        )
        o = opt.secure_aggregate(
            np.asarray(rows()),
            opt.MultiKrum(F, 3),
            rng=opt.DeterministicRandomSource(4),
            leakage=leakage,
        )
        assert r.channel.transcript_bytes() == o.channel.transcript_bytes()
        assert r.z == o.z.tolist()


@pytest.mark.spec("C8.15")
def test_the_mean_needs_no_distances(impl: ModuleType) -> None:
    x = data(impl, rows())
    quiet = impl.secure_aggregate(x, impl.Mean(0), rng=impl.DeterministicRandomSource(3))
    assert quiet.leakage == "output" and quiet.distances is None
    labels = {m.label for m in quiet.channel.messages}
    assert not labels & {"offline/gram", "beaver/open", "distances", "weights"}
    with_d = impl.secure_aggregate(
        x, impl.Mean(0), rng=impl.DeterministicRandomSource(3), leakage="distances"
    )
    assert with_d.distances is not None
    assert as_list(quiet.z) == as_list(with_d.z)
    assert as_list(quiet.weights) == as_list(with_d.weights) == [1 / N] * N


@pytest.mark.spec("C8.15")
@pytest.mark.parametrize(("name", "leakage"), [("median", None), ("mean", "output")])
def test_a_provider_for_a_round_without_distances_is_refused(
    impl: ModuleType, name: str, leakage: str | None
) -> None:
    provider = impl.Dealer(rng=impl.DeterministicRandomSource(1))
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            data(impl, rows()),
            build_rule(impl, name, 2 if name == "median" else 0),
            rng=impl.DeterministicRandomSource(0),
            provider=provider,
            leakage=leakage,
        )
    assert info.value.clause == "C8.15" and info.value.parameter == "provider"


@pytest.mark.spec("C8.8")
def test_material_drawn_online_is_timed_as_offline() -> None:
    import time

    from sbrml.core.channel import Channel
    from sbrml.core.dealer_requests import TimedDealer
    from sbrml.core.round import PhaseClock

    class Slow:
        def dabits(self, lanes: int, *, channel: Channel) -> str:
            time.sleep(0.05)
            return "material"

    clock, dealer, channel = PhaseClock(), TimedDealer(Slow()), Channel()
    assert dealer.dabits(4, channel=channel) == "material"
    # P23.2: S0 asked the dealer for it first.
    (request,) = channel.receive("dealer", "offline/request")
    assert request.payload == (5).to_bytes(8, "little") + (4).to_bytes(8, "little")
    clock.lap("compare", offline=dealer.take())
    assert clock.seconds["offline_comparison"] >= 0.05 > clock.seconds["compare"]
    assert dealer.take() == 0.0


@pytest.mark.spec("C8.15")
def test_a_negative_coordinate_bound_is_refused_before_any_work() -> None:
    from sbrml.core.leakage import round_bound_log2

    assert round_bound_log2("output", opt_rule("nnm+krum"), 9, 100) >= 0
    with pytest.raises(ParameterError) as info:
        round_bound_log2("output", opt_rule("nnm+krum"), 1 << 14, 1 << 20)
    assert info.value.clause == "C8.15" and "b = -" in str(info.value)
    assert round_bound_log2("distances", opt_rule("nnm+krum"), 1 << 14, 1 << 20) == 21


def opt_rule(name: str) -> object:
    import sbrml.optimized as opt

    return build_rule(opt, name, 1)


@pytest.mark.spec("C22.4", "C11.6")
@pytest.mark.parametrize(("nnm_f", "krum_f"), [(3, 1), (1, 3)])
def test_nnm_and_krum_may_tolerate_different_f(impl: ModuleType, nnm_f: int, krum_f: int) -> None:
    # Compose keeps each stage's own f; P22.7 must use NNM's for k and Krum's for its scores.
    x = [[0.0], [0.1], [0.2], [0.3], [5.0], [5.1], [9.0], [9.2], [20.0]]
    rule = impl.compose(impl.NearestNeighborMixing(nnm_f), impl.Krum(krum_f))
    data_x = data(impl, x)
    with_d = impl.secure_aggregate(data_x, rule, rng=impl.DeterministicRandomSource(2))
    for leakage in ("index", "output"):
        hidden = impl.secure_aggregate(
            data_x, rule, rng=impl.DeterministicRandomSource(2), leakage=leakage
        )
        assert abs(as_list(hidden.z)[0] - as_list(with_d.z)[0]) < 1e-6
        if leakage == "index":
            assert as_list(hidden.weights) == as_list(with_d.weights)


@pytest.mark.spec("C8.11", "C8.15")
def test_a_composition_without_distance_form_is_refused_before_any_work(impl: ModuleType) -> None:
    rule = impl.Compose(impl.NearestNeighborMixing(1), impl.Krum(1))
    assert not impl.is_distance_rule(rule)
    for leakage in (None, "output"):
        with pytest.raises(ParameterError) as info:
            impl.secure_aggregate(
                data(impl, rows()), rule, rng=impl.DeterministicRandomSource(0), leakage=leakage
            )
        assert info.value.clause == "C8.11"


@pytest.mark.spec("C8.15", "C6.5")
def test_bound_and_m_are_refused_before_any_work(impl: ModuleType) -> None:
    with pytest.raises(ParameterError) as info:
        impl.secure_aggregate(
            data(impl, rows()),
            build_rule(impl, "nnm+krum", 1),
            rng=impl.DeterministicRandomSource(0),
            leakage="output",
            dim=1 << 52,
        )
    assert info.value.clause == "C8.15"
    with pytest.raises(ParameterError) as m_info:
        impl.secure_aggregate(
            data(impl, rows()), impl.MultiKrum(1, N + 1), rng=impl.DeterministicRandomSource(0)
        )
    assert m_info.value.clause == "C6.5"
