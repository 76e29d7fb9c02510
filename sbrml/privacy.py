"""Differential privacy at the workers: clipping, Gaussian noise, accounting (spec/17-privacy.md).

Local DP-SGD as in the survey: each worker clips every per-example gradient to norm C, sums,
adds Gaussian noise of standard deviation sigma C, and divides by the (expected) batch size.
The privacy loss over all steps comes from Google's dp-accounting (RDP accountant), never
computed by hand.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.extras import require

try:
    import dp_accounting
    from dp_accounting import dp_event, rdp
except ImportError:
    # dp-accounting is the 'dp' extra: name the extra to install; an installed but broken
    # dp-accounting (require finds it) keeps its own error.
    require("dp", "sbrml.privacy")
    raise

from sbrml.attacks.vector import normal_draws
from sbrml.core.errors import ParameterError, shown
from sbrml.optimized.clipping import clip_rows
from sbrml.optimized.distances import check_matrix
from sbrml.optimized.randomness import RandomSource, SystemRandomSource

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
    # Used as a double: an int beyond the float range is no finite real (float() and
    # math.isfinite would raise OverflowError on it).
    v = math.nan
    if isinstance(value, int | float) and not isinstance(value, bool):
        try:
            v = float(value)
        except OverflowError:
            v = math.inf
    ok = math.isfinite(v) and (v >= 0 if allow_zero else v > 0)
    if not (ok and (upper is None or (v <= upper if inclusive_upper else v < upper))):
        low = ">= 0" if allow_zero else "> 0"
        high = "" if upper is None else f" and {'<=' if inclusive_upper else '<'} {upper}"
        raise ParameterError(function, name, f"a finite real {low}{high}", clause, shown(value))
    return v


@dataclass(frozen=True)
class GaussianMechanism:
    """Implements D17.1: per-example clipping to ``clip``, sum, noise N(0, (sigma clip)^2), / B.

    ``B`` is the number of rows given (a fixed-size batch) or, under Poisson sampling (C17.4),
    the ``expected_batch`` size ``q N`` that the accounting of C17.2 assumes.
    """

    clip: float
    sigma: float

    def __post_init__(self) -> None:
        _positive("GaussianMechanism", "clip", self.clip, "C17.1")
        _positive("GaussianMechanism", "sigma", self.sigma, "C17.1", allow_zero=True)

    def clipped_sum(self, per_example: ArrayLike, *, allow_empty: bool = False) -> F64:
        """D17.1: sum_j min(1, C / ||g_j||) g_j over the b x d rows (float64, length d)."""
        arr = np.asarray(per_example)
        if allow_empty and arr.ndim == 2 and arr.shape[0] == 0 and arr.shape[1] > 0:
            return np.zeros(arr.shape[1])
        g = check_matrix("GaussianMechanism", "per_example", arr)
        # The library's one clipping (D10.6's floating-point rules): no division by ~0, and a
        # gradient whose norm is beyond the float range is clipped to C in its direction.
        clipped = clip_rows(g, np.full(g.shape[0], self.clip))
        return np.asarray(clipped.sum(axis=0), dtype=np.float64)

    def clipped_mean(self, per_example: ArrayLike) -> F64:
        """D17.1: (1/b) sum_j min(1, C / ||g_j||) g_j."""
        return np.asarray(self.clipped_sum(per_example) / np.asarray(per_example).shape[0])

    def __call__(
        self,
        per_example: ArrayLike,
        *,
        rng: RandomSource | None = None,
        expected_batch: float | None = None,
    ) -> F64:
        """D17.1: (clipped sum + sigma C N(0, I)) / B, the normals from ``rng`` (D16.2).

        ``rng`` defaults to a fresh ``SystemRandomSource`` (the OS CSPRNG, C17.5): noise from a
        seeded source is reproducible by anyone who knows the seed and protects nothing.
        With ``expected_batch`` (Poisson sampling, C17.4) ``per_example`` may have no rows.
        """
        if expected_batch is None:
            total = self.clipped_sum(per_example)
            b = float(np.asarray(per_example).shape[0])
        else:
            b = _positive("GaussianMechanism", "expected_batch", expected_batch, "C17.4")
            total = self.clipped_sum(per_example, allow_empty=True)
        if self.sigma == 0:
            return np.asarray(total / b, dtype=np.float64)
        source = rng if rng is not None else SystemRandomSource()
        noise = normal_draws(source, total.size)
        return np.asarray((total + self.sigma * self.clip * noise) / b, dtype=np.float64)


def poisson_batch(size: int, rate: float, gen: np.random.Generator) -> NDArray[np.int64]:
    """Implements C17.4: the indices in [0, size) kept, each independently with prob ``rate``.

    Which examples a worker samples is not secret in this model (the noise is), so the draw
    comes from the caller's public NumPy generator; the result is sorted, possibly empty.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ParameterError("poisson_batch", "size", "an int >= 1", "C17.4", shown(size))
    _positive("poisson_batch", "rate", rate, "C17.4", upper=1.0, inclusive_upper=True)
    return np.flatnonzero(gen.random(size) < rate).astype(np.int64)


