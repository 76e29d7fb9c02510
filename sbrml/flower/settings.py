"""``SecureRobustStrategy``'s constructor arguments, checked when the strategy is built.

Issue 17 (review): every argument is checked in ``SecureRobustStrategy.__init__``, never first
when a round runs (ByzFL's habit: hyperparameters when the object is built, data when it is
called). ``check_settings`` raises ``ParameterError`` naming ``SecureRobustStrategy``, the
parameter, the condition, the clause and the value received. The rule, ``f`` and the rule's
hyperparameters are checked by ``sbrml.rule`` (D6.7, C6.x) in the constructor itself.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from typing import Any

from flwr.serverapp.strategy import FedAvg

from sbrml.api import rule as library_rule
from sbrml.core.errors import ParameterError, SpecError, shown
from sbrml.core.params import check_processes
from sbrml.core.round import selected_count
from sbrml.flower.adversary import OmniscientAdversary
from sbrml.reference.paillier import check_key_size

__all__ = [
    "FEDAVG_ARGUMENTS",
    "MAX_NODES",
    "MAX_SERVER_LR",
    "RESERVED",
    "check_flower_arguments",
    "check_node_minimums",
    "check_settings",
    "least_n",
]

NAME = "SecureRobustStrategy"
# FedAvg's keyword arguments (Flower 1.42), which the strategy passes on, but one: the
# strategy's training MetricRecord is its own (valid, excluded, ...), so FedAvg's
# train_metrics_aggr_fn would never be called; it is refused rather than silently ignored.
FEDAVG_ARGUMENTS = tuple(p for p in inspect.signature(FedAvg.__init__).parameters if p != "self")
IGNORED = ("train_metrics_aggr_fn",)
ACCEPTED = tuple(p for p in FEDAVG_ARGUMENTS if p not in IGNORED)
# The largest federation a rule's f, or a node minimum, may require: a round's n x n distance
# matrix (or pairwise masks) then holds 10^8 entries (800 MB per copy at the servers). A larger
# f or minimum makes every round wait for, or abort without, nodes no deployment of this
# strategy serves (Flower's sampling waits without a deadline): refused when it is built.
MAX_NODES = 10_000
# The largest server step: the aggregate's fixed-point resolution is 2^-16 (F = 16, D8.1), so
# a step above 2^16 moves the model by more than 1 per unit of resolution, and a step such as
# 1e308 overflows theta - eta * aggregate to infinity in the first round, after which every
# client's update is refused (C1.1) and no later round can release anything.
MAX_SERVER_LR = float(2**16)
# sbrml.rule's own arguments (name, f, impl): as hyperparameters they would collide with the
# strategy's ``rule`` and ``f`` (a TypeError, "multiple values") or, ``impl``, silently switch
# the rule to the reference tree while the rounds run the optimized one.
RESERVED = tuple(
    p.name
    for p in inspect.signature(library_rule).parameters.values()
    if p.kind is not inspect.Parameter.VAR_KEYWORD
)


def _real(value: object) -> bool:
    # An int is finite however large: math.isfinite would convert it to float, which raises
    # OverflowError beyond 1.8e308, and the comparisons that follow are exact on ints.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    return isinstance(value, int) or math.isfinite(value)


def shown_mapping(mapping: Mapping[Any, Any]) -> str:
    """``mapping`` as ``{key: value, ...}``, each key and value through ``shown``: one value
    Python will not print (an int of 10**5000) leaves the others readable."""
    return "{" + ", ".join(f"{shown(k)}: {shown(v)}" for k, v in mapping.items()) + "}"


def _count(value: object, least: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and least <= value <= MAX_NODES


def check_settings(
    *,
    mode: str,
    modes: tuple[str, ...],
    rule: object,
    leakage: object,
    hyperparameters: object,
    server_lr: object,
    adversary: object,
    rng: object,
    paillier_bits: object,
    processes: object,
) -> None:
    """The strategy's own arguments (D18.1 unless another clause is named):

    ``mode`` one of ``modes``; ``rule`` a name (a str, D6.7); ``leakage`` None outside mode
    ``two-server`` (an option that does not apply is an error, as in ``sbrml.modes``);
    ``hyperparameters`` None or a mapping with str keys, none of ``sbrml.rule``'s own arguments
    (``RESERVED``: ``name`` and ``f`` are the strategy's ``rule`` and ``f``; ``impl`` would run
    the rule in the reference tree); ``server_lr`` None or a finite real in
    (0, ``MAX_SERVER_LR``];
    ``adversary`` None or an ``OmniscientAdversary``; ``rng`` a ``RandomSource`` (C2.8);
    ``paillier_bits`` 2048 or 3072 (C13.1); ``processes`` an int in [1, 64] (C0.2); both at
    their defaults (2048, 1) outside mode ``paillier``, where they do not apply.
    """
    if mode not in modes:
        raise ParameterError(NAME, "mode", f"one of {', '.join(modes)}", "D18.1", shown(mode))
    if not isinstance(rule, str):
        raise ParameterError(
            NAME, "rule", "a rule's name, e.g. 'nnm+krum'", "D6.7", type(rule).__name__
        )
    if leakage is not None and mode != "two-server":
        raise ParameterError(
            NAME,
            "leakage",
            f"None: mode {mode!r} has no leakage modes (C8.15)",
            "D18.1",
            shown(leakage),
        )
    if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
        raise ParameterError(
            NAME,
            "hyperparameters",
            "None or a mapping of names to values",
            "D6.7",
            type(hyperparameters).__name__,
        )
    for key in hyperparameters or {}:
        if not isinstance(key, str):
            raise ParameterError(
                NAME,
                "hyperparameters",
                "a hyperparameter's name (a str) as each key",
                "D6.7",
                f"key {shown(key)} ({type(key).__name__})",
            )
        if key in RESERVED:
            why = {
                "name": "is the strategy's own argument 'rule'",
                "f": "is the strategy's own argument 'f'",
                "impl": "is not taken: the strategy runs the optimized tree",
            }.get(key, "is sbrml.rule's own argument")
            raise ParameterError(
                NAME,
                "hyperparameters",
                f"a rule's hyperparameter as each key: {key!r} {why}",
                "D6.7",
                f"{key}={shown(hyperparameters[key])}",  # type: ignore[index]
            )
    if server_lr is not None and not (
        _real(server_lr) and 0 < server_lr <= MAX_SERVER_LR  # type: ignore[operator]
    ):
        raise ParameterError(
            NAME,
            "server_lr",
            f"None or a finite real in (0, {MAX_SERVER_LR:g}] (larger steps overflow the model)",
            "D18.1",
            shown(server_lr),
        )
    if adversary is not None and not isinstance(adversary, OmniscientAdversary):
        raise ParameterError(
            NAME, "adversary", "None or an OmniscientAdversary", "D18.1", type(adversary).__name__
        )
    if not (
        callable(getattr(rng, "random_bytes", None)) and callable(getattr(rng, "derive", None))
    ):
        raise ParameterError(NAME, "rng", "a RandomSource", "C2.8", type(rng).__name__)
    try:
        check_key_size(NAME, paillier_bits, insecure_test=False)  # type: ignore[arg-type]
    except ParameterError as err:  # C13.1's check, under this parameter's name
        raise ParameterError(NAME, "paillier_bits", err.condition, err.clause, err.got) from None
    check_processes(NAME, processes)  # type: ignore[arg-type]
    # An option that does not apply is an error, unless it is left at its default.
    for parameter, value, default in (
        ("paillier_bits", paillier_bits, 2048),
        ("processes", processes, 1),
    ):
        if mode != "paillier" and value != default:
            raise ParameterError(
                NAME,
                parameter,
                f"{default} (the default): mode {mode!r} has no Paillier key or processes",
                "D18.1",
                shown(value),
            )


def check_flower_arguments(flower: Mapping[str, Any]) -> None:
    """FedAvg's keyword arguments as the strategy passes them on (D18.1):

    known names only; ``fraction_train`` a real in (0, 1] (FedAvg skips training in every
    round at 0, so the strategy would never aggregate, and sets ``min_train_nodes`` to 0
    behind the check of ``check_node_minimums``); ``fraction_evaluate`` a real in [0, 1];
    ``min_train_nodes``, ``min_available_nodes`` ints in [1, ``MAX_NODES``] and
    ``min_evaluate_nodes`` an int in [0, ``MAX_NODES``], not bools: Flower's ``sample_nodes``
    waits, without a deadline, until that many nodes are connected, so a larger minimum
    (10^30) makes the ServerApp wait forever;
    ``weighted_by_key``, ``arrayrecord_key``, ``configrecord_key`` non-empty strs;
    ``evaluate_metrics_aggr_fn`` None or callable; ``train_metrics_aggr_fn`` refused (the
    strategy's training metrics are its own, see ``IGNORED``).
    """
    for key, value in flower.items():
        if key not in FEDAVG_ARGUMENTS:
            raise ParameterError(
                NAME,
                key,
                f"a keyword of FedAvg that the strategy takes ({', '.join(ACCEPTED)})",
                "D18.1",
                f"{key}={shown(value)}",
            )
        if key in IGNORED:
            raise ParameterError(
                NAME,
                key,
                "no train_metrics_aggr_fn: the training MetricRecord is the strategy's own "
                "(valid, excluded, ignored, bytes, seconds, aborted)",
                "D18.1",
                type(value).__name__,
            )
        if key == "fraction_train" and not (_real(value) and 0 < value <= 1):
            raise ParameterError(
                NAME,
                key,
                "a real in (0, 1] (at 0 FedAvg skips training in every round: nothing would "
                "be aggregated)",
                "D18.1",
                shown(value),
            )
        if key == "fraction_evaluate" and not (_real(value) and 0 <= value <= 1):
            raise ParameterError(NAME, key, "a real in [0, 1]", "D18.1", shown(value))
        least = 0 if key == "min_evaluate_nodes" else 1
        if key.startswith("min_") and not _count(value, least):
            raise ParameterError(
                NAME,
                key,
                f"an int in [{least}, {MAX_NODES}] (Flower waits until that many nodes are "
                f"connected; {MAX_NODES} is the largest federation the strategy serves)",
                "D18.1",
                shown(value),
            )
        if key.endswith("_key") and (not isinstance(value, str) or not value):
            raise ParameterError(NAME, key, "a non-empty str", "D18.1", shown(value))
        if key == "evaluate_metrics_aggr_fn" and value is not None and not callable(value):
            raise ParameterError(NAME, key, "None or a callable", "D18.1", type(value).__name__)


def least_n(rule: Any) -> int:
    """The least number of rows ``rule`` (a built rule, ``sbrml.rule``) accepts: its
    precondition (C6.3, ...) and Multi-Krum's ``m <= n`` (C6.5), as the round checks them
    (C8.4); ``MAX_NODES + 1`` when no ``n`` up to ``MAX_NODES`` will do."""
    for n in range(1, MAX_NODES + 1):
        try:
            rule.check_n(n, NAME)
            selected_count(rule, n)
        except SpecError:
            continue
        return n
    return MAX_NODES + 1


# Mode masks runs P20.1 with threshold t = n // 2 + 1, and C20.1 needs 2 <= t <= n: n >= 2,
# above the mean's least n at f = 0 (n > f, D9.1; D8.1 and P14.3 take one row).
LEAST_MASKS = 2


def check_node_minimums(
    rule: Any,
    name: str,
    f: int,
    mode: str,
    flower: Mapping[str, Any],
    hyperparameters: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """FedAvg's keywords with the node minimums settled (D18.1, C8.4, C20.1).

    ``min_train_nodes`` and ``min_available_nodes`` are at least the rule's least ``n``
    (C8.4), and in mode ``masks`` at least ``LEAST_MASKS`` (C20.1): below it, ``ParameterError``
    (every round would abort). Left unset:

    - ``min_train_nodes`` is that least ``n`` (FedAvg's own default, 2, is below most rules'
      least ``n``, and above the mean's at ``f = 0``);
    - ``min_evaluate_nodes`` is ``min(2, min_train_nodes)``: FedAvg's 2, but never more than
      training needs, so a federation that trains (one node, for the mean at ``f = 0``) is not
      left waiting forever at its first evaluation;
    - ``min_available_nodes`` is the largest number Flower will wait for: ``min_train_nodes``,
      and ``min_evaluate_nodes`` while ``fraction_evaluate > 0`` (at 0 FedAvg never evaluates).

    A ``min_available_nodes`` the caller passes below one of those is refused (D18.1): Flower's
    ``sample_nodes`` waits for the larger number anyway. An ``f`` whose least ``n`` exceeds
    ``MAX_NODES`` is refused, under ``hyperparameters`` when they are the cause (Multi-Krum's
    ``m``, a bucket size: the rule at ``f`` with its defaults needs fewer). ``flower`` has
    passed ``check_flower_arguments``."""
    least = least_n(rule)
    if least > MAX_NODES:
        if hyperparameters and least_n(library_rule(name, f=f)) <= MAX_NODES:
            raise ParameterError(
                NAME,
                "hyperparameters",
                f"hyperparameters for which {name} at f={f} needs at most {MAX_NODES} nodes",
                "C8.4",
                shown_mapping(hyperparameters),
            )
        raise ParameterError(
            NAME, "f", f"an f for which {name} needs at most {MAX_NODES} nodes", "C8.4", shown(f)
        )
    if mode == "masks" and least < LEAST_MASKS:
        least, clause = LEAST_MASKS, "C20.1"
        why = f"as the threshold t = n // 2 + 1 of mode {mode!r} needs t >= 2"
    else:
        why, clause = f"the least n {name} accepts at f={f}", "C8.4"
    out = dict(flower)
    for key in ("min_train_nodes", "min_available_nodes"):
        if key in out and out[key] < least:
            raise ParameterError(
                NAME,
                key,
                f">= {least}, {why} (else every round aborts)",
                clause,
                shown(out[key]),
            )
    out.setdefault("min_train_nodes", least)
    # FedAvg's 2 would exceed a one-node federation that trains (the mean at f = 0): Flower
    # would then wait forever at the first evaluation (issue 17's final review 2, finding 1).
    out.setdefault("min_evaluate_nodes", min(2, out["min_train_nodes"]))
    # Flower's sample_nodes waits for max(min_available_nodes, sample size) nodes, and the
    # sample is at least min_train_nodes (min_evaluate_nodes when evaluating): unset,
    # min_available_nodes is the largest of them; set smaller, it is never the number waited
    # for and reads as if a federation of that size would do, where Flower waits for the
    # larger number without a deadline.
    evaluating = out.get("fraction_evaluate", 1.0) > 0
    waited = ("min_train_nodes", "min_evaluate_nodes") if evaluating else ("min_train_nodes",)
    if "min_available_nodes" not in out:
        out["min_available_nodes"] = max(least, *(out[key] for key in waited))
    for key in waited:
        if out["min_available_nodes"] < out[key]:
            raise ParameterError(
                NAME,
                "min_available_nodes",
                f">= {key} ({out[key]}): Flower waits for max(min_available_nodes, "
                f"the sample size) nodes, and samples at least {key}",
                "D18.1",
                shown(out["min_available_nodes"]),
            )
    return out
