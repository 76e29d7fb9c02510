"""The reference tree: readable pure Python, standard library only.

Public names are the same in ``sbrml.optimized``; see spec/ for what each implements.
"""

from sbrml.core.channel import Channel, Message
from sbrml.core.errors import (
    EncodingError,
    InsufficientWorkersError,
    MalformedShareError,
    ParameterError,
    RandomnessError,
    ShapeError,
    SpecError,
)
from sbrml.core.round import RoundResult
from sbrml.core.rules import is_distance_rule
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
from sbrml.reference.channel import pack_ring, unpack_ring
from sbrml.reference.coordinatewise import Bulyan, CoordinateMedian, Meamed, Mean, TrimmedMean
from sbrml.reference.distances import (
    distances_from_gram,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
    sq_distances,
)
from sbrml.reference.geometric import (
    CenteredClipping,
    Medoid,
    MinimumDiameterAveraging,
    Smea,
)
from sbrml.reference.geometric_median import GeometricMedian
from sbrml.reference.library import PREAGGREGATIONS, RULES
from sbrml.reference.preaggregation import (
    AdaptiveClipping,
    Bucketing,
    Compose,
    NearestNeighborMixing,
    StaticClipping,
    compose,
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
from sbrml.reference.round import encode_update, secure_aggregate, worker_messages
from sbrml.reference.rules import Krum, MultiKrum
from sbrml.reference.sharing import reconstruct, share

__all__ = [
    "PREAGGREGATIONS",
    "RULES",
    "AdaptiveClipping",
    "Bucketing",
    "Bulyan",
    "CenteredClipping",
    "ChaCha20RandomSource",
    "Channel",
    "Compose",
    "CoordinateMedian",
    "Dealer",
    "DeterministicRandomSource",
    "EncodingError",
    "GeometricMedian",
    "GramShares",
    "InsufficientWorkersError",
    "Krum",
    "MalformedShareError",
    "Meamed",
    "Mean",
    "Medoid",
    "Message",
    "MinimumDiameterAveraging",
    "MultiKrum",
    "NearestNeighborMixing",
    "ParameterError",
    "RandomSource",
    "RandomnessError",
    "RoundResult",
    "ShapeError",
    "Smea",
    "SpecError",
    "SquareShares",
    "StaticClipping",
    "SystemRandomSource",
    "TrimmedMean",
    "TripleProvider",
    "TripleShares",
    "beaver_gram",
    "beaver_mul",
    "beaver_square",
    "compose",
    "decode",
    "distances_from_gram",
    "encode",
    "encode_update",
    "is_distance_rule",
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