def _check_accounting(function: str, delta: float, sampling_rate: float, steps: int) -> None:
    _positive(function, "delta", delta, "C17.2", upper=1.0)
    _positive(function, "sampling_rate", sampling_rate, "C17.2", upper=1.0, inclusive_upper=True)
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ParameterError(function, "steps", "an int >= 1", "C17.2", shown(steps))


def _event(sigma: float, sampling_rate: float, steps: int) -> dp_event.DpEvent:
    gaussian = dp_event.GaussianDpEvent(sigma)
    one = (
        gaussian
        if sampling_rate == 1.0
        else dp_event.PoissonSampledDpEvent(sampling_rate, gaussian)
    )
    return dp_event.SelfComposedDpEvent(one, steps)


SIGMA_RANGE = (1e-100, 1e100)  # C17.2: where dp-accounting's float arithmetic stays finite
SIGMA_FACTOR = 10.0  # C17.3: the bracket search's step


# D16.2 draws u = (53-bit integer + 1) / 2^53, so each Box-Muller pair has radius at most
# sqrt(-2 ln 2^-53): the noise is a Gaussian with the tail beyond that radius, of mass
# exactly 2^-53 per pair, cut off (C17.6).
NORMAL_RADIUS = math.sqrt(106 * math.log(2))
PAIR_TAIL = 2.0**-53


