"""Section 21: material of exactly the batch, checked before any message is sent (C21.4).

Each case builds one protocol call with one thing wrong (a lane count, a triple count, a mask's
width or high part, a width parameter) and must raise the stated class citing C21.4, naming
the protocol, with the protocol's channel still empty.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from sbrml.core.errors import ParameterError, ShapeError
from tests.spec.test_21_comparison import make_plane, material, ring

N = 3
Call = Callable[[Any], object]
Builder = Callable[[ModuleType, Any, Any], Call]


def planes(tree: ModuleType, count: int, lanes: int = N) -> list[tuple[Any, Any]]:
    # The top lane is set so that a plane of more lanes than N is not a plane of N lanes.
    top = 1 << (lanes - 1)
    return [(make_plane(tree, 5 | top, lanes), make_plane(tree, 3 | top, lanes))] * count


def shares(tree: ModuleType, lanes0: int = N, lanes1: int = N) -> tuple[Any, Any]:
    return ring(tree, [1] * lanes0), ring(tree, [2] * lanes1)


def and_layer(x: int, y: int, triples: int, lanes: int = N, other: int = N) -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        t0 = dealer.and_triples(N, triples, channel=offline)
        t1 = dealer.and_triples(other, triples, channel=offline)
        xs, ys = planes(tree, x, lanes), planes(tree, y, lanes)
        return lambda ch: tree.and_layer(xs, ys, (t0[0], t1[1]), channel=ch)

    return build


def less_than_bits(c: int, rho: int, triples: int, lanes: int = N, wide: str = "") -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        t = dealer.and_triples(lanes, triples, channel=offline)
        cs = [make_plane(tree, 6 | 1 << 129, 130) if wide == "c" else make_plane(tree, 6, N)] * c
        rs = planes(tree, rho, 130 if wide == "rho" else N)
        return lambda ch: tree.less_than_bits(cs, rs, t, lanes=N, channel=ch)

    return build


def less_than_zero(
    width: Any = 4, bits: int = 5, high: bool = False, lanes: int = N, gates: int = 5, x1: int = N
) -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        m = dealer.masks(lanes, bits, high=high, channel=offline)
        t = dealer.and_triples(lanes, gates, channel=offline)
        x = shares(tree, N, x1)
        return lambda ch: tree.less_than_zero(x, m, t, width=width, channel=ch)

    return build


def range_check(
    b: Any = 4,
    bits: int = 5,
    high: bool = True,
    lanes: int = N,
    dabits: int = N,
    gates: int = 7,
    x1: int = N,
) -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        m = dealer.masks(lanes, bits, high=high, channel=offline)
        d = dealer.dabits(dabits, channel=offline)
        t = dealer.and_triples(lanes, gates, channel=offline)
        x = shares(tree, N, x1)
        return lambda ch: tree.range_check(x, m, d, t, bits=b, channel=ch)

    return build


def bit_to_ring(lanes: int = N, other: int = N) -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        d = (dealer.dabits(N, channel=offline)[0], dealer.dabits(other, channel=offline)[1])
        b = (make_plane(tree, 1, lanes), make_plane(tree, 1 << (lanes - 1), lanes))
        return lambda ch: tree.bit_to_ring(b, d, channel=ch)

    return build


def select(b1: int = N, x: int = N, y: int = N, triples: int = N) -> Builder:
    def build(tree: ModuleType, dealer: Any, offline: Any) -> Call:
        t = dealer.scalar_triples(triples, channel=offline)
        args = shares(tree, N, b1), shares(tree, x, x), shares(tree, y, y)
        return lambda ch: tree.select(*args, t, channel=ch)

    return build


SHAPE_CASES: dict[str, tuple[str, Builder]] = {
    "and_layer: one triple too many": ("and_layer", and_layer(2, 2, 3)),
    "and_layer: one triple too few": ("and_layer", and_layer(2, 2, 1)),
    "and_layer: y shorter than x": ("and_layer", and_layer(2, 1, 2)),
    "and_layer: triples of two lane counts": ("and_layer", and_layer(2, 2, 2, other=4)),
    "and_layer: planes of 130 lanes": ("and_layer", and_layer(2, 2, 2, lanes=130)),
    "less_than_bits: rho shorter than c": ("less_than_bits", less_than_bits(5, 4, 7)),
    "less_than_bits: no bits": ("less_than_bits", less_than_bits(0, 0, 0)),
    "less_than_bits: A(m) + 1 triples": ("less_than_bits", less_than_bits(5, 5, 8)),
    "less_than_bits: A(m) - 1 triples": ("less_than_bits", less_than_bits(5, 5, 6)),
    "less_than_bits: triples of 4 lanes": ("less_than_bits", less_than_bits(5, 5, 7, lanes=4)),
    "less_than_bits: c of 130 lanes": ("less_than_bits", less_than_bits(5, 5, 7, wide="c")),
    "less_than_bits: rho of 130 lanes": ("less_than_bits", less_than_bits(5, 5, 7, wide="rho")),
    "less_than_zero: x shares of 3 and 4 lanes": ("less_than_zero", less_than_zero(x1=4)),
    "less_than_zero: mask of width w": ("less_than_zero", less_than_zero(bits=4)),
    "less_than_zero: mask of width w + 2": ("less_than_zero", less_than_zero(bits=6)),
    "less_than_zero: mask with high part": ("less_than_zero", less_than_zero(high=True)),
    "less_than_zero: mask of 4 lanes": ("less_than_zero", less_than_zero(lanes=4)),
    "less_than_zero: A(w) + 1 triples": ("less_than_zero", less_than_zero(gates=6)),
    "less_than_zero: no triples": ("less_than_zero", less_than_zero(gates=0)),
    "bit_to_ring: daBits of two lane counts": ("bit_to_ring", bit_to_ring(other=4)),
    "bit_to_ring: b of 130 lanes": ("bit_to_ring", bit_to_ring(lanes=130)),
    "select: b shares of 3 and 4 lanes": ("select", select(b1=4)),
    "select: x of 4 lanes": ("select", select(x=4)),
    "select: y of 2 lanes": ("select", select(y=2)),
    "select: 4 triples for 3 lanes": ("select", select(triples=4)),
    "select: 2 triples for 3 lanes": ("select", select(triples=2)),
    "range_check: x shares of 3 and 4 lanes": ("range_check", range_check(x1=4)),
    "range_check: mask of width b": ("range_check", range_check(bits=4)),
    "range_check: mask without high part": ("range_check", range_check(high=False)),
    "range_check: mask of 4 lanes": ("range_check", range_check(lanes=4)),
    "range_check: daBits of 4 lanes": ("range_check", range_check(dabits=4)),
    "range_check: A(m) - 1 triples": ("range_check", range_check(gates=6)),
    "range_check: no triples": ("range_check", range_check(gates=0)),
}

PARAMETER_CASES: dict[str, tuple[str, Builder]] = {
    **{
        f"less_than_zero: width {w!r}": ("less_than_zero", less_than_zero(width=w))
        for w in (0, 64, -1, True, False, 4.0, "4")
    },
    **{
        f"range_check: bits {b!r}": ("range_check", range_check(b=b))
        for b in (-1, 63, True, False, 4.0, None)
    },
}


def check_refused(tree: ModuleType, case: tuple[str, Builder], kind: type[Exception]) -> None:
    function, build = case
    dealer, offline = material(tree, 9)
    call = build(tree, dealer, offline)
    channel = tree.Channel()
    with pytest.raises(kind) as info:
        call(channel)
    error = info.value
    assert isinstance(error, ShapeError | ParameterError)
    assert (error.clause, error.function) == ("C21.4", function)
    assert channel.messages == [], "an error after a message has been sent"


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("case", sorted(SHAPE_CASES))
def test_wrong_material_is_refused_before_sending(impl: ModuleType, case: str) -> None:
    check_refused(impl, SHAPE_CASES[case], ShapeError)


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("case", sorted(PARAMETER_CASES))
def test_bad_widths_are_refused_before_sending(impl: ModuleType, case: str) -> None:
    check_refused(impl, PARAMETER_CASES[case], ParameterError)


@pytest.mark.spec("C21.4")
def test_material_of_exactly_the_batch_is_accepted(impl: ModuleType) -> None:
    # The builders above with nothing wrong run to the end: each refusal is the named fault.
    dealer, offline = material(impl, 9)
    for build in (
        and_layer(2, 2, 2),
        less_than_bits(5, 5, 7),
        less_than_zero(),
        range_check(),
        bit_to_ring(),
        select(),
    ):
        channel = impl.Channel()
        build(impl, dealer, offline)(channel)
        assert channel.messages


def _shorter(value: Any) -> Any:
    """A share or stack of planes with one entry fewer, in the tree's representation."""
    return value[:-1]


