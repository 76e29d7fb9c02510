"""The optimized tree: NumPy (and gmpy2 where big integers appear), same API as the reference.

Errors and the channel/transcript are shared with ``sbrml.reference``; everything numeric
is reimplemented on uint64 arrays and must agree with the reference byte for byte.
"""

from sbrml.core.errors import (
    EncodingError,
    InsufficientWorkersError,
    MalformedShareError,
    ParameterError,
    RandomnessError,
    ShapeError,
    SpecError,
)
from sbrml.core.network import gate_count
from sbrml.core.rules import is_distance_rule
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
from sbrml.optimized.comparison import (
    and_layer,
    bit_to_ring,
    less_than_bits,
    less_than_zero,
    range_check,
    select,
)
from sbrml.optimized.comparison_dealer import (
    AndTriples,
    DaBitShares,
    MaskShares,
    plane_bytes,
)
from sbrml.optimized.coordinatewise import Bulyan, CoordinateMedian, Meamed, Mean, TrimmedMean
from sbrml.optimized.distances import (
    distances_from_gram,
    secure_sq_distances_gram,
    secure_sq_distances_pairwise,
    sq_distances,
)
from sbrml.optimized.geometric import (
    CenteredClipping,
    Medoid,
    MinimumDiameterAveraging,
    Smea,
)
from sbrml.optimized.geometric_median import GeometricMedian
from sbrml.optimized.library import PREAGGREGATIONS, RULES
from sbrml.optimized.preaggregation import (
    AdaptiveClipping,
    Bucketing,
    Compose,
    NearestNeighborMixing,
    StaticClipping,
    compose,
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
from sbrml.optimized.rules import Krum, MultiKrum
from sbrml.optimized.sharing import reconstruct, share

__all__ = [
    "PREAGGREGATIONS",
    "RULES",
    "AdaptiveClipping",
    "AndTriples",
    "Bucketing",
    "Bulyan",
    "CenteredClipping",
    "ChaCha20RandomSource",
    "Channel",
    "Compose",
    "CoordinateMedian",
    "DaBitShares",
    "Dealer",
    "DeterministicRandomSource",
    "EncodingError",
    "GeometricMedian",
    "GramShares",
    "InsufficientWorkersError",
    "Krum",
    "MalformedShareError",
    "MaskShares",
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
    "and_layer",
    "beaver_gram",
    "beaver_mul",
    "beaver_square",
    "bit_to_ring",
    "compose",
    "decode",
    "distances_from_gram",
    "encode",
    "encode_update",
    "gate_count",
    "is_distance_rule",
    "less_than_bits",
    "less_than_zero",
    "pack_ring",
    "plane_bytes",
    "range_check",
    "reconstruct",
    "ring_elements",
    "secure_aggregate",
    "secure_sq_distances_gram",
    "secure_sq_distances_pairwise",
    "select",
    "share",
    "sq_distances",
    "uniform_below",
    "unpack_ring",
    "worker_messages",
]
