"""The rule library by its stable short names (spec/06-rules.md, D6.7)."""

from __future__ import annotations

from typing import Any

from sbrml.optimized.coordinatewise import Bulyan, CoordinateMedian, Meamed, Mean, TrimmedMean
from sbrml.optimized.geometric import (
    CenteredClipping,
    CovarianceFilter,
    GeometricMedian,
    Medoid,
    MinimumDiameterAveraging,
    Smea,
)
from sbrml.optimized.preaggregation import (
    AdaptiveClipping,
    Bucketing,
    NearestNeighborMixing,
    StaticClipping,
)
from sbrml.optimized.rules import Krum, MultiKrum

RULES: dict[str, Any] = {
    "mean": Mean,
    "median": CoordinateMedian,
    "trimmed-mean": TrimmedMean,
    "meamed": Meamed,
    "krum": Krum,
    "multikrum": MultiKrum,
    "geomed": GeometricMedian,
    "mda": MinimumDiameterAveraging,
    "medoid": Medoid,
    "bulyan": Bulyan,
    "cc": CenteredClipping,
    "smea": Smea,
    "caf": CovarianceFilter,
}

PREAGGREGATIONS: dict[str, Any] = {
    "nnm": NearestNeighborMixing,
    "bucketing": Bucketing,
    "clip": StaticClipping,
    "arc": AdaptiveClipping,
}