# One field of otherwise good material, wrong alone (mutation testing, session 10: every
# check joined its conditions with `or`, and `and` in their place survived).
TAMPERED: dict[str, tuple[str, str]] = {
    "mask r one lane short": ("masks", "r"),
    "mask planes one plane short": ("masks", "planes"),
    "mask high one lane short": ("masks", "high"),
    "mask of another lane count": ("masks", "lanes"),
    "mask of another width": ("masks", "bits"),
    "daBits q one lane short": ("dabits", "q"),
    "daBits of another lane count": ("dabits", "lanes"),
    "AND triples a one triple short": ("triples", "a"),
    "AND triples c one triple short": ("triples", "c"),
    "AND triples of another lane count": ("triples", "lanes"),
}


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("case", sorted(TAMPERED))
@pytest.mark.parametrize("server", [0, 1])
def test_material_wrong_in_one_field_is_refused_before_sending(
    impl: ModuleType, case: str, server: int
) -> None:
    import dataclasses

    kind, field = TAMPERED[case]
    dealer, offline = material(impl, 9)
    parts = {
        "masks": list(dealer.masks(N, 5, high=True, channel=offline)),
        "dabits": list(dealer.dabits(N, channel=offline)),
        "triples": list(dealer.and_triples(N, 7, channel=offline)),
    }
    own = parts[kind][server]
    value = getattr(own, field)
    wrong = value + 1 if field in ("lanes", "bits") else _shorter(value)
    parts[kind][server] = dataclasses.replace(own, **{field: wrong})
    channel = impl.Channel()
    m, d, t = (tuple(parts[k]) for k in ("masks", "dabits", "triples"))
    with pytest.raises(ShapeError) as info:
        impl.range_check(shares(impl), m, d, t, bits=4, channel=channel)
    assert (info.value.clause, info.value.function) == ("C21.4", "range_check")
    assert channel.messages == []


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("function", ["less_than_zero", "range_check", "select"])
def test_a_share_that_is_not_one_vector_is_a_shape_error(impl: ModuleType, function: str) -> None:
    # A matrix where a vector of lanes belongs: ShapeError citing C21.4, not a TypeError.
    dealer, offline = material(impl, 9)
    flat = shares(impl)
    matrix = (
        ([list(flat[0])], [list(flat[1])])
        if impl.__name__.endswith("reference")
        else (
            flat[0].reshape(1, N),
            flat[1].reshape(1, N),
        )
    )
    channel = impl.Channel()
    with pytest.raises(ShapeError) as info:
        if function == "less_than_zero":
            m = dealer.masks(N, 5, high=False, channel=offline)
            t = dealer.and_triples(N, 5, channel=offline)
            impl.less_than_zero(matrix, m, t, width=4, channel=channel)
        elif function == "range_check":
            m = dealer.masks(N, 5, high=True, channel=offline)
            d = dealer.dabits(N, channel=offline)
            t = dealer.and_triples(N, 7, channel=offline)
            impl.range_check(matrix, m, d, t, bits=4, channel=channel)
        else:
            t = dealer.scalar_triples(N, channel=offline)
            impl.select(matrix, flat, flat, t, channel=channel)
    assert (info.value.clause, info.value.function) == ("C21.4", function)
    assert channel.messages == []


