"""The front door: one call per protocol on a NumPy array, one result type (README, "Python API").

``import sbrml`` exposes these names lazily (``sbrml/__init__.py``), so that importing
``sbrml.reference`` never loads NumPy. Every call draws its secrets from a fresh
``SystemRandomSource`` (the OS CSPRNG, spec C2.1) unless ``rng`` is given, and runs on the
optimized tree unless ``impl="reference"``; both trees give the same bytes from the same seed.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.backend import implementation
from sbrml.core.errors import ParameterError, ShapeError, shown
from sbrml.core.leakage import needs_distances, rule_leakages
from sbrml.core.params import DEFAULT_FRAC_BITS
from sbrml.core.registry import hyperparameter_owners
from sbrml.rulespec import RuleSpecError, build_rule

F64 = NDArray[np.float64]
PROTOCOLS = ("two-server", "masks", "paillier", "plaintext")


@dataclass
class AggregationResult:
    """What one aggregation publishes, with the same field names for every protocol.

    ``aggregate``: the output vector, float64 of length ``d`` (the robust aggregate ``z`` of
    the two-server round or a plaintext rule; the mean of the counted workers for ``masks``
    and ``paillier``). ``weights``: float64 of length ``n``, the weight each worker's input
    got (0 for an excluded one; ``None`` for a plaintext rule without a distance form).
    ``valid``: the workers counted, ascending. ``excluded``: worker -> published reason (spec
    C0.1: clause and condition, never the value). ``bytes``: payload bytes per link
    ``"sender->receiver"`` (spec C7.2). ``seconds``: wall-clock seconds per phase.
    ``transcript``: the ``Channel`` with every message (``None`` in plaintext, and in the
    two-server round unless asked for with ``transcript=True``); its ``view(party)`` is one
    party's view (spec D7.5).

    Protocol-specific extras: ``leakage`` (two-server: what the servers learn besides ``z``
    and ``V``, spec C8.15: ``"distances"`` — ``S1`` learns ``D``; ``"index"`` — the
    selection and weights; ``"output"`` — nothing more, and ``weights`` is ``None``),
    ``distances`` (two-server with leakage ``"distances"``: the matrix ``D`` that ``S1``
    reconstructed, in units of ``2^-2F``, C8.7), ``survivors``, ``notes`` and ``threshold``
    (masks: who the server accepted in each round, late dropouts, the Shamir threshold
    ``t``). Extras of other protocols are ``None``.
    """

    protocol: str
    rule: str
    impl: str
    n: int
    d: int
    f: int
    aggregate: F64
    weights: F64 | None
    valid: list[int]
    excluded: dict[int, str]
    bytes: dict[str, int] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    transcript: Any = None
    distances: Any = None
    survivors: dict[str, list[int]] | None = None
    notes: list[str] | None = None
    threshold: int | None = None
    leakage: str | None = None


def tree_module(impl: str) -> Any:
    try:
        return implementation(impl)
    except ValueError as err:
        raise ParameterError(
            "sbrml", "impl", "'optimized' or 'reference'", "D0.1", shown(impl)
        ) from err


def as_matrix(function: str, x: ArrayLike) -> F64:
    try:
        arr = np.asarray(x)
    except ValueError as err:  # ragged rows: NumPy refuses to build the array
        raise ShapeError(
            function, "x", "an n x d array with n, d >= 1", "D8.1", "rows of different lengths"
        ) from err
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ShapeError(
            function, "x", "an n x d array with n, d >= 1", "D8.1", f"shape {arr.shape}"
        )
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise ShapeError(function, "x", "real numbers", "D8.1", f"dtype {arr.dtype}")
    return arr.astype(np.float64, copy=False)


def _data(impl: str, x: F64) -> Any:
    return x if impl == "optimized" else x.tolist()


def _rng(tree: Any, rng: Any) -> Any:
    if rng is None:
        return tree.SystemRandomSource()
    if not (
        callable(getattr(rng, "random_bytes", None)) and callable(getattr(rng, "derive", None))
    ):
        raise ParameterError(
            "sbrml",
            "rng",
            "a RandomSource (SystemRandomSource, or DeterministicRandomSource for tests; "
            "never NumPy's or Python's generators)",
            "C2.8",
            type(rng).__name__,
        )
    return rng


def _stage_classes(obj: Any) -> list[type]:
    # The rule classes of a (possibly composed) rule: Compose itself is shared by both trees.
    if hasattr(obj, "pre") and hasattr(obj, "rule"):
        return _stage_classes(obj.pre) + _stage_classes(obj.rule)
    return [type(obj)]


def check_same_tree(function: str, parameter: str, obj: Any, impl: str) -> None:
    """D0.1: a rule or provider of one tree is not run by the other (results would mislead)."""
    classes = _stage_classes(obj) if parameter == "rule" else [type(obj)]
    other = "reference" if impl == "optimized" else "optimized"
    wrong = [c.__name__ for c in classes if c.__module__.startswith(f"sbrml.{other}.")]
    if wrong:
        raise ParameterError(
            function,
            parameter,
            f"an object of the {impl} tree, as impl={impl!r} (e.g. sbrml.rule(..., impl={impl!r}))",
            "D0.1",
            f"{', '.join(wrong)} of the {other} tree",
        )


def _mean_result(
    protocol: str, impl: str, arr: F64, result: Any, counted: list[int], **extras: Any
) -> AggregationResult:
    """The result of a protocol that averages the workers it counted (masks, Paillier)."""
    n = int(arr.shape[0])
    return AggregationResult(
        protocol=protocol,
        rule="mean",
        impl=impl,
        n=n,
        d=int(arr.shape[1]),
        f=0,
        aggregate=np.asarray(result.mean, dtype=np.float64),
        weights=np.array([1.0 / len(counted) if i in counted else 0.0 for i in range(n)]),
        valid=counted,
        excluded=dict(result.excluded),
        bytes=result.channel.bytes_by_link(),
        seconds=dict(result.seconds),
        transcript=result.channel,
        **extras,
    )


def rule(name: str, *, f: int, impl: str = "optimized", **hyperparameters: Any) -> Any:
    """A rule of the library by name, optionally after pre-aggregations joined by ``+``.

    ``rule("krum", f=2)``, ``rule("nnm+krum", f=2)``, ``rule("multikrum", f=2, m=5)``,
    ``rule("bucketing+geomed", f=1, s=3)``. ``f``, the number of Byzantine workers tolerated,
    is required (``f=0`` for the plain mean): a forgotten ``f`` would silently tolerate none.
    The object is callable on an ``n x d`` array (``rule(x) -> z``) and, for rules with a
    distance form, has ``weights(D)`` (spec D6.1).
    Raises ``ParameterError`` (citing D6.7) for an unknown name, a pre-aggregation in the last
    place, or a hyperparameter the named rule does not take; the rule's own checks on ``f`` and
    its hyperparameters raise as the rule classes do.
    """
    tree = tree_module(impl)
    owners = hyperparameter_owners()
    for key in hyperparameters:
        takes = [s for s in name.split("+") if s in owners.get(key, (None, ()))[1]]
        if not takes:
            where = ", ".join(owners[key][1]) if key in owners else "no rule of the library"
            raise ParameterError(
                "sbrml.rule",
                key,
                f"a hyperparameter of {name!r} (this one is taken by {where})",
                "D6.7",
                f"{key}={shown(hyperparameters[key])}",
            )
    try:
        return build_rule(tree, name, f, hyperparameters)
    except RuleSpecError as err:
        raise ParameterError(
            "sbrml.rule", "name", "a rule of the library", "D6.7", str(err)
        ) from err


def secure_aggregate(
    x: ArrayLike,
    rule: Any,
    *,
    rng: Any = None,
    impl: str = "optimized",
    variant: str | None = None,
    provider: Any = None,
    tamper: Any = None,
    leakage: str | None = None,
    frac_bits: int = DEFAULT_FRAC_BITS,
    transcript: bool = False,
) -> AggregationResult:
    """The two-server round (spec P8.1) of ``rule`` over the rows of ``x`` (``n x d`` floats).

    ``rule`` is a rule object of the same tree (``sbrml.rule(...)`` or a class such as
    ``sbrml.Krum(2)``): one with a distance form, or the coordinate-wise ``median``,
    ``trimmed-mean`` or ``meamed``, which run on shares (C8.11, P22.2). ``leakage`` (C8.15):
    ``"distances"`` (the default for distance rules but the mean: ``S1`` learns ``D``),
    ``"index"`` or ``"output"`` (Krum and Multi-Krum, alone or after NNM, with ``D`` kept
    shared, P22.5, P22.7; ``"output"`` is also the mean's default, which computes no ``D``,
    and the coordinate-wise rules' only mode); for Krum these modes tighten the coordinate
    bound to ``b_h(n, d)`` (after NNM ``b_nnm(n, d)``). Every coordinate of every row is
    range-checked on shares (C8.14): a row
    outside the bound ``|round(x_k 2^F)| < 2^b`` is excluded and reported; ``frac_bits``
    (``F``, default 16, C8.6) trades precision for range: each bit less doubles the largest
    coordinate a row may have. ``variant`` is ``"gram"`` (P5.2) or
    ``"pairwise"`` (P5.1); ``provider`` gives the Beaver material (default: the dealer of P4.1;
    ``sbrml.optimized.paillier_triples.PaillierTripleProvider`` for the dealer-free one).
    Invalid rows are excluded and reported (C8.3); too few valid rows raise
    ``InsufficientWorkersError`` (C8.4). ``tamper``, for demonstrations and tests, maps the
    workers' messages to the ones delivered (``sbrml.core.round.Tamper``), e.g. to show a
    malformed share being excluded. ``rng`` is a ``RandomSource`` (default: a fresh
    ``SystemRandomSource``, C2.1); ``impl`` is the tree (``"optimized"`` or ``"reference"``),
    which the rule and the provider must come from (``ParameterError`` citing D0.1 otherwise).
    ``transcript=True`` keeps every message, so that ``result.transcript`` holds the channel
    (D7.2, D7.3); by default the round keeps byte counts only and ``transcript`` is None,
    so no copy of a share outlives the step that used it.
    Returns an ``AggregationResult`` with ``protocol="two-server"``.
    """
    tree = tree_module(impl)
    arr = as_matrix("secure_aggregate", x)
    if isinstance(rule, str):
        raise ParameterError(
            "secure_aggregate",
            "rule",
            "a rule object, e.g. sbrml.rule(name, f=F) or sbrml.Krum(F)",
            "D0.1",
            f"the name {shown(rule)} (a name does not say how many workers are Byzantine)",
        )
    check_same_tree("secure_aggregate", "rule", rule, impl)
    if provider is not None:
        check_same_tree("secure_aggregate", "provider", provider, impl)
    modes = rule_leakages(rule)
    if variant is not None and modes and not needs_distances(rule, leakage or modes[0]):
        raise ParameterError(
            "secure_aggregate",
            "variant",
            "no variant: the round computes no distances for this rule and leakage",
            "C8.15",
            f"variant={shown(variant)} for {shown(rule.name)}",
        )
    result = tree.secure_aggregate(
        _data(impl, arr),
        rule,
        rng=_rng(tree, rng),
        variant="gram" if variant is None else variant,
        provider=provider,
        tamper=tamper,
        leakage=leakage,
        frac_bits=frac_bits,
        transcript=transcript,
    )
    return two_server_result(result, impl=impl, transcript=transcript)


def two_server_result(result: Any, *, impl: str, transcript: bool = False) -> AggregationResult:
    """The ``AggregationResult`` of a two-server round's ``RoundResult`` (P8.1, either tree).

    The one conversion: ``secure_aggregate`` and the Flower strategy's servers
    (``sbrml.flower.servers``) both publish a round this way. ``aggregate`` and ``weights``
    become float64 arrays; ``bytes`` are the round channel's counts per link (C7.2);
    ``transcript`` keeps the channel itself only when asked for (D7.2).
    """
    return AggregationResult(
        protocol="two-server",
        rule=result.rule,
        impl=impl,
        n=result.n,
        d=result.d,
        f=result.f,
        aggregate=np.asarray(result.z, dtype=np.float64),
        weights=None if result.weights is None else np.asarray(result.weights, dtype=np.float64),
        valid=list(result.valid),
        excluded=dict(result.excluded),
        bytes=result.channel.bytes_by_link(),
        seconds=dict(result.seconds),
        transcript=result.channel if transcript else None,
        distances=result.distances,
        leakage=result.leakage,
    )


def masked_mean(
    x: ArrayLike,
    *,
    threshold: int | None = None,
    dropouts: Mapping[int, str] | None = None,
    rng: Any = None,
    impl: str = "optimized",
) -> AggregationResult:
    """The mean through pairwise-mask secure aggregation (spec P20.1): hidden, not robust.

    ``threshold`` is the Shamir threshold ``t`` (C20.1, default ``max(2, n // 2 + 1)``);
    ``dropouts[i] = round`` makes worker ``i`` silent from that round on (``"advertise"``,
    ``"share"``, ``"input"``, ``"unmask"``). Fewer than ``t`` survivors raise
    ``InsufficientWorkersError`` (C20.3) and release nothing.
    """
    tree = tree_module(impl)
    arr = as_matrix("masked_mean", x)
    n = int(arr.shape[0])
    t = max(2, n // 2 + 1) if threshold is None else threshold
    module = importlib.import_module(f"sbrml.{impl}.mask_protocol")
    result = module.masked_aggregate(
        _data(impl, arr), t=t, rng=_rng(tree, rng), dropouts=dict(dropouts or {})
    )
    return _mean_result(
        "masks",
        impl,
        arr,
        result,
        list(result.counted),
        survivors=result.survivors,
        notes=list(result.notes),
        threshold=t,
    )


def encrypted_mean(
    x: ArrayLike,
    *,
    keys: tuple[Any, Any] | None = None,
    bits: int = 2048,
    int_bits: int = 8,
    frac_bits: int = 16,
    rng: Any = None,
    impl: str = "optimized",
    processes: int = 1,
) -> AggregationResult:
    """The mean through packed Paillier averaging (spec P14.3): hidden, not robust.

    ``keys`` is ``(public, private)`` from ``generate_keypair``; without it a key pair of
    ``bits`` bits (2048 or 3072, C13.1) is generated from ``rng`` (a fraction of a second
    here at 2048 bits).
    Values must satisfy ``|x| < 2^int_bits`` (C14.2); other rows are excluded and reported.
    ``processes`` is the most worker processes the optimized tree may use (C0.2; the mean and
    the transcript do not depend on it).
    """
    tree = tree_module(impl)
    arr = as_matrix("encrypted_mean", x)
    source = _rng(tree, rng)
    paillier = importlib.import_module(f"sbrml.{impl}.paillier")
    if keys is not None and not (
        type(keys[0]).__name__ == "PublicKey" and type(keys[1]).__name__ == "PrivateKey"
    ):
        raise ParameterError(
            "encrypted_mean",
            "keys",
            "(public, private) as generate_keypair returns them",
            "D13.1",
            f"({type(keys[0]).__name__}, {type(keys[1]).__name__})",
        )
    public, private = (
        keys if keys is not None else paillier.generate_keypair(bits, rng=source.derive("paillier"))
    )
    module = importlib.import_module(f"sbrml.{impl}.he_averaging")
    result = module.encrypted_average(
        _data(impl, arr),
        public=public,
        private=private,
        rng=source,
        frac_bits=frac_bits,
        int_bits=int_bits,
        processes=processes,
    )
    return _mean_result("paillier", impl, arr, result, list(result.valid))
