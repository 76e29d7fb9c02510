"""The two servers and the dealer of mode ``two-server``, beside the ServerApp (issue 17).

**A simulation of the trust model, not a deployment.** ``SimulatedServers`` holds two
objects, ``S0`` and ``S1``, each with its own X25519 key; the workers seal share ``s`` to
``S<s>``'s key (``sbrml.flower.client``), so the SuperLink and the strategy relay ciphertexts,
and each server object opens only the shares sealed to it. The round then runs P8.1 steps 2-5
(``sbrml.optimized.round.server_round``, the steps a deployment's ``sbrml serve`` runs, P23.1)
with both servers and the dealer in the ServerApp's process, on the in-memory channel. So one
process holds both private keys: whoever controls the ServerApp could open both shares of a
worker and learn its update. The non-collusion the protocol needs (D8.1) holds only when
``S0`` and ``S1`` run as separate processes under separate control — the deployment of spec
section 23 (``sbrml serve`` for each server and the dealer, mutual TLS), to which a ServerApp
would forward ciphertext ``s`` unopened; that forwarding is not built here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sbrml.api import AggregationResult, two_server_result
from sbrml.core.errors import SpecError
from sbrml.core.randomness import RandomSource
from sbrml.core.round import PhaseClock, worker_name
from sbrml.flower.sealing import ServerKey, share_context
from sbrml.optimized.beaver import Dealer
from sbrml.optimized.channel import Channel, Message, unpack_ring
from sbrml.optimized.ring import F64, decode
from sbrml.optimized.round import server_round
from sbrml.optimized.round_offline import RoundSetup, offline_material

__all__ = ["SERVERS", "SealedUpdate", "SimulatedServers"]

SERVERS = ("S0", "S1")


@dataclass(frozen=True)
class SealedUpdate:
    """One worker's two sealed shares (``{"S0": ..., "S1": ...}``, as ``seal_update`` makes
    them) and the context they were sealed under (``share_context``)."""

    shares: Mapping[str, object]
    run_id: int
    server_round: int
    node_id: int

    def context(self, server: str) -> bytes:
        return share_context(self.run_id, self.server_round, self.node_id, server)


class SimulatedServers:
    """``S0``, ``S1`` and the dealer in the ServerApp's process (see the module docstring)."""

    def __init__(self, *, rng: RandomSource) -> None:
        # Each server's key comes from its own stream (C8.1's one-source-per-party habit).
        self._keys = {s: ServerKey.generate(rng=rng.derive(f"{s}/key")) for s in SERVERS}

    @property
    def public_keys(self) -> dict[str, bytes]:
        """``{"S0": pk_0, "S1": pk_1}``, 32 bytes each, as the workers receive them."""
        return {s: key.public for s, key in self._keys.items()}

    def _open(self, update: SealedUpdate, server: str) -> bytes:
        return self._keys[server].open(update.shares.get(server), update.context(server))  # type: ignore[arg-type]

    def aggregate(
        self,
        setup: RoundSetup,
        workers: Sequence[SealedUpdate | str],
        *,
        rng: RandomSource,
    ) -> AggregationResult:
        """P8.1 steps 0 and 2-5 on the sealed updates of ``setup.n`` workers, in order.

        ``workers[i]`` is worker ``i``'s sealed update, or the published reason it sent none
        (a refused input, a reply the strategy could not read). Each server opens the shares
        sealed to it; a share that does not open is not delivered, so the round excludes the
        worker (C8.3) with every failing server's reason (both when both shares fail). The
        result is built by ``sbrml.api.two_server_result``, as ``secure_aggregate``'s is.
        ``rng`` is the round's source: the dealer draws from ``rng.derive("dealer")`` and
        ``S1`` from ``rng.derive("S1")`` (C8.1), as in ``secure_aggregate``.
        Raises the round's ``SpecError``s, e.g. ``InsufficientWorkersError`` (C8.4) when too
        few workers remain.
        """
        channel = Channel(record=False)  # byte counts only: no copy of a share outlives the round
        clock = PhaseClock()
        dealer = Dealer(rng=rng.derive("dealer"))
        material = offline_material(setup, dealer, dealer, channel=channel, clock=clock)
        errors: dict[int, str] = {}
        for i, update in enumerate(workers):
            if isinstance(update, str):
                errors[i] = f"{worker_name(i)}: {update}"
                continue
            failures = []
            for server in SERVERS:
                try:
                    payload = self._open(update, server)
                except SpecError as err:
                    failures.append(
                        f"its share sealed to {server} does not open: {err.public_reason()}"
                    )
                    continue
                channel.deliver(Message(worker_name(i), server, "share", payload))
            if failures:
                # Both servers' reasons are kept: a worker whose two shares fail says so twice.
                errors[i] = f"{worker_name(i)}: " + "; ".join(failures)
        clock.lap("share")
        result = server_round(
            setup,
            material,
            channel=channel,
            clock=clock,
            dealer=dealer,
            s1_rng=rng,
            worker_errors=errors,
        )
        return two_server_result(result, impl="optimized")

    def reveal(self, update: SealedUpdate, setup: RoundSetup) -> F64 | None:
        """SIMULATION ONLY: both shares opened and added, the worker's update in the clear.

        No party of the protocol can do this; the omniscient adversary of the simulation
        (``sbrml.flower.adversary``) uses it to read the honest updates. None if a share does
        not open.
        """
        try:
            parts = [
                unpack_ring("reveal", server, self._open(update, server), setup.d)
                for server in SERVERS
            ]
        except SpecError:
            return None
        return np.asarray(decode(parts[0] + parts[1], frac_bits=setup.frac_bits))
