"""Validation paths no other test reached (issue 18): each refusal with its class and clause.

Beaver's checks on one malformed share (D4.4, P4.4), the worker's encoder on a non-vector
(D8.1), distance inputs with no rows and finite inputs whose sums overflow (D6.1, C5.3),
Paillier's scalar type (D13.3), batch ciphertext validation and the key search's redraw of
q (C13.6, C13.8, C13.2), encrypted averaging's boundary and per-worker checks (P14.3,
C14.4) and ``unpack`` given the wrong number of plaintexts (P14.2). The mask protocol's
parsing is in test_20_mask_parsing.py.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from fractions import Fraction
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.optimized.he_averaging as opt_he
import sbrml.optimized.paillier as opt_p
import sbrml.reference as ref
import sbrml.reference.he_averaging as ref_he
import sbrml.reference.paillier as ref_p
from sbrml.core.channel import Message
from sbrml.core.errors import ShapeError
from sbrml.optimized.packing import Packing as OptPacking
from sbrml.reference.packing import Packing as RefPacking
from sbrml.reference.paillier import random_prime
from tests.helpers import as_list

M = 1 << 64


def _vector(tree: ModuleType, values: list[int]) -> Any:
    return values if tree is ref else np.array(values, dtype=np.uint64)


def _rows(tree: ModuleType, rows: list[list[int]]) -> Any:
    return rows if tree is ref else [np.array(r, dtype=np.uint64) for r in rows]


# --- Beaver (section 4) ---------------------------------------------------------------------


@pytest.mark.spec("D4.4", "P4.2")
@pytest.mark.parametrize("operand", ["x", "y"])
@pytest.mark.parametrize("server", [0, 1])
def test_beaver_mul_refuses_one_short_share(impl: ModuleType, operand: str, server: int) -> None:
    # One server's share of the wrong length is enough to refuse: both are checked.
    channel = impl.Channel()
    triples = impl.Dealer(rng=impl.DeterministicRandomSource(1)).scalar_triples(3, channel=channel)
    good = (_vector(impl, [1, 2, 3]), _vector(impl, [4, 5, 6]))
    bad = list(good)
    bad[server] = _vector(impl, [1, 2])
    x, y = (tuple(bad), good) if operand == "x" else (good, tuple(bad))
    with pytest.raises(ShapeError) as info:
        impl.beaver_mul(x, y, triples, channel=channel)
    assert info.value.clause == "D4.4" and info.value.function == "beaver_mul"
    assert info.value.parameter == operand
    assert not [m for m in channel.messages if m.label == "beaver/open"]  # nothing opened


@pytest.mark.spec("D4.4", "P4.3")
@pytest.mark.parametrize("server", [0, 1])
def test_beaver_square_refuses_one_short_share(impl: ModuleType, server: int) -> None:
    channel = impl.Channel()
    pairs = impl.Dealer(rng=impl.DeterministicRandomSource(2)).square_pairs(3, channel=channel)
    x = [_vector(impl, [1, 2, 3]), _vector(impl, [4, 5, 6])]
    x[server] = _vector(impl, [1, 2, 3, 4])
    with pytest.raises(ShapeError) as info:
        impl.beaver_square((x[0], x[1]), pairs, channel=channel)
    assert info.value.clause == "D4.4" and info.value.function == "beaver_square"


@pytest.mark.spec("P4.4")
@pytest.mark.parametrize("server", [0, 1])
@pytest.mark.parametrize("fault", ["extra row", "missing row", "short row", "long row"])
def test_beaver_gram_refuses_a_malformed_share(impl: ModuleType, server: int, fault: str) -> None:
    channel = impl.Channel()
    triple = impl.Dealer(rng=impl.DeterministicRandomSource(3)).gram_triple(2, 3, channel=channel)
    good = [[1, 2, 3], [4, 5, 6]]
    bad = {
        "extra row": [*good, [7, 8, 9]],
        "missing row": good[:1],
        "short row": [good[0], [4, 5]],
        "long row": [[1, 2, 3, 0], good[1]],
    }[fault]
    x = [_rows(impl, good), _rows(impl, good)]
    x[server] = _rows(impl, bad)
    with pytest.raises(ShapeError) as info:
        impl.beaver_gram((x[0], x[1]), triple, channel=channel)
    assert info.value.clause == "P4.4" and info.value.function == "beaver_gram"
    assert info.value.parameter == f"x[{server}]"
    assert not channel.messages[2:]  # the dealer's two messages, no opening


@pytest.mark.spec("P4.4")
@pytest.mark.parametrize("fault", ["A has a row more", "C is not rows x rows"])
def test_beaver_gram_refuses_triple_shares_of_another_shape(impl: ModuleType, fault: str) -> None:
    # Malformed dealer material (one server's A^1 or C^1 of another shape) is refused by name
    # before any opening, not left to a broadcasting or zip error.
    channel = impl.Channel()
    dealer = impl.Dealer(rng=impl.DeterministicRandomSource(3))
    triple = dealer.gram_triple(2, 3, channel=channel)
    bigger = dealer.gram_triple(3, 3, channel=channel)
    wrong_c = type(triple[1])(triple[1].a, bigger[1].c)
    bad = bigger[1] if fault == "A has a row more" else wrong_c
    good = [[1, 2, 3], [4, 5, 6]]
    with pytest.raises(ShapeError) as info:
        impl.beaver_gram((_rows(impl, good), _rows(impl, good)), (triple[0], bad), channel=channel)
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("beaver_gram", "triple[1]", "P4.4")
    assert not channel.messages[4:]  # the dealer's four messages, no opening


# --- The worker's encoder and the distance inputs (sections 5, 6, 8) ------------------------


@pytest.mark.spec("D8.1", "C8.3")
def test_encode_update_refuses_a_matrix(impl: ModuleType) -> None:
    # A worker's update is a vector: both trees refuse a matrix's shape (D8.1), so the
    # published reason is the same in both; the worker is excluded, not the round aborted.
    with pytest.raises(ShapeError) as info:
        impl.encode_update([[1.0, 2.0], [3.0, 4.0]])
    assert info.value.clause == "D8.1" and info.value.function == "encode_update"
    assert "shape (2, 2)" in info.value.got
    x: list[Any] = [[0.1 * i, 0.2] for i in range(6)]
    x[2] = [[1.0, 2.0], [3.0, 4.0]]
    result = impl.secure_aggregate(x, impl.Krum(1), rng=impl.DeterministicRandomSource(1))
    assert result.valid == [0, 1, 3, 4, 5]
    assert result.excluded[2] == (
        "W2: input rejected before sharing: encode_update: need a vector (D8.1)"
    )


@pytest.mark.spec("D6.1")
@pytest.mark.parametrize(
    "bad",
    ["no rows", "empty rows", "ragged", "three dimensions"],
)
def test_distance_inputs_without_a_matrix_shape_are_refused(impl: ModuleType, bad: str) -> None:
    data: Any = {
        "no rows": np.zeros((0, 3)) if impl is opt else [],
        "empty rows": [[], []],
        "ragged": [[1.0, 2.0], [1.0]],
        "three dimensions": np.zeros((2, 2, 2)) if impl is opt else [[1.0, 2.0], [1.0, 2.0, 3.0]],
    }[bad]
    with pytest.raises(ShapeError) as info:
        impl.sq_distances(data)
    assert info.value.clause == "D6.1" and info.value.function == "sq_distances"
    if bad == "no rows":
        assert info.value.got == "0 rows"
    if bad == "empty rows":
        assert info.value.got == "d=0"


@pytest.mark.spec("D6.1", "C5.3")
def test_finite_inputs_whose_sums_overflow_are_accepted() -> None:
    # Every entry is finite, so D6.1 holds; only sums of them overflow. The optimized check
    # screens with one sum and looks element by element only when it is not finite: an
    # overflow of finite values must not be mistaken for an infinity.
    big = 1e308
    one = [[big, big, -big]]
    for tree in (ref, opt):
        assert as_list(tree.sq_distances(one)) == [[0]]
        assert as_list(tree.sq_distances(np.array(one) if tree is opt else one)) == [[0]]
    two = [[big, big], [-big, -big]]
    exact = 8 * Fraction(big) ** 2
    assert ref.sq_distances(two)[0][1] == exact
    assert opt.sq_distances(np.array(two)).tolist() == [[0.0, math.inf], [math.inf, 0.0]]
    # An infinity among them is still refused, naming its entry.
    with pytest.raises(ShapeError) as info:
        opt.sq_distances(np.array([[big, big, -big], [big, math.inf, 0.0]]))
    assert info.value.clause == "D6.1" and info.value.parameter == "x[1][1]"


# --- Paillier (section 13) -----------------------------------------------------------------


@pytest.mark.spec("D13.3")
@pytest.mark.parametrize("mod", [ref_p, opt_p], ids=["reference", "optimized"])
@pytest.mark.parametrize("k", [1.5, True, "2", None, 2.0])
def test_mul_scalar_refuses_a_scalar_that_is_not_an_int(mod: ModuleType, k: object) -> None:
    pk, _ = mod.keypair_from_primes(293, 433, insecure_test=True)
    c = mod.encrypt_with(pk, 5, 23)
    with pytest.raises(ShapeError) as info:
        mod.mul_scalar(pk, c, k)
    assert info.value.clause == "D13.3" and info.value.parameter == "k"
    # A negative int is reduced mod n, as the homomorphism needs.
    _, sk = mod.keypair_from_primes(293, 433, insecure_test=True)
    assert mod.decrypt(sk, mod.mul_scalar(pk, c, -1)) == pk.n - 5


@pytest.mark.spec("C13.8", "C13.6")
@pytest.mark.parametrize("mod", [ref_p, opt_p], ids=["reference", "optimized"])
def test_batch_check_finds_a_factor_of_n_through_the_product(mod: ModuleType) -> None:
    # Every value is in [1, n^2), so only the gcd of the product with n can catch the one
    # that shares a factor; the batch then names it by checking one by one.
    p, q = 293, 433
    pk, _ = mod.keypair_from_primes(p, q, insecure_test=True)
    good = [mod.encrypt_with(pk, m, 23) for m in range(5)]
    mod.check_ciphertexts("t", pk, good)
    for bad in (p, q * 5, p * q * 3 + p):  # gcd with n is p, q and p
        with pytest.raises(ShapeError) as info:
            mod.check_ciphertexts("t", pk, [*good[:2], bad, *good[2:]])
        assert info.value.clause == "C13.6" and info.value.got == "c shares a factor with n"


@pytest.mark.spec("C13.2", "D13.1")
@pytest.mark.parametrize(("seed", "repeats"), [(9, 1), (89, 2)])
def test_key_search_redraws_q_while_it_equals_p(seed: int, repeats: int) -> None:
    # Seed 9's first two 8-bit primes are both 229, seed 89's first three all 199 (shown here
    # from the same stream): the key must take the first draw that differs from p as q, in
    # both trees, however many draws repeat p.
    rng = ref.DeterministicRandomSource(seed)
    draws = [random_prime(8, rng=rng) for _ in range(repeats + 2)]
    assert draws[: repeats + 1] == [draws[0]] * (repeats + 1) and draws[-1] != draws[0]
    for mod, source in (
        (ref_p, ref.DeterministicRandomSource),
        (opt_p, opt.DeterministicRandomSource),
    ):
        pk, sk = mod.generate_keypair(16, rng=source(seed), insecure_test=True)
        assert (sk.p, sk.q) == (draws[0], draws[-1]) and pk.n == draws[0] * draws[-1]


# --- Encrypted averaging and packing (section 14) -------------------------------------------


KEY = opt_p.generate_keypair(512, rng=opt.DeterministicRandomSource(5), insecure_test=True)
AVERAGES: list[tuple[Callable[..., Any], type]] = [
    (ref_he.encrypted_average, ref.DeterministicRandomSource),
    (opt_he.encrypted_average, opt.DeterministicRandomSource),
]


@pytest.mark.spec("P14.3")
@pytest.mark.parametrize("run", AVERAGES, ids=["reference", "optimized"])
def test_encrypted_average_refuses_no_workers(run: tuple[Callable[..., Any], type]) -> None:
    average, source = run
    pk, sk = KEY
    with pytest.raises(ShapeError) as info:
        average([], public=pk, private=sk, rng=source(0))
    assert info.value.clause == "P14.3" and info.value.parameter == "inputs"


def _average_both(x: list[list[float]], tamper: Any = None) -> list[Any]:
    pk, sk = KEY
    results = []
    for average, source in AVERAGES:
        results.append(average(x, public=pk, private=sk, rng=source(2), tamper=tamper))
    assert results[0].channel.transcript_bytes() == results[1].channel.transcript_bytes()
    assert results[0].excluded == results[1].excluded
    return results


@pytest.mark.spec("P14.3", "C14.4")
def test_a_worker_of_another_length_is_excluded_by_its_index() -> None:
    x = [[1.0, 2.0, 3.0], [4.0, 5.0], [0.5, 0.25, 1.0]]
    for result in _average_both(x):
        assert result.valid == [0, 2] and result.d == 3
        assert result.excluded == {
            1: "W1: input rejected before encryption: encrypted_average: need length d=3 (P14.3)"
        }
        assert as_list(result.mean) == [0.75, 1.125, 2.0]


@pytest.mark.spec("C14.4")
@pytest.mark.parametrize("copies", [0, 2, 3])
def test_a_worker_without_exactly_one_message_is_excluded(copies: int) -> None:
    def tamper(messages: list[Message]) -> list[Message]:
        rest = [m for m in messages if m.sender != "W1"]
        return rest + [m for m in messages if m.sender == "W1"] * copies

    x = [[1.0, -2.0], [8.0, 8.0], [3.0, 4.0]]
    for result in _average_both(x, tamper):
        assert result.valid == [0, 2]
        assert result.excluded == {1: f"S: {copies} ciphertext messages, need exactly one (C14.4)"}
        assert as_list(result.mean) == [2.0, 1.0]
        assert [m.receiver for m in result.channel.messages if m.label == "aggregate"] == [
            "W0",
            "W2",
        ]


@pytest.mark.spec("C14.4", "C13.8")
def test_a_ciphertext_sharing_a_factor_with_n_excludes_its_worker() -> None:
    pk, sk = KEY
    width = ref_he.ciphertext_width(pk)

    def tamper(messages: list[Message]) -> list[Message]:
        return [
            Message(m.sender, m.receiver, m.label, sk.p.to_bytes(width, "little"))
            if m.sender == "W0"
            else m
            for m in messages
        ]

    x = [[1.0], [2.0], [4.0]]
    for result in _average_both(x, tamper):
        assert result.valid == [1, 2] and as_list(result.mean) == [3.0]
        assert "C13.6" in result.excluded[0] and "shares a factor" in result.excluded[0]
        assert str(sk.p) not in result.excluded[0]


@pytest.mark.spec("P14.2")
@pytest.mark.parametrize("packing", [RefPacking, OptPacking], ids=["reference", "optimized"])
def test_unpack_refuses_the_wrong_number_of_plaintexts(packing: type) -> None:
    p = packing(512, 4)
    values = [0.5, -1.0] * p.slots  # two plaintexts
    plaintexts = p.pack(values)
    assert len(plaintexts) == 2
    assert as_list(p.unpack(plaintexts, 1, len(values))) == values
    for wrong in (plaintexts[:1], [*plaintexts, plaintexts[0]], []):
        with pytest.raises(ShapeError) as info:
            p.unpack(wrong, 1, len(values))
        assert info.value.clause == "P14.2" and info.value.parameter == "plaintexts"
        assert info.value.got == str(len(wrong))