def truncation_slack(dim: int, steps: int) -> float:
    """C17.6: tau, the Gaussian mass of the outputs D16.2's sampler never draws, over T steps.

    Each step draws ceil(dim / 2) Box-Muller pairs, each missing a tail of mass 2^-53.
    """
    return steps * -(-dim // 2) * PAIR_TAIL


def check_noise_tails(function: str, eps: float, delta: float, dim: int, steps: int) -> None:
    """Implements C17.6: refuse an (eps, delta) claim that the noise's cut-off tail contradicts.

    tau is the Gaussian mass of the outputs D16.2's sampler never draws; (1 + e^eps) tau is
    what an observer of that region adds to delta. A necessary condition, not a proof that the
    discrete sampler is (eps, delta)-DP (spec C17.6 says what it does not cover).
    """
    if isinstance(dim, bool) or not isinstance(dim, int) or dim < 1:
        raise ParameterError(function, "dim", "an int >= 1", "C17.6", shown(dim))
    slack = truncation_slack(dim, steps)
    added = math.inf if eps > 700 else (1.0 + math.exp(eps)) * slack
    if added > delta / 10:
        largest = math.log(max(delta / 10 / slack - 1.0, 1.0))
        raise ParameterError(
            function,
            "epsilon",
            f"(1 + e^eps) x {slack:.3g} <= delta/10: Box-Muller noise from 53-bit uniforms "
            f"(D16.2) supports eps <= {largest:.3g} at d={dim}, T={steps}, delta={delta!r}",
            "C17.6",
            f"eps={eps!r}",
        )


def epsilon(sigma: float, delta: float, sampling_rate: float, steps: int) -> float:
    """Implements C17.2: epsilon spent by ``steps`` Poisson-subsampled Gaussian steps (RDP).

    ``sigma`` must lie in SIGMA_RANGE: far outside it the accountant overflows or divides by
    zero (a raw OverflowError near 1e300, ZeroDivisionError near 1e-300).
    """
    low, high = SIGMA_RANGE
    _positive("epsilon", "sigma", sigma, "C17.2")
    if not low <= sigma <= high:
        raise ParameterError(
            "epsilon", "sigma", f"a real in [{low:g}, {high:g}]", "C17.2", shown(sigma)
        )
    _check_accounting("epsilon", delta, sampling_rate, steps)
    return _epsilon(float(sigma), delta, sampling_rate, steps)


def _epsilon(sigma: float, delta: float, sampling_rate: float, steps: int) -> float:
    accountant = rdp.RdpAccountant()
    accountant.compose(_event(sigma, sampling_rate, steps))
    return float(accountant.get_epsilon(delta))


def calibrate_sigma(target_epsilon: float, delta: float, sampling_rate: float, steps: int) -> float:
    """Implements C17.3: the smallest sigma whose epsilon (C17.2) is at most ``target_epsilon``.

    1. Bracket: from sigma = 1, step by SIGMA_FACTOR (up while epsilon exceeds the target,
       down while it does not) to [lo, hi] = [s, 10 s] with epsilon(lo) > target >= epsilon(hi),
       never leaving SIGMA_RANGE.
    2. ``dp_accounting.calibrate_dp_mechanism`` on [lo, hi], tolerance 1e-9 lo (relative).

    Raises ParameterError citing C17.3 when the target lies outside what SIGMA_RANGE reaches:
    below epsilon(1e100) (the message names that smallest reachable epsilon) or above
    epsilon(1e-100).
    """
    _positive("calibrate_sigma", "target_epsilon", target_epsilon, "C17.3")
    _check_accounting("calibrate_sigma", delta, sampling_rate, steps)
    low, high = SIGMA_RANGE

    def too_much(sigma: float) -> bool:
        return _epsilon(sigma, delta, sampling_rate, steps) > target_epsilon

    if too_much(1.0):
        lo, hi = 1.0, SIGMA_FACTOR
        while too_much(hi):
            if hi >= high:
                least = _epsilon(high, delta, sampling_rate, steps)
                raise ParameterError(
                    "calibrate_sigma",
                    "target_epsilon",
                    f"an epsilon reachable with sigma <= {high:g}: the smallest is {least!r} "
                    f"at delta={delta!r}, q={sampling_rate!r}, T={steps}",
                    "C17.3",
                    shown(target_epsilon),
                )
            lo, hi = hi, min(high, hi * SIGMA_FACTOR)
    else:
        lo, hi = 1.0 / SIGMA_FACTOR, 1.0
        while not too_much(lo):
            if lo <= low:
                most = _epsilon(low, delta, sampling_rate, steps)
                raise ParameterError(
                    "calibrate_sigma",
                    "target_epsilon",
                    f"an epsilon below {most!r}, what sigma = {low:g} spends at delta={delta!r}, "
                    f"q={sampling_rate!r}, T={steps} (a larger target needs a smaller sigma)",
                    "C17.3",
                    shown(target_epsilon),
                )
            lo, hi = max(low, lo / SIGMA_FACTOR), lo
    sigma = dp_accounting.calibrate_dp_mechanism(
        rdp.RdpAccountant,
        lambda s: _event(s, sampling_rate, steps),
        target_epsilon,
        delta,
        dp_accounting.ExplicitBracketInterval(lo, hi),
        tol=lo * 1e-9,
    )
    return float(sigma)
