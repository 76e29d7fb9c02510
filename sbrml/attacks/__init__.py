"""Byzantine attacks (spec/16-attacks.md): vector attacks and attacks on the secure protocol.

One class per attack: hyperparameters checked at construction, data at the call, randomness
only from the injected ``rng``. Vector attacks return the f vectors the Byzantine workers
send; protocol attacks return a ``tamper`` hook for ``secure_aggregate``.
"""

from sbrml.attacks.protocol import (
    InconsistentShares,
    MalformedShare,
    MissingShare,
    NonFiniteInput,
    RingWrap,
)
from sbrml.attacks.vector import (
    ALIE,
    ATTACKS,
    IPM,
    Gaussian,
    Mimic,
    OptimalALIE,
    OptimalIPM,
    SignFlip,
    alie_z,
    normal_draws,
)

__all__ = [
    "ALIE",
    "ATTACKS",
    "IPM",
    "Gaussian",
    "InconsistentShares",
    "MalformedShare",
    "Mimic",
    "MissingShare",
    "NonFiniteInput",
    "OptimalALIE",
    "OptimalIPM",
    "RingWrap",
    "SignFlip",
    "alie_z",
    "normal_draws",
]
