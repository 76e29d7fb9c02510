"""A SIMULATION OF AN OMNISCIENT ADVERSARY for Flower runs (spec D16.1-D16.6; issue 17).

The vector attacks of ``sbrml.attacks`` (ALIE, IPM, sign flip, mimic, their optimal forms)
compute the Byzantine vectors from every honest update of the round. No Flower client has
those, and in mode ``two-server`` no party has them at all (each server holds one share). So
these attacks run on the server side: the Byzantine nodes reply with a marker
(``byzantine_reply``) and ``SecureRobustStrategy``, given an ``OmniscientAdversary``, reads the
honest updates of the round — in mode ``two-server`` by opening both sealed shares, which only
a simulation can — computes ``attack(honest)`` and submits its rows as the Byzantine nodes'
updates (sealed to the servers, like any worker's, in mode ``two-server``). This models the
strongest adversary of the literature; it is not something a deployment would contain.

Data attacks need no such help: label flipping (D16.9) runs in the Byzantine clients.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from flwr.app import Context, Message, MetricRecord
from numpy.typing import NDArray

from sbrml.core.errors import ParameterError
from sbrml.core.randomness import RandomSource
from sbrml.flower.records import update_record

__all__ = ["BYZANTINE_KEY", "OmniscientAdversary", "byzantine_reply"]

F64 = NDArray[np.float64]
BYZANTINE_KEY = "sbrml-byzantine"  # a reply's MetricRecord entry: 1 on a Byzantine node's marker


def byzantine_reply(message: Message, context: Context) -> Message:
    """A Byzantine node's reply under an omniscient attack: no update, only the marker (and
    the node's ``partition-id``, for the logs: the rows are ordered by node id); the adversary
    fills it in."""
    record = MetricRecord({"num-examples": 0, BYZANTINE_KEY: 1})
    if "partition-id" in context.node_config:
        record["partition-id"] = int(context.node_config["partition-id"])
    return Message(update_record(None, None, record), reply_to=message)


class OmniscientAdversary:
    """SIMULATION ONLY: ``attack``'s vectors, from every honest update, for the Byzantine nodes.

    ``attack``: a vector attack of ``sbrml.attacks`` (``ATTACKS[name](f, ...)``), called as
    ``attack(honest, rng=rng.derive(f"attack/{t}"))`` in round ``t`` (from 0) — the label
    ``sbrml simulate`` uses, so that a seeded run draws the same Gaussian attack. The rows go to
    the Byzantine nodes in the order of their node ids (the rows' order).
    """

    def __init__(self, attack: Any, *, rng: RandomSource) -> None:
        f = getattr(attack, "f", None)
        if not callable(attack) or isinstance(f, bool) or not isinstance(f, int) or f < 1:
            raise ParameterError(
                "OmniscientAdversary",
                "attack",
                "a vector attack of sbrml.attacks (callable, with f >= 1)",
                "C16.1",
                type(attack).__name__,
            )
        if not (
            callable(getattr(rng, "random_bytes", None)) and callable(getattr(rng, "derive", None))
        ):
            raise ParameterError(
                "OmniscientAdversary", "rng", "a RandomSource", "C2.8", type(rng).__name__
            )
        self.attack = attack
        self.f = f
        self._rng = rng

    @property
    def name(self) -> str:
        return str(getattr(self.attack, "name", type(self.attack).__name__))

    def __call__(self, t: int, honest: F64) -> F64:
        """The ``f`` Byzantine rows of round ``t`` from the honest rows (``h x d`` float64)."""
        return np.asarray(self.attack(honest, rng=self._rng.derive(f"attack/{t}")), np.float64)
