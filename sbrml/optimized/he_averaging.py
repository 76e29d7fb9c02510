"""Encrypted averaging on the optimized tree (spec/14-packing.md, P14.3).

The protocol steps, validation and messages are the reference's; this tree plugs in its
vectorised packing and gmpy2 Paillier arithmetic, so the transcripts are identical.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sbrml.optimized import paillier
from sbrml.optimized.packing import Packing
from sbrml.optimized.randomness import RandomSource
from sbrml.reference.he_averaging import AveragingResult, Backend
from sbrml.reference.he_averaging import encrypted_average as _protocol
from sbrml.reference.paillier import PrivateKey, PublicKey
from sbrml.reference.round import Tamper

__all__ = ["OPTIMIZED", "AveragingResult", "encrypted_average"]

OPTIMIZED = Backend(Packing, paillier.encrypt, paillier.add, paillier.decrypt)


def encrypted_average(
    inputs: Sequence[Any] | np.ndarray[Any, Any],
    *,
    public: PublicKey,
    private: PrivateKey,
    rng: RandomSource,
    frac_bits: int = 16,
    int_bits: int = 8,
    tamper: Tamper | None = None,
) -> AveragingResult:
    """Implements P14.3 with NumPy packing and gmpy2 arithmetic."""
    result = _protocol(
        inputs,
        public=public,
        private=private,
        rng=rng,
        frac_bits=frac_bits,
        int_bits=int_bits,
        tamper=tamper,
        backend=OPTIMIZED,
    )
    result.mean = np.asarray(result.mean, dtype=np.float64)
    return result
