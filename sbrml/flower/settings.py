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

from sbrml.core.errors import ParameterError
from sbrml.core.params import check_processes
from sbrml.flower.adversary import OmniscientAdversary
from sbrml.reference.paillier import check_key_size

__all__ = ["FEDAVG_ARGUMENTS", "check_flower_arguments", "check_settings"]

NAME = "SecureRobustStrategy"
# FedAvg's keyword arguments (Flower 1.42), which the strategy passes on, but one: the
# strategy's training MetricRecord is its own (valid, excluded, ...), so FedAvg's
# train_metrics_aggr_fn would never be called; it is refused rather than silently ignored.
FEDAVG_ARGUMENTS = tuple(p for p in inspect.signature(FedAvg.__init__).parameters if p != "self")
IGNORED = ("train_metrics_aggr_fn",)


def _real(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _count(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


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
    order_key: object,
) -> None:
    """The strategy's own arguments (D18.1 unless another clause is named):

    ``mode`` one of ``modes``; ``rule`` a name (a str, D6.7); ``leakage`` None outside mode
    ``two-server`` (an option that does not apply is an error, as in ``sbrml.modes``);
    ``hyperparameters`` None or a mapping; ``server_lr`` None or a finite real > 0;
    ``adversary`` None or an ``OmniscientAdversary``; ``rng`` a ``RandomSource`` (C2.8);
    ``paillier_bits`` 2048 or 3072 (C13.1); ``processes`` an int in [1, 64] (C0.2);
    ``order_key`` a non-empty str.
    """
    if mode not in modes:
        raise ParameterError(NAME, "mode", f"one of {', '.join(modes)}", "D18.1", repr(mode))
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
            repr(leakage),
        )
    if hyperparameters is not None and not isinstance(hyperparameters, Mapping):
        raise ParameterError(
            NAME,
            "hyperparameters",
            "None or a mapping of names to values",
            "D6.7",
            type(hyperparameters).__name__,
        )
    if server_lr is not None and not (_real(server_lr) and server_lr > 0):  # type: ignore[operator]
        raise ParameterError(
            NAME, "server_lr", "None or a finite real > 0", "D18.1", repr(server_lr)
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
    if not isinstance(order_key, str) or not order_key:
        raise ParameterError(
            NAME, "order_key", "a non-empty str (a MetricRecord key)", "D18.1", repr(order_key)
        )


def check_flower_arguments(flower: Mapping[str, Any]) -> None:
    """FedAvg's keyword arguments as the strategy passes them on (D18.1):

    known names only; ``fraction_train``, ``fraction_evaluate`` reals in [0, 1];
    ``min_train_nodes``, ``min_evaluate_nodes``, ``min_available_nodes`` ints >= 0;
    ``weighted_by_key``, ``arrayrecord_key``, ``configrecord_key`` non-empty strs;
    ``evaluate_metrics_aggr_fn`` None or callable; ``train_metrics_aggr_fn`` refused (the
    strategy's training metrics are its own, see ``IGNORED``).
    """
    for key, value in flower.items():
        if key not in FEDAVG_ARGUMENTS:
            raise ParameterError(
                NAME,
                key,
                f"a keyword of FedAvg ({', '.join(FEDAVG_ARGUMENTS)})",
                "D18.1",
                f"{key}={value!r}",
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
        if key.startswith("fraction_") and not (_real(value) and 0 <= value <= 1):
            raise ParameterError(NAME, key, "a real in [0, 1]", "D18.1", repr(value))
        if key.startswith("min_") and not _count(value):
            raise ParameterError(NAME, key, "an int >= 0", "D18.1", repr(value))
        if key.endswith("_key") and (not isinstance(value, str) or not value):
            raise ParameterError(NAME, key, "a non-empty str", "D18.1", repr(value))
        if key == "evaluate_metrics_aggr_fn" and value is not None and not callable(value):
            raise ParameterError(NAME, key, "None or a callable", "D18.1", type(value).__name__)
