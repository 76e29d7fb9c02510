"""Differential privacy at the workers: clipping, Gaussian noise, accounting (spec/17-privacy.md).

Local DP-SGD as in the survey: each worker clips every per-example gradient to norm C,
averages, and adds Gaussian noise of standard deviation sigma C / b. The privacy loss over
all steps comes from Google's dp-accounting (RDP accountant), never computed by hand.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import dp_accounting
import numpy as np
from dp_accounting import dp_event, rdp
from numpy.typing import ArrayLike, NDArray

from sbrml.attacks.vector import normal_draws
from sbrml.optimized.distances import check_matrix
from sbrml.optimized.geometric import clip_scale
from sbrml.optimized.randomness import RandomSource
from sbrml.reference.errors import ParameterError

F64 = NDArray[np.float64]

# The RDP accountant logs every Renyi order it drops for lack of convergence; the epsilon it
# returns already accounts for that, so the warnings only drown the progress output.
logging.getLogger("absl").setLevel(logging.ERROR)


def _positive(
    function: str,
    name: str,
    value: object,
    clause: str,
    *,
    upper: float | None = None,
    inclusive_upper: bool = False,
    allow_zero: bool = False,
) -> float:
    ok = not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
    if ok:
        v = float(value)  # type: ignore[arg-type]
        ok = (v >= 0 if allow_zero else v > 0) and (
            upper is None or (v <= upper if inclusive_upper else v < upper)
        )
    if not ok:
        low = ">= 0" if allow_zero else "> 0"
        high = "" if upper is None else f" and {'<=' if inclusive_upper else '<'} {upper}"
        raise ParameterError(function, name, f"a finite real {low}{high}", clause, repr(value))
    return float(value)  # type: ignore[arg-type]


@dataclass(frozen=True)
class GaussianMechanism:
    """Implements D17.1: per-example clipping to ``clip``, mean, noise N(0, (sigma clip / b)^2)."""

    clip: float
    sigma: float

    def __post_init__(self) -> None:
        _positive("GaussianMechanism", "clip", self.clip, "C17.1")
        _positive("GaussianMechanism", "sigma", self.sigma, "C17.1", allow_zero=True)

    def clipped_mean(self, per_example: ArrayLike) -> F64:
        """D17.1: (1/b) sum_j min(1, C / ||g_j||) g_j."""
        g = check_matrix("GaussianMechanism", "per_example", per_example)
        norms = np.sqrt((g * g).sum(axis=1))
        scale = clip_scale(np.full(norms.shape, self.clip), norms)  # no division by ~0
        return np.asarray((g * scale[:, None]).mean(axis=0), dtype=np.float64)

    def __call__(self, per_example: ArrayLike, *, rng: RandomSource) -> F64:
        """D17.1: the clipped mean plus Gaussian noise drawn from the injected rng (D16.2)."""
        mean = self.clipped_mean(per_example)
        b = np.asarray(per_example).shape[0]
        if self.sigma == 0:
            return mean
        noise = normal_draws(rng, mean.size)
        return np.asarray(mean + (self.sigma * self.clip / b) * noise, dtype=np.float64)


def _check_accounting(function: str, delta: float, sampling_rate: float, steps: int) -> None:
    _positive(function, "delta", delta, "C17.2", upper=1.0)
    _positive(function, "sampling_rate", sampling_rate, "C17.2", upper=1.0, inclusive_upper=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParameterError(function, "steps", "an int >= 1", "C17.2", repr(steps))


def _event(sigma: float, sampling_rate: float, steps: int) -> dp_event.DpEvent:
    gaussian = dp_event.GaussianDpEvent(sigma)
    one = (
        gaussian
        if sampling_rate == 1.0
        else dp_event.PoissonSampledDpEvent(sampling_rate, gaussian)
    )
    return dp_event.SelfComposedDpEvent(one, steps)


def epsilon(sigma: float, delta: float, sampling_rate: float, steps: int) -> float:
    """Implements C17.2: epsilon spent by ``steps`` Poisson-subsampled Gaussian steps (RDP)."""
    _positive("epsilon", "sigma", sigma, "C17.2")
    _check_accounting("epsilon", delta, sampling_rate, steps)
    accountant = rdp.RdpAccountant()
    accountant.compose(_event(sigma, sampling_rate, steps))
    return float(accountant.get_epsilon(delta))


def calibrate_sigma(target_epsilon: float, delta: float, sampling_rate: float, steps: int) -> float:
    """Implements C17.3: the smallest sigma whose epsilon (C17.2) is at most ``target_epsilon``."""
    _positive("calibrate_sigma", "target_epsilon", target_epsilon, "C17.3")
    _check_accounting("calibrate_sigma", delta, sampling_rate, steps)
    sigma = dp_accounting.calibrate_dp_mechanism(
        rdp.RdpAccountant,
        lambda s: _event(s, sampling_rate, steps),
        target_epsilon,
        delta,
        dp_accounting.ExplicitBracketInterval(1e-3, 1e4),
        tol=1e-6,
    )
    return float(sigma)
