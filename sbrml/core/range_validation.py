"""Range validation's outcome in the round (spec/08-round.md C8.13, C8.14): the honest
worker's refusal of an out-of-range encoding, and the exclusion of the workers whose shares
failed ``range_check`` (P21.7).

Part of ``sbrml.core``: both trees' workers and rounds report these the same way.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sbrml.core.errors import ShapeError
from sbrml.core.round import check_after_exclusions


def coordinate_bound_error(outside: int, d: int, frac_bits: int, bits: int) -> ShapeError:
    """The C8.13 error for an encoding with ``outside`` of its ``d`` coordinates outside
    [-2^bits, 2^bits) (bits = b(d), or b_h(n, d) in a round that compares scores, C8.15)."""
    return ShapeError(
        "encode_update",
        "x",
        f"every round(x_k 2^{frac_bits}) in [-2^{bits}, 2^{bits}), i.e. |x_k| < "
        f"{2.0 ** (bits - frac_bits):g} (the round's bound at d={d}; a smaller frac_bits or a "
        "scaled update admits larger values)",
        "C8.13",
        f"{outside} of {d} coordinates outside",
    )


def exclude_out_of_range(
    outside: Mapping[int, int],
    valid: Sequence[int],
    excluded: dict[int, str],
    n: int,
    d: int,
    rule: Any,
    bits: int,
) -> list[int]:
    """Implements C8.14's outcome: workers of V with ``outside[i] > 0`` lanes whose t != 0
    leave V, with the clause's reason added to ``excluded``; returns the new V (sorted).

    Raises InsufficientWorkersError citing C8.4 when too few workers remain for the rule.
    """
    kept = []
    for i in valid:
        count = outside.get(i, 0)
        if count:
            excluded[i] = (
                f"range validation: {count} of {d} coordinates outside "
                f"[-2^{bits}, 2^{bits}) (C8.14)"
            )
        else:
            kept.append(i)
    check_after_exclusions(rule, len(kept), n, excluded)
    return kept
