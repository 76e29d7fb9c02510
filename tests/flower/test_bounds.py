"""SecureRobustStrategy's counts and empty rounds (issue 17, verification review F6a-F6c):
a node minimum Flower would wait for forever, a training fraction that never trains and a
node minimum below a mode's least ``n`` are refused when the strategy is built; a round with
no rows aborts in its own mode (C8.4), without running another mode's code or making a key."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sbrml.flower.plain_modes as plain_modes
import sbrml.optimized as opt
from sbrml import modes
from sbrml.core.errors import ParameterError
from sbrml.flower import SecureRobustStrategy
from sbrml.flower.app import flower_config, make_strategy
from sbrml.flower.settings import MAX_NODES, MAX_SERVER_LR
from sbrml.flower.strategy import MODES
from sbrml.simulation import Config, ConfigError
from tests.flower.federation import TEMPLATE, client_replies, instructions, rows, strategy

# -- F6a: every count option is bounded when the strategy is built ----------------------------

COUNTS = ("min_train_nodes", "min_available_nodes", "min_evaluate_nodes")


@pytest.mark.parametrize("key", COUNTS)
@pytest.mark.parametrize("value", [10**30, MAX_NODES + 1, True, 7.0])
def test_a_node_minimum_flower_would_wait_for_forever_is_refused(key: str, value: Any) -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("krum", f=1, **{key: value})
    err = info.value
    assert (err.function, err.parameter, err.clause) == ("SecureRobustStrategy", key, "D18.1")
    assert f", {MAX_NODES}]" in err.condition and err.got == repr(value)


@pytest.mark.parametrize("key", ["min_train_nodes", "min_available_nodes"])
def test_a_zero_training_minimum_is_refused(key: str) -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("mean", f=0, mode="paillier", **{key: 0})  # type: ignore[arg-type]
    assert info.value.parameter == key and f"[1, {MAX_NODES}]" in info.value.condition


@pytest.mark.parametrize(
    ("rule", "f", "hyperparameters", "parameter"),
    [
        ("multikrum", 1, {"m": 10**30}, "hyperparameters"),
        ("nnm+multikrum", 1, {"m": MAX_NODES + 1}, "hyperparameters"),
        ("bucketing+krum", 1, {"s": 10**30}, "hyperparameters"),
        ("krum", 10**30, None, "f"),
    ],
)
def test_a_count_beyond_the_largest_federation_names_its_parameter(
    rule: str, f: int, hyperparameters: dict[str, int] | None, parameter: str
) -> None:
    # Multi-Krum's m (C6.5) or a bucket size sets the least n as f does; the error named f.
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy(rule, f=f, hyperparameters=hyperparameters)
    err = info.value
    assert (err.parameter, err.clause) == (parameter, "C8.4") and f"{MAX_NODES} nodes" in str(err)
    assert err.got == repr(hyperparameters if parameter == "hyperparameters" else f)


def test_node_minimums_up_to_the_bound_are_accepted() -> None:
    s = SecureRobustStrategy(
        "krum",
        f=1,
        min_train_nodes=MAX_NODES,
        min_available_nodes=MAX_NODES,
        min_evaluate_nodes=0,
    )
    assert (s.min_train_nodes, s.min_available_nodes, s.min_evaluate_nodes) == (
        MAX_NODES,
        MAX_NODES,
        0,
    )


# -- F6b: fraction_train = 0 never trains; a round without rows aborts in its own mode --------


def test_a_zero_training_fraction_is_refused() -> None:
    with pytest.raises(ParameterError) as info:
        SecureRobustStrategy("median", f=1, fraction_train=0.0)
    err = info.value
    assert (err.parameter, err.clause) == ("fraction_train", "D18.1") and "(0, 1]" in str(err)
    # Evaluation may still be skipped: fraction_evaluate = 0 is FedAvg's documented switch.
    assert SecureRobustStrategy("median", f=1, fraction_evaluate=0.0).fraction_evaluate == 0


SETTINGS = {
    "two-server": ("median", 1, 5),
    "plaintext": ("median", 1, 5),
    "masks": ("mean", 0, 3),
    "paillier": ("mean", 0, 3),
}


class Spy:
    """Records each protocol the plain modes call; the two-server round is the servers'."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.called: list[str] = []
        for name in ("plaintext", "masks", "paillier"):
            monkeypatch.setattr(modes, name, self._wrap(name, getattr(modes, name)))

    def _wrap(self, name: str, protocol: Any) -> Any:
        def spied(*args: Any, **kwargs: Any) -> Any:
            self.called.append(name)
            return protocol(*args, **kwargs)

        return spied


def check_aborted(s: SecureRobustStrategy, mode: str, sampled: int, spy: Spy) -> None:
    arrays, metrics = s.aggregate_train(1, [])
    assert metrics is not None and metrics["aborted"] == 1 and metrics["valid"] == 0
    assert metrics["excluded"] == sampled and arrays is not None
    assert np.array_equal(TEMPLATE.flatten(arrays), np.zeros(TEMPLATE.dim))
    record = s.rounds[-1]
    assert record.mode == mode and record.result is None
    assert record.error is not None and "(C8.4)" in record.error
    # No protocol of another mode ran, and no Paillier key was made for an empty round.
    assert spy.called == [] and s._keys is None


