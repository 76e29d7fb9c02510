"""The reference tree: readable pure Python, standard library only.

Public names are the same in ``sbrml.optimized``; see spec/ for what each implements.
"""

from sbrml.reference.beaver import (
    Dealer,
    GramShares,
    SquareShares,
    TripleProvider,
    TripleShares,
    beaver_gram,
    beaver_mul,
    beaver_square,
)
from sbrml.reference.channel import Channel, Message, pack_ring, unpack_ring
from sbrml.reference.distances import (
    distances_from_gram,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
    sq_distances,
)
from sbrml.reference.errors import (
    EncodingError,
    InsufficientWorkersError,
    MalformedShareError,
    ParameterError,
    RandomnessError,
    ShapeError,
    SpecError,
)
from sbrml.reference.randomness import (
    ChaCha20RandomSource,
    DeterministicRandomSource,
    RandomSource,
    SystemRandomSource,
    ring_elements,
    uniform_below,
)
from sbrml.reference.ring import decode, encode
from sbrml.reference.round import RoundResult, encode_update, secure_aggregate, worker_messages
from sbrml.reference.rules import RULES, Krum, MultiKrum
from sbrml.reference.sharing import reconstruct, share

__all__ = [
    "RULES",
    "ChaCha20RandomSource",
    "Channel",
    "Dealer",
    "DeterministicRandomSource",
    "EncodingError",
    "GramShares",
    "InsufficientWorkersError",
    "Krum",
    "MalformedShareError",
    "Message",
    "MultiKrum",
    "ParameterError",
    "RandomSource",
    "RandomnessError",
    "RoundResult",
    "ShapeError",
    "SpecError",
    "SquareShares",
    "SystemRandomSource",
    "TripleProvider",
    "TripleShares",
    "beaver_gram",
    "beaver_mul",
    "beaver_square",
    "decode",
    "distances_from_gram",
    "encode",
    "encode_update",
    "pack_ring",
    "reconstruct",
    "ring_elements",
    "secure_aggregate",
    "secure_sq_distances_gram",
    "secure_sq_distances_pairwise",
    "share",
    "sq_distances",
    "uniform_below",
    "unpack_ring",
    "worker_messages",
]