@pytest.mark.spec("D21.1")
@pytest.mark.parametrize("form", ["bytes", "bytearray", "memoryview", "memoryview of u64"])
def test_planes_unpack_from_any_bytes_like_payload_and_a_wrong_size_cites_d21_1(
    impl: ModuleType, form: str
) -> None:
    import importlib

    dealer_module = importlib.import_module(f"{impl.__name__}.comparison_dealer")
    lanes, count = 70, 3  # two words a plane
    raw = bytes(range(7, 7 + 16 * count))
    raw = raw[:8] + bytes([raw[8] & 0x3F]) + bytes(7) + raw[16:]  # lanes >= 70 clear in plane 0
    payload: Any = {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "memoryview": memoryview(raw),
        "memoryview of u64": memoryview(raw).cast("Q"),
    }[form]
    got = dealer_module.unpack_planes(payload, lanes, count)
    as_ints = (
        [int(p) for p in got]
        if impl.__name__.endswith("reference")
        else [int.from_bytes(bytes(row), "little") for row in np.asarray(got)]
    )
    assert as_ints == [int.from_bytes(raw[16 * k : 16 * k + 16], "little") for k in range(count)]
    with pytest.raises(ShapeError) as info:
        dealer_module.unpack_planes(payload, lanes, count + 1)
    assert (info.value.clause, info.value.function) == ("D21.1", "unpack_planes")
    assert info.value.got == f"{16 * count} bytes"


