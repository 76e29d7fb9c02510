"""The rule library by name: one entry per rule and pre-aggregation (spec/06-rules.md, D6.7).

Part of ``sbrml.core``: the one place a rule is named. An entry holds the stable short name,
the class name (each tree's ``library.py`` resolves it among its own classes, so both trees'
``RULES`` and ``PREAGGREGATIONS`` are built from here), the hyperparameters (name, type,
default, help), and the properties: whether the weights are exact or floating point (or
there is no distance form, so the rule runs only in the clear, C8.11), the precondition on
``n`` with its clause, whether ``f`` plays a part, the defining spec item and the source
paper. ``sbrml.rulespec.build_rule`` (and ``sbrml.rule``), the command line's options and
help, the rule table of docs/cli.md, the benchmarks' and tests' rule lists and spec D6.7
(checked by tools/speccheck.py) are read from it; tests/test_registry.py checks it against
both trees' classes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any

from sbrml.core.rule_entry import Condition, Entry, Hyperparameter

__all__ = [
    "ENTRIES",
    "PREAGGREGATION_ENTRIES",
    "RULE_ENTRIES",
    "Condition",
    "Entry",
    "Hyperparameter",
    "exact_weights",
    "hyperparameter_owners",
    "leakages",
    "resolve",
    "stages",
]

CONVENTION = Hyperparameter(
    "convention",
    str,
    "blanchard",
    "neighbours 'blanchard' (n - f - 2) or 'byzfl' (n - f - 1)",
)
MAJORITY = Condition("n > 2f", "C10.1")
SUBSETS = Condition("C(n, f) <= 100,000", "C10.4")


def _rule(name: str, class_name: str, **fields: Any) -> Entry:
    return Entry(name, class_name, "rule", **fields)


def _pre(name: str, class_name: str, **fields: Any) -> Entry:
    return Entry(name, class_name, "preaggregation", **fields)


_RULES = (
    _rule(
        "mean",
        "Mean",
        summary="arithmetic mean (not robust)",
        definition="D9.1",
        source="",
        weights="exact",
        precondition=(Condition("n > f", "D9.1"),),
        min_n=(1, 1),
        uses_f=False,
        leakages=("output", "distances"),
    ),
    _rule(
        "median",
        "CoordinateMedian",
        summary="coordinate-wise median",
        definition="D9.2",
        source="Yin et al. 2018",
        weights=None,
        precondition=(Condition("n > 2f", "C9.1"),),
        min_n=(2, 1),
        leakages=("output",),
    ),
    _rule(
        "trimmed-mean",
        "TrimmedMean",
        summary="coordinate-wise trimmed mean",
        definition="D9.3",
        source="Yin et al. 2018",
        weights=None,
        precondition=(Condition("n > 2f", "C9.1"),),
        min_n=(2, 1),
        leakages=("output",),
    ),
    _rule(
        "meamed",
        "Meamed",
        summary="mean of the `n − f` values nearest the median, per coordinate",
        definition="D9.4",
        source="Xie et al. 2018",
        weights=None,
        precondition=(Condition("n > 2f", "C9.1"),),
        min_n=(2, 1),
        leakages=("output",),
    ),
    _rule(
        "krum",
        "Krum",
        summary="lowest sum of squared distances to `n − f − 2` neighbours",
        definition="D6.3",
        source="Blanchard et al. 2017",
        weights="exact",
        precondition=(Condition("n > 2f + 2", "C6.3"),),
        min_n=(2, 3),
        hyperparameters=(CONVENTION,),
        leakages=("distances", "index", "output"),
    ),
    _rule(
        "multikrum",
        "MultiKrum",
        summary="mean of the `m` lowest Krum scores",
        definition="D6.5",
        source="El Mhamdi et al. 2018",
        weights="exact",
        precondition=(Condition("n > 2f + 2", "C6.3"),),
        min_n=(2, 3),
        hyperparameters=(
            Hyperparameter(
                "m", int, None, "how many lowest-score vectors to average", default_text="n - f"
            ),
            CONVENTION,
        ),
        leakages=("distances", "index", "output"),
    ),
    _rule(
        "geomed",
        "GeometricMedian",
        summary="geometric median, smoothed Weiszfeld from the mean",
        definition="D10.1",
        source="Weiszfeld; Pillutla et al. (RFA)",
        weights="float",
        precondition=(MAJORITY,),
        min_n=(2, 1),
        hyperparameters=(
            Hyperparameter("nu", float, 1e-6, "Weiszfeld smoothing"),
            Hyperparameter("tol", float, 1e-10, "relative step that stops the iteration"),
            Hyperparameter("max_iter", int, 500, "iteration cap"),
        ),
    ),
    _rule(
        "mda",
        "MinimumDiameterAveraging",
        summary="mean of the minimum-diameter subset of size `n − f` (exhaustive)",
        definition="D10.4",
        source="El Mhamdi et al. 2018",
        weights="exact",
        precondition=(MAJORITY, SUBSETS),
        min_n=(2, 1),
    ),
    _rule(
        "medoid",
        "Medoid",
        summary="input with the least sum of distances",
        definition="D10.3",
        source="",
        weights="exact",
        precondition=(MAJORITY,),
        min_n=(2, 1),
    ),
    _rule(
        "bulyan",
        "Bulyan",
        summary="repeated Krum, then trimmed around the median",
        definition="D9.5",
        source="El Mhamdi et al. 2018",
        weights=None,
        precondition=(Condition("n >= 4f + 3", "C9.4"),),
        min_n=(4, 3),
        leakages=(),
    ),
    _rule(
        "cc",
        "CenteredClipping",
        summary="centered clipping (explicit `center`, no hidden state)",
        definition="D10.6",
        source="Karimireddy et al. 2021",
        weights=None,
        precondition=(MAJORITY,),
        min_n=(2, 1),
        hyperparameters=(
            Hyperparameter("tau", float, 1.0, "clipping radius"),
            Hyperparameter("iterations", int, 3, "clipping iterations"),
        ),
        leakages=(),
    ),
    _rule(
        "smea",
        "Smea",
        summary="mean of the subset with the smallest top covariance eigenvalue (exhaustive)",
        definition="D10.5",
        source="Allouah et al. 2023",
        weights="float",
        precondition=(MAJORITY, SUBSETS),
        min_n=(2, 1),
    ),
    _rule(
        "caf",
        "CovarianceFilter",
        summary="covariance-bound agnostic filter: down-weights along the top covariance "
        "direction, keeps the weights with the smallest top eigenvalue",
        definition="D10.7",
        source="Allouah, Guerraoui, Stephan 2025",
        weights="float",
        precondition=(MAJORITY,),
        min_n=(2, 1),
    ),
)

_PREAGGREGATIONS = (
    _pre(
        "nnm",
        "NearestNeighborMixing",
        summary="nearest-neighbour mixing first",
        definition="D11.2",
        source="Allouah et al. 2023",
        weights="exact",
        precondition=(Condition("n > 2f", "C11.2"),),
        min_n=(2, 1),
    ),
    _pre(
        "bucketing",
        "Bucketing",
        summary="random buckets of `s` (permutation from the rng)",
        definition="D11.3",
        source="Karimireddy et al. 2022",
        weights="exact",
        precondition=(Condition("n >= 1", "D11.3"),),
        min_n=(0, 1),
        uses_f=False,
        hyperparameters=(Hyperparameter("s", int, 2, "bucket size"),),
    ),
    _pre(
        "clip",
        "StaticClipping",
        summary="static clipping",
        definition="D11.4",
        source="",
        weights=None,
        precondition=(Condition("n >= 1", "D11.4"),),
        min_n=(0, 1),
        uses_f=False,
        hyperparameters=(Hyperparameter("c", float, 1.0, "clipping threshold"),),
        leakages=(),
    ),
    _pre(
        "arc",
        "AdaptiveClipping",
        summary="adaptive robust clipping",
        definition="D11.5",
        source="Allouah et al. 2024",
        weights=None,
        precondition=(Condition("n > 2f", "C11.2"),),
        min_n=(2, 1),
        leakages=(),
    ),
)

RULE_ENTRIES: Mapping[str, Entry] = {e.name: e for e in _RULES}
PREAGGREGATION_ENTRIES: Mapping[str, Entry] = {e.name: e for e in _PREAGGREGATIONS}
ENTRIES: Mapping[str, Entry] = {**RULE_ENTRIES, **PREAGGREGATION_ENTRIES}


def stages(spec: str) -> list[Entry]:
    """The entries of a composition ``pre+...+rule`` in order; KeyError for an unknown name.

    Where each name may stand (pre-aggregations first, one rule last) is checked by
    ``sbrml.rulespec.build_rule``, which says what is wrong.
    """
    return [ENTRIES[name] for name in spec.split("+")]


# P22.7: the compositions that also run with D kept shared (C8.15).
HIDDEN_COMPOSITIONS = ("nnm+krum", "nnm+multikrum")


def leakages(spec: str) -> tuple[str, ...]:
    """The leakage modes ``spec`` runs in (C8.15), its default first; empty when it runs only
    in the clear. A composition of distance stages runs with ``distances`` only, except Krum
    and Multi-Krum after NNM, which also run with ``index`` and ``output`` (P22.7)."""
    parts = stages(spec)
    if len(parts) == 1:
        return parts[0].leakages
    if spec in HIDDEN_COMPOSITIONS:
        return ("distances", "index", "output")
    return ("distances",) if all(e.distance for e in parts) else ()


def exact_weights(spec: str) -> bool:
    """Whether ``spec``'s weights are computed exactly, so the trees agree bit for bit."""
    return all(e.weights == "exact" for e in stages(spec))


