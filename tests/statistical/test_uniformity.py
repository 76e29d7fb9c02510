"""Uniformity of shares and of every payload a server receives (C3.2, C4.4, C8.7).

Each test is a chi-squared goodness-of-fit test against the uniform distribution with a
fixed seed and significance level ALPHA = 0.001; the critical value comes from the
Wilson-Hilferty approximation. Fixed seeds make the verdict deterministic: a biased sampler
(for example one that drops a value, or leaks the input's structure) fails every run.
The `slow` variants draw ten times as many samples and run under `make thorough`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.core.channel import Message

ALPHA_Z = 3.090232306167813  # the 0.999 quantile of the standard normal: alpha = 0.001


def chi2_critical(dof: int) -> float:
    """Wilson-Hilferty approximation of the (1 - alpha) quantile of chi-squared(dof)."""
    h = 2.0 / (9.0 * dof)
    return dof * (1.0 - h + ALPHA_Z * math.sqrt(h)) ** 3


def chi2_uniform(counts: np.ndarray) -> float:
    expected = counts.sum() / counts.size
    return float(((counts - expected) ** 2 / expected).sum())


def assert_uniform_u64(values: np.ndarray, label: str) -> None:
    """Top byte, bottom byte and bit-level balance of uint64 values are each uniform."""
    v = np.asarray(values, dtype=np.uint64).ravel()
    assert v.size >= 256 * 20, f"{label}: too few samples ({v.size}) for the test"
    for name, part in (
        ("top byte", v >> np.uint64(56)),
        ("low byte", v & np.uint64(0xFF)),
        ("middle byte", (v >> np.uint64(29)) & np.uint64(0xFF)),
    ):
        counts = np.bincount(part.astype(np.intp), minlength=256)
        stat = chi2_uniform(counts)
        assert stat < chi2_critical(255), (
            f"{label}: {name} chi2={stat:.1f} >= {chi2_critical(255):.1f}"
        )
    bits = np.unpackbits(v.view(np.uint8)).reshape(-1, 64).sum(axis=0)
    # Each of the 64 bit positions is a fair coin: chi2 with 1 dof per position, summed.
    n = v.size
    stat = float((((bits - n / 2) ** 2) / (n / 4)).sum())
    assert stat < chi2_critical(64), f"{label}: bit balance chi2={stat:.1f}"


def test_the_test_rejects_a_biased_sampler() -> None:
    # The check is not vacuous: values missing one top-byte value, or with a stuck bit, fail.
    rng = opt.DeterministicRandomSource(0)
    good = opt.ring_elements(rng, 40_000)
    assert_uniform_u64(good, "good")
    biased = good.copy()
    biased[(biased >> np.uint64(56)) == 0] |= np.uint64(1) << np.uint64(56)
    with pytest.raises(AssertionError):
        assert_uniform_u64(biased, "biased")
    stuck = good | np.uint64(1 << 17)
    with pytest.raises(AssertionError):
        assert_uniform_u64(stuck, "stuck")


@pytest.mark.spec("C3.2", "C2.6")
@pytest.mark.parametrize("secret", ["zeros", "constant", "ramp"])
def test_64_bit_shares_are_uniform(secret: str) -> None:
    size = 40_000
    x = {
        "zeros": np.zeros(size, dtype=np.uint64),
        "constant": np.full(size, 12345, dtype=np.uint64),
        "ramp": np.arange(size, dtype=np.uint64) << np.uint64(40),
    }[secret]
    s0, s1 = opt.share(x, rng=opt.DeterministicRandomSource(7))
    assert_uniform_u64(s0, f"{secret} share 0")
    assert_uniform_u64(s1, f"{secret} share 1")


@pytest.mark.spec("C3.2")
def test_reference_shares_are_uniform() -> None:
    x = [0] * 6000
    s0, s1 = ref.share(x, rng=ref.DeterministicRandomSource(3))
    assert_uniform_u64(np.array(s0, dtype=np.uint64), "ref share 0")
    assert_uniform_u64(np.array(s1, dtype=np.uint64), "ref share 1")


def received(messages: Iterable[Message], server: str, labels: set[str]) -> np.ndarray:
    parts = [
        np.frombuffer(bytes(m.payload), dtype="<u8")
        for m in messages
        if m.receiver == server and m.label in labels
    ]
    return np.concatenate(parts).astype(np.uint64)


VIEW_LABELS = {"share", "offline/gram", "offline/squares", "beaver/open"}


def _structured_inputs(n: int, d: int, kind: str) -> np.ndarray:
    if kind == "zeros":
        return np.zeros((n, d))
    if kind == "identical":
        return np.ones((n, d))
    return np.linspace(-1, 1, n * d).reshape(n, d)


@pytest.mark.spec("C8.7", "C4.4")
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
@pytest.mark.parametrize("kind", ["zeros", "identical", "ramp"])
@pytest.mark.parametrize("server", ["S0", "S1"])
def test_each_server_view_is_uniform(variant: str, kind: str, server: str) -> None:
    n, d = 7, 1200
    x = _structured_inputs(n, d, kind)
    result = opt.secure_aggregate(
        x, opt.Krum(1), rng=opt.DeterministicRandomSource(21), variant=variant
    )
    view = received(result.channel.messages, server, VIEW_LABELS)
    assert_uniform_u64(view, f"{server} view ({variant}, {kind})")


@pytest.mark.spec("C8.7")
@pytest.mark.parametrize("server", ["S0", "S1"])
def test_each_server_view_is_uniform_reference(server: str) -> None:
    x = [[0.0] * 400 for _ in range(5)]
    result = ref.secure_aggregate(x, ref.Krum(1), rng=ref.DeterministicRandomSource(5))
    assert_uniform_u64(received(result.channel.messages, server, VIEW_LABELS), f"ref {server}")


@pytest.mark.slow
@pytest.mark.spec("C8.7", "C4.4")
@pytest.mark.parametrize("variant", ["gram", "pairwise"])
@pytest.mark.parametrize("server", ["S0", "S1"])
def test_each_server_view_is_uniform_large(variant: str, server: str) -> None:
    n, d = 9, 20_000
    for seed in range(3):
        x = _structured_inputs(n, d, "ramp")
        result = opt.secure_aggregate(
            x, opt.MultiKrum(2), rng=opt.DeterministicRandomSource(seed), variant=variant
        )
        assert_uniform_u64(
            received(result.channel.messages, server, VIEW_LABELS), f"{server} seed {seed}"
        )


def _masked_view(x: np.ndarray, seed: int, drop: bool) -> tuple[np.ndarray, np.ndarray]:
    """The server's masked inputs, and what is left of them once it knows b_u (and s_sk of
    the dropped worker, with ``drop``) for all survivors but the last (P20.1 round 4)."""
    import sbrml.optimized.mask_protocol as mp
    import sbrml.reference.masking_primitives as prim

    captured: list[Message] = []

    def tap(stage: str, messages: list[Message]) -> list[Message]:
        if stage == "input":
            captured.extend(messages)
        return messages

    n, d = x.shape
    dropped = n - 1 if drop else n
    result = mp.masked_aggregate(
        x,
        t=n - 1,
        rng=opt.DeterministicRandomSource(seed),
        dropouts={dropped: "input"} if drop else {},
        tamper=tap,
    )
    assert result.counted == list(range(dropped))
    ys = {int(m.sender[1:]): np.frombuffer(m.payload, dtype="<u8") for m in captured}

    def secrets(u: int) -> bytes:
        return opt.DeterministicRandomSource(seed).derive(f"worker/{u}").random_bytes(96)

    left = []
    for u in range(dropped - 1):
        terms = [(-1, prim.self_seed(secrets(u)[64:96]))]
        if drop:
            s_pk_u = prim.x25519_public(secrets(u)[32:64])
            pair = prim.pairwise_seed(prim.x25519(secrets(dropped)[32:64], s_pk_u))
            terms.append((-1, pair))  # u < dropped added +PRG(s_u,dropped)
        left.append(mp.apply_masks(ys[u], terms, d))
    return np.concatenate(list(ys.values())), np.concatenate(left)


@pytest.mark.spec("C20.7")
@pytest.mark.parametrize("kind", ["zeros", "extreme"])
@pytest.mark.parametrize("drop", [False, True], ids=["all", "one-dropped"])
def test_masked_inputs_are_uniform_to_the_server(kind: str, drop: bool) -> None:
    n, d = 5, 2048
    x = np.zeros((n, d)) if kind == "zeros" else np.full((n, d), 2.0**44) * (-1) ** np.arange(d)
    masked, unmasked = _masked_view(x, 11, drop)
    assert_uniform_u64(masked, f"masked inputs ({kind})")
    assert_uniform_u64(unmasked, f"masked inputs without self masks ({kind})")