@pytest.mark.spec("C8.4")
@pytest.mark.parametrize("mode", MODES)
def test_no_reply_aborts_the_round_in_its_own_mode(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    spy = Spy(monkeypatch)
    rule, f, n = SETTINGS[mode]
    s = strategy(rule, f, n, mode=mode)
    assert len(instructions(s, n)) == n
    check_aborted(s, mode, n, spy)


@pytest.mark.spec("C8.4")
@pytest.mark.parametrize("mode", MODES)
def test_a_round_that_sampled_no_node_aborts_in_its_own_mode(
    mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # FedAvg sends nothing when fraction_train is 0 (set here past the constructor's check):
    # mode two-server then has no round set-up, and fell through to mode paillier's code.
    spy = Spy(monkeypatch)
    rule, f, n = SETTINGS[mode]
    s = strategy(rule, f, n, mode=mode)
    s.fraction_train = 0.0
    assert instructions(s, n) == []
    check_aborted(s, mode, 0, spy)


def test_the_plain_modes_run_no_other_modes_code() -> None:
    with pytest.raises(ParameterError) as info:
        plain_modes.aggregate_plain(
            "two-server",
            [],
            TEMPLATE.dim,
            None,
            rng=opt.DeterministicRandomSource(0),
            t=0,
            keys=None,
            processes=1,
        )
    assert (info.value.parameter, info.value.clause) == ("mode", "D18.1")


# -- F6c: the mask protocol's least n (C20.1); the mean's is 1 (D8.1, D9.1) ------------------


@pytest.mark.spec("C20.1")
def test_masks_need_two_nodes_at_construction() -> None:
    with pytest.raises(ParameterError) as info:
        strategy("mean", 0, 1, mode="masks")
    err = info.value
    assert (err.parameter, err.clause) == ("min_train_nodes", "C20.1")
    assert ">= 2" in err.condition and err.got == "1"
    assert SecureRobustStrategy("mean", f=0, mode="masks").min_train_nodes == 2


@pytest.mark.parametrize("mode", ["two-server", "plaintext", "paillier"])
def test_the_mean_of_one_node_is_its_update(mode: str) -> None:
    # D8.1 takes n >= 1 and the mean needs n > f (D9.1): with f = 0 one node is a round,
    # as in the core round and sbrml simulate (C18.1).
    s = strategy("mean", 0, 1, mode=mode)
    x = rows(1)
    arrays, metrics = s.aggregate_train(1, client_replies(instructions(s, 1), x))
    assert metrics is not None and metrics["aborted"] == 0 and arrays is not None
    assert np.allclose(TEMPLATE.flatten(arrays), x[0], atol=2**-15)


@pytest.mark.spec("C8.4")
def test_masks_left_with_one_row_abort_with_c84(monkeypatch: pytest.MonkeyPatch) -> None:
    spy = Spy(monkeypatch)
    s = strategy("mean", 0, 2, mode="masks")
    replies = client_replies(instructions(s, 2), rows(2))
    _, metrics = s.aggregate_train(1, replies[:1])
    assert metrics is not None and metrics["aborted"] == 1
    error = s.rounds[-1].error
    assert error is not None and "n >= 2 (the threshold t = n // 2 + 1 >= 2, C20.1)" in error
    assert "after exclusions (C8.4)" in error and "1 valid of n=2, f=0" in error
    assert "excluded: node 100: no reply" in error and spy.called == []


# -- the example's counts: refused before Ray starts, never inside the ServerApp ------------

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "flower" / "run.py"


def example_script() -> Any:
    spec = importlib.util.spec_from_file_location("flower_example_run", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    ("argv", "text"),
    [
        (["--cpus", "0"], "--cpus: need an int in [1, "),
        (["--cpus", str(10**6)], "--cpus: need an int in [1, "),
        (["--tolerance", "nan"], "--tolerance: need a finite real >= 0"),
        (["--tolerance", "-1"], "--tolerance: need a finite real >= 0"),
        (["-n", "0"], "n must be an int >= 1"),
        (["--mode", "masks", "--rule", "mean", "-f", "0", "-n", "1", "--attack", "none"], "C20.1"),
    ],
)
def test_the_example_refuses_a_bad_count_before_ray_starts(
    argv: list[str], text: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        example_script().parse(argv)
    assert info.value.code == 2 and text in capsys.readouterr().err


@pytest.mark.parametrize(
    ("changes", "text", "simulate_takes_it"),
    [
        ({"mode": "masks", "rule": "mean", "f": 0, "n": 1, "attack": None}, "C20.1", False),
        ({"lr": 1e308}, "server_lr, at most 65536", True),
    ],
)
def test_flower_config_refuses_what_the_strategy_would_refuse(
    changes: dict[str, Any], text: str, simulate_takes_it: bool
) -> None:
    # The strategy refuses these (C20.1, server_lr), which raised inside the ServerApp, after
    # Ray had started. sbrml simulate takes a large lr (C18.1); it refuses masks at n = 1 itself.
    config = Config(rounds=1, **changes)
    if simulate_takes_it:
        config.validate()
    with pytest.raises(ConfigError, match=re.escape(text)):
        flower_config(config)


def test_the_edge_configs_flower_config_accepts_build_a_strategy() -> None:
    for config in (
        Config(rule="mean", f=0, n=2, mode="masks", attack=None, rounds=1),
        Config(lr=MAX_SERVER_LR, rounds=1),
        Config(rule="mean", f=0, n=1, mode="secure", attack=None, rounds=1),
    ):
        make_strategy(flower_config(config), rng=opt.DeterministicRandomSource(0))
