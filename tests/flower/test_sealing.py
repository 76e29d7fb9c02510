"""Shares sealed to one server (sbrml.flower.sealing): only that server, in that context,
opens them; anything else is a malformed share (C8.3)."""

from __future__ import annotations

import pytest

import sbrml.optimized as opt
from sbrml.core.errors import MalformedShareError, ParameterError
from sbrml.flower.sealing import SEAL_OVERHEAD, ServerKey, open_sealed, seal, share_context

SHARE = bytes(range(256)) * 3
AAD = share_context(7, 3, 105, "S0")


def keys() -> tuple[ServerKey, ServerKey]:
    rng = opt.DeterministicRandomSource(1)
    return ServerKey.generate(rng=rng.derive("S0")), ServerKey.generate(rng=rng.derive("S1"))


def test_a_sealed_share_opens_with_its_key_and_context() -> None:
    s0, _ = keys()
    sealed = seal(SHARE, s0.public, AAD, rng=opt.DeterministicRandomSource(2))
    assert len(sealed) == len(SHARE) + SEAL_OVERHEAD and SHARE not in sealed
    assert s0.open(sealed, AAD) == SHARE == open_sealed(s0, sealed, AAD)


def test_the_ephemeral_key_comes_from_the_injected_rng() -> None:
    s0, _ = keys()
    one = seal(SHARE, s0.public, AAD, rng=opt.DeterministicRandomSource(2))
    assert one == seal(SHARE, s0.public, AAD, rng=opt.DeterministicRandomSource(2))
    assert one != seal(SHARE, s0.public, AAD, rng=opt.DeterministicRandomSource(3))


@pytest.mark.spec("C8.3")
@pytest.mark.parametrize(
    "case",
    ["other server", "other round", "other node", "other run", "to S1", "flipped", "short"],
)
def test_anything_but_its_server_in_its_context_fails_as_a_malformed_share(case: str) -> None:
    s0, s1 = keys()
    sealed = seal(SHARE, s0.public, AAD, rng=opt.DeterministicRandomSource(2))
    key, aad = s0, AAD
    if case == "other server":
        key = s1
    elif case == "other round":
        aad = share_context(7, 4, 105, "S0")
    elif case == "other node":
        aad = share_context(7, 3, 106, "S0")
    elif case == "other run":
        aad = share_context(8, 3, 105, "S0")
    elif case == "to S1":
        aad = share_context(7, 3, 105, "S1")
    elif case == "flipped":
        sealed = sealed[:40] + bytes([sealed[40] ^ 1]) + sealed[41:]
    else:
        sealed = sealed[: SEAL_OVERHEAD - 1]
    with pytest.raises(MalformedShareError) as info:
        key.open(sealed, aad)
    assert info.value.clause == "C8.3" and SHARE.hex()[:16] not in str(info.value)


def test_a_low_order_ephemeral_key_is_refused_not_raised_raw() -> None:
    s0, _ = keys()
    with pytest.raises(MalformedShareError):
        s0.open(bytes(32) + bytes(16), AAD)  # the all-zero point: X25519 refuses it


def test_a_public_key_must_be_32_bytes() -> None:
    with pytest.raises(ParameterError) as info:
        seal(SHARE, b"short", AAD, rng=opt.DeterministicRandomSource(2))
    assert "32 bytes" in str(info.value) and "length 5" in str(info.value)


@pytest.mark.spec("C2.9", "C8.1")
def test_a_client_reseeded_every_round_never_repeats_a_mask_or_a_key() -> None:
    # A stateless ClientApp that builds its source from one seed in every round: the labels
    # carry run, round and node, so nothing repeats across rounds (before: S0's share and the
    # ephemeral key were byte-identical in both rounds).
    from flwr.app import ConfigRecord

    from sbrml.flower.client import seal_update
    from sbrml.flower.records import CONFIG_PREFIX

    s0, s1 = keys()
    config = ConfigRecord(
        {
            f"{CONFIG_PREFIX}frac-bits": 16,
            f"{CONFIG_PREFIX}bound-log2": 20,
            f"{CONFIG_PREFIX}key-S0": s0.public,
            f"{CONFIG_PREFIX}key-S1": s1.public,
        }
    )
    x = [0.5, -0.25, 1.0]

    def sealed(server_round: int) -> dict[str, bytes]:
        rng = opt.DeterministicRandomSource(1234)
        out = seal_update(x, config, run_id=7, server_round=server_round, node_id=105, rng=rng)
        return {s: bytes(out[s]) for s in ("S0", "S1")}  # type: ignore[arg-type]

    one, two = sealed(1), sealed(2)
    for s, key in (("S0", s0), ("S1", s1)):
        assert one[s][:32] != two[s][:32]  # the ephemeral public keys differ
        shares = [key.open(v[s], share_context(7, r, 105, s)) for r, v in ((1, one), (2, two))]
        assert shares[0] != shares[1]