def hyperparameter_owners() -> dict[str, tuple[Hyperparameter, tuple[str, ...]]]:
    """Each hyperparameter by name, with the entries that take it (rules first, in order).

    Entries that share a name share the definition (Krum's and Multi-Krum's ``convention``);
    a ValueError says so if two definitions differ.
    """
    owners: dict[str, tuple[Hyperparameter, tuple[str, ...]]] = {}
    for e in ENTRIES.values():
        for h in e.hyperparameters:
            known, names = owners.get(h.name, (h, ()))
            if known != h:
                raise ValueError(f"hyperparameter {h.name!r} is defined twice, differently")
            owners[h.name] = (h, (*names, e.name))
    return owners


def resolve(entries: Mapping[str, Entry], modules: Sequence[ModuleType]) -> dict[str, Any]:
    """name -> class: each entry's ``class_name`` looked up in a tree's ``modules``.

    A module that imports a class under the same name as another defines is no ambiguity
    when both are the same object; two different classes of that name, or none, raise
    LookupError naming it (tests/test_registry.py checks each class belongs to its tree).
    """
    classes: dict[str, Any] = {}
    for name, e in entries.items():
        found = {id(c): c for m in modules if isinstance(c := getattr(m, e.class_name, None), type)}
        if len(found) != 1:
            where = ", ".join(m.__name__ for m in modules)
            raise LookupError(f"{len(found)} classes named {e.class_name!r} in {where}")
        classes[name] = next(iter(found.values()))
    return classes
