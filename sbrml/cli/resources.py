"""Memory a run needs, checked against what the machine has before anything is allocated.

The figures are lower bounds on the peak: the largest arrays each mode must hold at once
(the inputs, the shares, the Beaver material, the distance matrix), at 8 bytes per
NumPy element and at the size of Python objects for the reference tree. A run refused here
could not have finished; a run let through may still need more.
"""

from __future__ import annotations

import os
import resource

from sbrml.cli.errors import CliError
from sbrml.cli.files import human
from sbrml.reference.mask_worker import SHARE_RECORD

# Bytes per element: a NumPy float64 or uint64, and the reference tree's Python objects
# (a float or a ring element below 2^64 with its list slot; a Fraction with its two ints).
ELEMENT = 8
PY_FLOAT = 32
PY_RING = 44
PY_FRACTION = 100


def available_memory() -> int | None:
    """Bytes this process can still use: MemAvailable plus free swap (Linux), capped by the
    address-space limit; None when the system does not say."""
    limit = None
    soft, _hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft != resource.RLIM_INFINITY:
        limit = soft
    fields: dict[str, int] = {}
    try:
        with open("/proc/meminfo", encoding="ascii") as stream:
            for line in stream:
                name, _, rest = line.partition(":")
                fields[name] = int(rest.split()[0]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    if "MemAvailable" in fields:
        free: int | None = fields["MemAvailable"] + fields.get("SwapFree", 0)
    else:
        try:
            free = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError):
            free = None
    if free is None:
        return limit
    return free if limit is None else min(free, limit)


def aggregate_needs(
    *, mode: str, impl: str, n: int, d: int, distance_rule: bool, variant: str | None
) -> tuple[int, str]:
    """A lower bound on the peak bytes of one ``sbrml aggregate`` run, and its largest part."""
    cell = ELEMENT if impl == "optimized" else PY_FLOAT
    ring = ELEMENT if impl == "optimized" else PY_RING
    inputs = n * d * (ELEMENT + (0 if impl == "optimized" else PY_FLOAT))
    parts: dict[str, int] = {"the inputs": inputs}
    if mode == "masks":
        # Every worker sends every peer a box of Shamir shares (P20.1), and the channel keeps
        # every message: n^2 boxes of SHARE_RECORD bytes.
        parts[f"the {n} x {n} boxes of Shamir shares"] = n * n * SHARE_RECORD
    elif mode == "plaintext":
        if distance_rule:
            per = ELEMENT if impl == "optimized" else PY_FRACTION
            parts[f"the {n} x {n} distance matrix"] = n * n * per
        else:
            parts["a sorted copy of the inputs"] = n * d * cell
    else:
        parts["both servers' shares of the inputs"] = 2 * n * d * ring
        if variant == "pairwise":
            count = n * (n - 1) // 2 * d
            # Both servers' square pairs (a, a^2), the pairwise differences and the opened
            # masked values: a run at n = 50, d = 2e5 was measured above 12 such arrays.
            parts[f"the pairwise material for {count:,} pair coordinates"] = 10 * count * ring
        else:
            parts["both servers' Gram triples"] = 2 * (n * d + n * n) * ring
        parts[f"the {n} x {n} distance shares"] = 2 * n * n * ring
    largest = max(parts, key=lambda k: parts[k])
    return sum(parts.values()), f"{largest} alone is {human(parts[largest])}"


def check_memory(what: str, need: int, detail: str) -> None:
    """Raise ``CliError`` when ``need`` bytes exceed the memory available."""
    have = available_memory()
    if have is not None and need > have:
        raise CliError(
            f"{what} needs at least {human(need)} of memory ({detail}); "
            f"{human(have)} is available. Use fewer workers or coordinates"
        )
