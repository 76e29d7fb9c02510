"""The four ways to aggregate a round, by name: plaintext, secure, masks and paillier.

One function per mode, each returning the front door's ``AggregationResult`` (``sbrml.api``):
the ``aggregate`` (float64, length d), ``bytes`` per link (empty in plaintext) and
``seconds`` per phase. The simulation (``sbrml.simulation.train``), the demo
(``sbrml.demo``), the benchmarks' training-round table (``sbrml.bench.training``) and
``sbrml aggregate`` (``sbrml.cli``) run a mode through here, so a mode means the same thing
everywhere:

- ``plaintext``: the rule in the clear, ``rule(x)``; no messages.
- ``secure``: the two-server round of a rule with a distance form (P8.1).
- ``masks``: the mean through pairwise-mask secure aggregation (P20.1); not robust.
- ``paillier``: the mean through packed Paillier averaging (P14.3); not robust.

The last two compute the mean of the workers they count, whatever rule is named.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from sbrml.api import (
    AggregationResult,
    as_matrix,
    check_same_tree,
    encrypted_mean,
    masked_mean,
    secure_aggregate,
    tree_module,
)
from sbrml.core.errors import ParameterError

# The simulation's order (D18.1), which its messages list.
MODES = ("plaintext", "secure", "paillier", "masks")
AVERAGING = ("paillier", "masks")  # the modes that compute the mean, not a robust rule

__all__ = [
    "AVERAGING",
    "MODES",
    "aggregate",
    "masks",
    "online_seconds",
    "paillier",
    "plaintext",
    "secure",
    "total_bytes",
]


def plaintext(
    x: ArrayLike, rule: Any, *, rng: Any = None, impl: str = "optimized"
) -> AggregationResult:
    """``rule(x, rng=rng)`` in the clear on every row: no messages (``bytes`` is empty) and
    ``seconds = {"plaintext": s}``. ``weights`` is ``None`` and every row counts:
    ``sbrml aggregate --plaintext`` screens the rows as the secure round does (C8.2) and
    reports the weights."""
    tree_module(impl)
    arr = as_matrix("plaintext", x)
    check_same_tree("plaintext", "rule", rule, impl)
    n, d = arr.shape
    start = time.perf_counter()
    z = rule(arr if impl == "optimized" else arr.tolist(), rng=rng)
    elapsed = time.perf_counter() - start
    return AggregationResult(
        protocol="plaintext",
        rule=rule.name,
        impl=impl,
        n=int(n),
        d=int(d),
        f=int(rule.f),
        aggregate=np.asarray(z, dtype=np.float64),
        weights=None,
        valid=list(range(n)),
        excluded={},
        seconds={"plaintext": elapsed},
    )


# The protocol modes are the front door's calls themselves: one definition, same signatures.
secure = secure_aggregate
masks = masked_mean
paillier = encrypted_mean


def aggregate(
    mode: str,
    x: ArrayLike,
    rule: Any = None,
    *,
    rng: Any = None,
    impl: str = "optimized",
    **options: Any,
) -> AggregationResult:
    """Run ``mode`` (one of ``MODES``) on the rows of ``x``; ``options`` go to its function.

    ``plaintext`` and ``secure`` need ``rule``; ``masks`` and ``paillier`` compute the mean
    and take none. An unknown mode raises ``ParameterError`` citing D18.1.
    """
    if mode in ("plaintext", "secure"):
        run = plaintext if mode == "plaintext" else secure
        return run(x, rule, rng=rng, impl=impl, **options)
    if mode in AVERAGING and rule is not None:
        # An option that does not apply is an error: these modes average, whatever is named.
        raise ParameterError(
            "modes.aggregate",
            "rule",
            f"no rule: mode {mode!r} computes the mean",
            "D18.1",
            getattr(rule, "name", type(rule).__name__),
        )
    if mode == "masks":
        return masks(x, rng=rng, impl=impl, **options)
    if mode == "paillier":
        return paillier(x, rng=rng, impl=impl, **options)
    raise ParameterError(
        "modes.aggregate", "mode", f"one of {', '.join(MODES)}", "D18.1", repr(mode)
    )


def total_bytes(result: AggregationResult) -> int:
    """Payload bytes over every link of the run (C7.2); 0 in plaintext."""
    return sum(result.bytes.values())


def online_seconds(result: AggregationResult) -> float:
    """Seconds of every phase but the offline ones (Beaver material, C4.6)."""
    return sum(v for k, v in result.seconds.items() if not k.startswith("offline"))