@pytest.mark.spec("C21.4")
def test_the_optimized_protocols_take_python_lists_as_their_arrays() -> None:
    # Shares and planes given as Python lists of ints (ArrayLike) give what uint64 arrays
    # give: read as int64, a sum with a uint64 mask would turn into float64.
    import sbrml.optimized as opt

    def run(as_lists: bool) -> list[list[int]]:
        dealer, offline = material(opt, 9)
        m = dealer.masks(N, 5, high=True, channel=offline)
        d = dealer.dabits(N, channel=offline)
        t = dealer.and_triples(N, 7, channel=offline)
        x = ([1, 2, 40], [3, 2**64 - 1, 7])
        xs: Any = x if as_lists else tuple(np.array(v, dtype=np.uint64) for v in x)
        ranged = opt.range_check(xs, m, d, t, bits=4, channel=opt.Channel())
        pairs = [(make_plane(opt, 5, N), make_plane(opt, 3, N))] * 2
        planes = [tuple(p.tolist() for p in pair) for pair in pairs] if as_lists else pairs
        at = dealer.and_triples(N, 2, channel=offline)
        anded = opt.and_layer(planes, planes, at, channel=opt.Channel())
        return [[int(v) for v in ranged], [int(w) for p in anded for s in p for w in s]]

    assert run(as_lists=True) == run(as_lists=False)


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("bad", [1.5, True, -1, None], ids=["float", "bool", "negative", "none"])
@pytest.mark.parametrize("server", [0, 1])
def test_a_plane_that_is_not_one_is_refused_before_sending(
    impl: ModuleType, bad: Any, server: int
) -> None:
    # Mutation testing (session 10): the reference's check joined its conditions with `or`;
    # with `and` in their place a float plane raised TypeError and a bool plane passed.
    dealer, offline = material(impl, 9)
    triples = dealer.and_triples(N, 2, channel=offline)
    good = planes(impl, 2)
    wrong = list(good[0])
    wrong[server] = bad
    x = [tuple(wrong), good[1]]
    channel = impl.Channel()
    with pytest.raises(ShapeError) as info:
        impl.and_layer(x, good, triples, channel=channel)
    assert (info.value.clause, info.value.function) == ("C21.4", "and_layer")
    assert channel.messages == []


@pytest.mark.spec("C21.4")
@pytest.mark.parametrize("server", [0, 1])
def test_select_refuses_a_triple_short_at_either_server(impl: ModuleType, server: int) -> None:
    import dataclasses

    dealer, offline = material(impl, 9)
    triples = list(dealer.scalar_triples(N, channel=offline))
    triples[server] = dataclasses.replace(triples[server], a=triples[server].a[:-1])
    channel = impl.Channel()
    with pytest.raises(ShapeError) as info:
        impl.select(shares(impl), shares(impl), shares(impl), tuple(triples), channel=channel)
    assert (info.value.clause, info.value.function) == ("C21.4", "select")
    assert channel.messages == []
