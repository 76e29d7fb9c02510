"""The three modes of ``SecureRobustStrategy`` that aggregate rows in the clear at the
ServerApp (issue 17, item 2): ``plaintext`` (the rule), ``masks`` (pairwise-mask secure
aggregation, spec sections 19-20) and ``paillier`` (encrypted averaging with packing, sections
13-14). Split from ``strategy.py``, which keeps the Flower side and the two-server round.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sbrml import modes
from sbrml.api import AggregationResult
from sbrml.core.errors import SpecError
from sbrml.core.params import DEFAULT_FRAC_BITS
from sbrml.flower.replies import Row
from sbrml.optimized.randomness import RandomSource
from sbrml.optimized.ring import F64
from sbrml.optimized.round import encode_update

__all__ = ["aggregate_plain", "packing_int_bits"]


def aggregate_plain(
    mode: str,
    rows: list[Row],
    dim: int,
    rule: Any,
    *,
    rng: RandomSource,
    t: int,
    keys: Any,
    processes: int,
) -> tuple[AggregationResult, list[int]]:
    """Round ``t``'s aggregate of the counted ``rows`` (``d = dim``) in ``mode``, and the nodes
    of the rows it used, in order. ``rng`` is the strategy's source (each mode draws under its
    own label and round); ``keys`` the Paillier key pair of mode ``paillier``. A row an honest
    encoder refuses is given its reason and dropped in mode ``plaintext``, as the two-server
    round excludes it."""
    counted = [(r, r.vector) for r in rows if r.vector is not None and r.reason is None]
    if mode == "plaintext":
        kept = []
        for r, vector in counted:
            try:
                encode_update(vector)
                kept.append((r, vector))
            except SpecError as err:
                r.reason = f"input rejected before sharing: {err.public_reason()}"
        counted = kept
    x = np.vstack([v for _, v in counted]) if counted else np.zeros((0, dim))
    nodes = [r.node for r, _ in counted]
    if mode == "plaintext":
        return modes.plaintext(x, rule, rng=rng.derive(f"rule/{t}")), nodes
    if mode == "masks":
        threshold = len(x) // 2 + 1
        return modes.masks(x, threshold=threshold, rng=rng.derive(f"masks/{t}")), nodes
    result = modes.paillier(
        x,
        keys=keys,
        rng=rng.derive(f"he/{t}"),
        int_bits=packing_int_bits(x),
        frac_bits=DEFAULT_FRAC_BITS,
        processes=processes,
    )
    return result, nodes


def packing_int_bits(x: F64) -> int:
    """The integer bits ``I`` of mode ``paillier``'s packing (D14.1) for the rows ``x``.

    Enough for the largest magnitude sent, as ``sbrml simulate`` chooses them, but at most the
    largest ``I`` whose slots of ``((2^(F+I+1) - 1) n).bit_length()`` bits fit in 62 (C14.1):
    a row beyond that bound is then excluded by its encoder (C14.2) and reported, where an
    unbounded ``I`` would let one client's huge value make the packing, and so the round, fail
    for every client.
    """
    n = max(1, len(x))
    wanted = max(1, math.ceil(math.log2(float(np.abs(x).max()) + 1)) + 1) if x.size else 1
    most = 62 - DEFAULT_FRAC_BITS
    while most > 0 and ((2 << (DEFAULT_FRAC_BITS + most)) - 1) * n >= 1 << 62:
        most -= 1
    return min(wanted, most)
