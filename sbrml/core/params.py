"""Constants and parameter checks that both trees share (spec sections 1, 2 and 8).

Part of ``sbrml.core``: what exists once on purpose. The ring width, the fixed-point
parameters and their checks, and the norm bound of the round are definitions, not kernels, so
both trees read them from here.
"""

from __future__ import annotations

from sbrml.core.errors import ParameterError, shown

RING_BITS = 64
DEFAULT_FRAC_BITS = 16
WEIGHT_FRAC_BITS = 30


def check_ring_bits(function: str, bits: int) -> None:
    """Implements D1.1: the ring width ``bits`` is an int in [2, 64]."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 2 <= bits <= RING_BITS:
        raise ParameterError(function, "bits", "2 <= bits <= 64", "D1.1", shown(bits))


def check_frac_bits(function: str, frac_bits: int, bits: int = RING_BITS) -> None:
    """Implements D1.3: 0 <= frac_bits < bits - 1."""
    if (
        isinstance(frac_bits, bool)
        or not isinstance(frac_bits, int)
        or not 0 <= frac_bits < bits - 1
    ):
        raise ParameterError(
            function,
            "frac_bits",
            f"0 <= frac_bits < bits - 1 = {bits - 1}",
            "D1.3",
            shown(frac_bits),
        )


# C0.2: a bound that does not depend on the machine, so both trees refuse the same values and a
# typo cannot start a million processes at once.
MAX_PROCESSES = 64


def check_processes(function: str, processes: int) -> None:
    """Implements C0.2: ``processes`` (the most worker processes a call may use), in [1, 64].

    Both trees check it the same way; the reference then runs in one process whatever it is.
    """
    if (
        isinstance(processes, bool)
        or not isinstance(processes, int)
        or not 1 <= processes <= MAX_PROCESSES
    ):
        raise ParameterError(
            function, "processes", f"an int in [1, {MAX_PROCESSES}]", "C0.2", shown(processes)
        )


# C8.2: an honest worker's encoding has sum_k e_k^2 < 2^62.
NORM_BOUND_LOG2 = 62


def coordinate_bound_log2(d: int) -> int:
    """Implements C8.13: b(d) = floor((62 - ceil(log2 d)) / 2), for an int d >= 1.

    Every coordinate of an in-range encoding lies in [-2^b, 2^b), which keeps every pairwise
    distance of d coordinates below 2^64.
    """
    return (NORM_BOUND_LOG2 - (d - 1).bit_length()) // 2


def hidden_bound_log2(n: int, d: int) -> int:
    """Implements C8.15: b_h(n, d) = floor((60 - ceil(log2 d) - ceil(log2 n)) / 2), the bound
    under which every Krum score of n workers over d coordinates stays below 2^62 (P22.5)."""
    return (NORM_BOUND_LOG2 - 2 - (d - 1).bit_length() - (n - 1).bit_length()) // 2


def nnm_bound_log2(n: int, d: int) -> int:
    """Implements P22.7's bound: b_nnm(n, d) = floor((59 - ceil(log2 d) - 3 ceil(log2 n)) / 2),
    under which every mixed distance 2k^2 ||y_b - y_c||^2 after NNM, and every Krum score of
    them, stays below 2^62 (C8.15)."""
    return (NORM_BOUND_LOG2 - 3 - (d - 1).bit_length() - 3 * (n - 1).bit_length()) // 2


VARIANTS = ("gram", "pairwise")


def check_variant(function: str, variant: str) -> None:
    """Implements D5.2: the variant is 'gram' or 'pairwise'."""
    if variant not in VARIANTS:
        raise ParameterError(
            function, "variant", "one of 'gram', 'pairwise'", "D5.2", shown(variant)
        )


def pairs(count: int) -> list[tuple[int, int]]:
    """D5.2: the pairs (i, j), i < j, in lexicographic order."""
    return [(i, j) for i in range(count) for j in range(i + 1, count)]
