"""sbrml: secure, Byzantine-robust aggregation (spec + reference + optimized).

The front door (README, "Python API")::

    import numpy as np
    import sbrml

    x = np.random.default_rng(0).normal(size=(9, 1000))    # one row per worker
    result = sbrml.secure_aggregate(x, sbrml.rule("nnm+krum", f=2))
    result.aggregate, result.weights, result.excluded

Rules are classes (``sbrml.Krum(2)``) or names (``sbrml.rule("krum", f=2)``); every protocol
is one call (``secure_aggregate``, ``masked_mean``, ``encrypted_mean``) returning an
``AggregationResult``; errors are ``SpecError`` subclasses carrying the spec clause.

The names are loaded on first use, so that ``import sbrml.reference`` (standard library only)
never loads NumPy. ``sbrml.reference`` and ``sbrml.optimized`` are the two trees themselves.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"
SPEC_VERSION = "0.8"

if TYPE_CHECKING:
    from sbrml.api import (
        AggregationResult,
        encrypted_mean,
        masked_mean,
        rule,
        secure_aggregate,
    )
    from sbrml.core.errors import (
        EncodingError,
        InsufficientWorkersError,
        MalformedShareError,
        ParameterError,
        RandomnessError,
        ShapeError,
        SpecError,
    )
    from sbrml.optimized import (
        PREAGGREGATIONS,
        RULES,
        AdaptiveClipping,
        Bucketing,
        Bulyan,
        CenteredClipping,
        CoordinateMedian,
        DeterministicRandomSource,
        GeometricMedian,
        Krum,
        Meamed,
        Mean,
        Medoid,
        MinimumDiameterAveraging,
        MultiKrum,
        NearestNeighborMixing,
        Smea,
        StaticClipping,
        SystemRandomSource,
        TrimmedMean,
    )
    from sbrml.optimized.geometric import CovarianceFilter
    from sbrml.optimized.paillier import generate_keypair
    from sbrml.optimized.paillier_triples import PaillierTripleProvider

# name -> the module that defines it; loaded by __getattr__ on first use (PEP 562).
_API = ("AggregationResult", "encrypted_mean", "masked_mean", "rule", "secure_aggregate")
_RULES = (
    "PREAGGREGATIONS",
    "RULES",
    "AdaptiveClipping",
    "Bucketing",
    "Bulyan",
    "CenteredClipping",
    "CoordinateMedian",
    "GeometricMedian",
    "Krum",
    "Meamed",
    "Mean",
    "Medoid",
    "MinimumDiameterAveraging",
    "MultiKrum",
    "NearestNeighborMixing",
    "Smea",
    "StaticClipping",
    "TrimmedMean",
    "DeterministicRandomSource",
    "SystemRandomSource",
)
_ERRORS = (
    "EncodingError",
    "InsufficientWorkersError",
    "MalformedShareError",
    "ParameterError",
    "RandomnessError",
    "ShapeError",
    "SpecError",
)
_WHERE: dict[str, str] = {
    **dict.fromkeys(_API, "sbrml.api"),
    **dict.fromkeys(_RULES, "sbrml.optimized"),
    **dict.fromkeys(_ERRORS, "sbrml.core.errors"),
    "CovarianceFilter": "sbrml.optimized.geometric",
    "generate_keypair": "sbrml.optimized.paillier",
    "PaillierTripleProvider": "sbrml.optimized.paillier_triples",
}

__all__ = [
    "PREAGGREGATIONS",
    "RULES",
    "SPEC_VERSION",
    "AdaptiveClipping",
    "AggregationResult",
    "Bucketing",
    "Bulyan",
    "CenteredClipping",
    "CoordinateMedian",
    "CovarianceFilter",
    "DeterministicRandomSource",
    "EncodingError",
    "GeometricMedian",
    "InsufficientWorkersError",
    "Krum",
    "MalformedShareError",
    "Meamed",
    "Mean",
    "Medoid",
    "MinimumDiameterAveraging",
    "MultiKrum",
    "NearestNeighborMixing",
    "PaillierTripleProvider",
    "ParameterError",
    "RandomnessError",
    "ShapeError",
    "Smea",
    "SpecError",
    "StaticClipping",
    "SystemRandomSource",
    "TrimmedMean",
    "__version__",
    "encrypted_mean",
    "generate_keypair",
    "masked_mean",
    "rule",
    "secure_aggregate",
]


def _check_all() -> None:
    # One list for readers and tools (__all__), one map for loading (_WHERE): they must agree.
    if set(__all__) - {"SPEC_VERSION", "__version__"} != set(_WHERE):
        raise ImportError("sbrml.__all__ and sbrml._WHERE disagree")


_check_all()


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'sbrml' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_WHERE))
