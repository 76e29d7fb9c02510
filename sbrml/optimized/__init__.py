"""The optimized tree: NumPy (and gmpy2 where big integers appear), same API as the reference.

Errors and the channel/transcript are shared with ``sbrml.reference``; everything numeric
is reimplemented on uint64 arrays and must agree with the reference byte for byte.
"""

from sbrml.optimized.beaver import (
    Dealer,
    GramShares,
    SquareShares,
    TripleProvider,
    TripleShares,
    beaver_gram,
    beaver_mul,
    beaver_square,
)
from sbrml.optimized.channel import Channel, Message, pack_ring, unpack_ring
from sbrml.optimized.distances import (
    distances_from_gram,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
    sq_distances,
)
from sbrml.optimized.randomness import (
    ChaCha20RandomSource,
    DeterministicRandomSource,
    RandomSource,
    SystemRandomSource,
    ring_elements,
    uniform_below,
)
from sbrml.optimized.ring import decode, encode
from sbrml.optimized.round import RoundResult, encode_update, secure_aggregate, worker_messages
from sbrml.optimized.rules import RULES, Krum, MultiKrum
from sbrml.optimized.sharing import reconstruct, share
from sbrml.reference.errors import (
    EncodingError,
    InsufficientWorkersError,
    MalformedShareError,
    ParameterError,
    RandomnessError,
    ShapeError,
    SpecError,
)

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
