"""Section 0: conventions (spec/00-conventions.md), the published form of a refusal (C0.1)."""

from __future__ import annotations

import re
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.errors import InsufficientWorkersError
from sbrml.optimized import he_averaging as opt_he
from sbrml.optimized import mask_protocol as opt_mp
from sbrml.optimized import paillier as opt_p
from sbrml.reference import he_averaging as ref_he
from sbrml.reference import mask_protocol as ref_mp

KEY = opt_p.generate_keypair(256, rng=opt.DeterministicRandomSource(11), insecure_test=True)
HONEST = [[1.0, 2.0, 3.0], [1.5, 2.5, 3.5], [0.5, 1.5, 2.5], [1.0, 2.5, 3.0], [1.25, 2.0, 3.25]]
# Secret values a worker refuses to send, each with what must not leak from it.
BAD_ROWS: dict[str, tuple[list[float], list[str]]] = {
    "nan": ([1.0, 2.0, float("nan")], ["nan", "[2]"]),
    "range": ([1.0, 3.3e15, 3.0], ["3300000000000000", "3.3e+15", "[1]"]),
    "norm": ([40000.0, 2.0, 3.0], ["40000", "2^93", "<= value"]),
}


def _data(tree: ModuleType, x: list[list[float]]) -> Any:
    return np.asarray(x) if tree is opt else x


def _check_reason(reason: str, leaks: list[str]) -> None:
    assert reason.startswith("W0: ")
    assert re.search(r"\(C(1\.1|1\.2|8\.2)\)", reason), reason
    assert "got" not in reason
    for leak in leaks:
        assert leak not in reason, (leak, reason)


@pytest.mark.spec("C0.1", "C8.4")
@pytest.mark.parametrize("kind", sorted(BAD_ROWS))
def test_round_publishes_refusals_without_values(impl: ModuleType, kind: str) -> None:
    row, leaks = BAD_ROWS[kind]
    x = [row, *HONEST]
    result = impl.secure_aggregate(
        _data(impl, x), impl.Krum(1), rng=impl.DeterministicRandomSource(1)
    )
    assert result.valid == [1, 2, 3, 4, 5]
    _check_reason(result.excluded[0], leaks)
    with pytest.raises(InsufficientWorkersError) as info:
        impl.secure_aggregate(
            _data(impl, [row, *HONEST[:4]]), impl.Krum(1), rng=impl.DeterministicRandomSource(1)
        )
    for leak in leaks:
        assert leak not in str(info.value)


@pytest.mark.spec("C0.1", "C14.4")
@pytest.mark.parametrize(("tree", "he"), [(ref, ref_he), (opt, opt_he)], ids=["ref", "opt"])
@pytest.mark.parametrize("kind", ["nan", "range"])
def test_encrypted_average_publishes_refusals_without_values(
    tree: ModuleType, he: ModuleType, kind: str
) -> None:
    row, leaks = BAD_ROWS[kind]
    pk, sk = KEY
    result = he.encrypted_average(
        _data(tree, [row, *HONEST]), public=pk, private=sk, rng=tree.DeterministicRandomSource(2)
    )
    _check_reason(result.excluded[0], leaks)


@pytest.mark.spec("C0.1", "C20.4")
@pytest.mark.parametrize(("tree", "mp"), [(ref, ref_mp), (opt, opt_mp)], ids=["ref", "opt"])
@pytest.mark.parametrize("kind", ["nan", "range"])
def test_masked_aggregate_publishes_refusals_without_values(
    tree: ModuleType, mp: ModuleType, kind: str
) -> None:
    row, leaks = BAD_ROWS[kind]
    result = mp.masked_aggregate(
        _data(tree, [row, *HONEST]), t=3, rng=tree.DeterministicRandomSource(3)
    )
    _check_reason(result.excluded[0], leaks)
