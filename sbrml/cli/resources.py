"""Memory a run needs, checked against what the machine has before anything is allocated.

The figures are lower bounds on the peak: the largest arrays each mode must hold at once
(the inputs, the shares, the Beaver material, the distance matrix), at 8 bytes per
NumPy element and at the size of Python objects for the reference tree. A run refused here
could not have finished; a run let through may still need more.
"""

from __future__ import annotations

import os
import resource
from typing import Any

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


# What each stage of a rule builds when it is called on the c rows that reach it (in the
# clear: a plain call, or the kappa search). Every geometric rule and NNM compute the c x c
# squared distances or Gram matrix (D5.3); Bulyan runs Krum on them. The coordinate-wise
# rules sort a copy of the rows; the clipping stages and centred clipping hold a clipped
# copy. The mean and bucketing's averages need only a row of d values per output.
PAIRWISE_STAGES = frozenset(
    {"krum", "multikrum", "geomed", "mda", "medoid", "smea", "caf", "bulyan", "nnm"}
)
ROW_COPY_STAGES = frozenset({"median", "trimmed-mean", "meamed", "cc", "clip", "arc"})
LIGHT_STAGES = frozenset({"mean", "bucketing"})


def stages(rule: Any) -> list[Any]:
    """The stages of a rule object, pre-aggregations first (``Compose(pre, rule)`` nests)."""
    out = []
    while hasattr(rule, "pre"):
        out.append(rule.pre)
        rule = rule.rule
    return [*out, rule]


def weights_need_distances(rule: Any) -> bool:
    """Whether the weights of a distance rule depend on D: not for the mean alone, whose
    weights are 1/n whatever D is (D9.1), so a plaintext mean never builds the n x n D."""
    return [stage.name for stage in stages(rule)] != ["mean"]


def rule_call_parts(rule: Any, *, n: int, d: int, impl: str) -> dict[str, int]:
    """The largest array one stage of ``rule`` builds when the rule is called on n x d rows,
    at the row count that reaches the stage (bucketing divides it); the stages run one after
    the other, so only the largest counts (``{}`` when no stage builds more than a row)."""
    cell = ELEMENT if impl == "optimized" else PY_FLOAT
    per = ELEMENT if impl == "optimized" else PY_FRACTION
    parts: dict[str, int] = {}
    count = n
    for stage in stages(rule):
        name = stage.name
        if name in PAIRWISE_STAGES:
            parts[f"the {count} x {count} distance matrix of {name}"] = count * count * per
        elif name not in LIGHT_STAGES:
            # ROW_COPY_STAGES, and any stage not classified yet: a copy of its rows.
            parts[f"the copy of the {count} x {d} rows {name} makes"] = count * d * cell
        if hasattr(stage, "output_count"):
            count = stage.output_count(count)
    if not parts:
        return {}
    largest = max(parts, key=lambda k: parts[k])
    return {largest: parts[largest]}


def aggregate_needs(
    *,
    mode: str,
    impl: str,
    n: int,
    d: int,
    rule: Any = None,
    through_distances: bool = False,
    variant: str | None = None,
) -> tuple[int, str]:
    """A lower bound on the peak bytes of one ``sbrml aggregate`` run, and its largest part.

    ``rule`` is the rule object (None for masks); ``through_distances``: the plaintext run
    computes the weights from the n x n matrix D (a distance rule whose weights depend on D),
    otherwise it calls the rule on the rows.
    """
    ring = ELEMENT if impl == "optimized" else PY_RING
    inputs = n * d * (ELEMENT + (0 if impl == "optimized" else PY_FLOAT))
    parts: dict[str, int] = {"the inputs": inputs}
    if mode == "masks":
        # Every worker sends every peer a box of Shamir shares (P20.1), and the channel keeps
        # every message: n^2 boxes of SHARE_RECORD bytes.
        parts[f"the {n} x {n} boxes of Shamir shares"] = n * n * SHARE_RECORD
    elif mode == "plaintext":
        if through_distances:
            per = ELEMENT if impl == "optimized" else PY_FRACTION
            parts[f"the {n} x {n} distance matrix"] = n * n * per
        elif rule is not None:
            parts.update(rule_call_parts(rule, n=n, d=d, impl=impl))
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
        # Range validation (C8.14): per lane and server, r, h and q as ring elements, m + 1
        # planes and 3 A(m) AND-triple planes (m = b(d) + 1 <= 32, A(m) = 2m - 3): under
        # 3 ring elements + 24 bytes; the round holds it with the inputs.
        parts["both servers' range-validation material"] = 2 * n * d * (3 * ring + 24)
    return total_and_largest(parts)


def kappa_needs(rule: Any, *, n: int, dim: int) -> tuple[int, str]:
    """A lower bound on the peak bytes of ``sbrml kappa`` for one rule: the search's inputs
    (its start points and the candidate, n x dim each) and what one call of the rule builds."""
    from sbrml.robustness import STARTS_PER_RESTART

    parts = {"the search's inputs": (STARTS_PER_RESTART + 2) * n * dim * ELEMENT}
    parts.update(rule_call_parts(rule, n=n, d=dim, impl="optimized"))
    return total_and_largest(parts)


def total_and_largest(parts: dict[str, int]) -> tuple[int, str]:
    """The sum of ``parts`` and a phrase naming the largest."""
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
