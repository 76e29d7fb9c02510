"""Parties as separate processes over loopback with mutual TLS (spec section 23, P23.1,
C23.1): ``sbrml launch`` and ``sbrml serve``/``worker`` against the in-process round."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as tree
from sbrml.cli import main
from sbrml.net.config import load_deployment
from sbrml.net.runner import launch
from sbrml.optimized import DeterministicRandomSource
from sbrml.optimized.round import secure_aggregate
from sbrml.rulespec import build_rule
from tests.helpers.deployment import write_deployment


@pytest.mark.spec("C23.1", "P23.1")
def test_a_launched_round_across_processes_equals_the_in_process_round(tmp_path: Path) -> None:
    config = write_deployment(tmp_path, rule="krum", n=6, f=1, d=8)
    inputs = np.random.default_rng(5).normal(size=(6, 8))
    inputs[3] += 40.0
    records = launch(load_deployment(config), inputs, seed=9)
    ref = secure_aggregate(inputs, build_rule(tree, "krum", 1), rng=DeterministicRandomSource(9))
    (record,) = records
    assert record["valid"] == ref.valid and record["party"] == "S1"
    z = np.load(tmp_path / "results" / record["z"])
    np.testing.assert_array_equal(z, ref.z)
    links = ref.channel.bytes_by_link()
    assert record["bytes"] == {k: v for k, v in links.items() if "S1" in k.split("->")}
    s0 = json.loads((tmp_path / "results" / "round-1.s0.json").read_text())
    assert s0["valid"] == ref.valid and "z" not in s0


@pytest.mark.spec("P23.1")
def test_the_cli_launch_prints_each_round(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_deployment(tmp_path, rule="mean", n=4, f=0, d=5, rounds=2)
    np.save(tmp_path / "x.npy", np.arange(20.0).reshape(4, 5))
    assert main(["launch", "--config", str(config), "--input", str(tmp_path / "x.npy")]) == 0
    out = capsys.readouterr().out
    assert "round 1 S1: V = [0, 1, 2, 3]" in out and "round 2 S1" in out
    z = np.load(tmp_path / "results" / "round-2.z.npy")
    np.testing.assert_allclose(z, np.arange(20.0).reshape(4, 5).mean(axis=0), atol=1e-4)


@pytest.mark.spec("C23.1", "P23.2")
@pytest.mark.parametrize(("rule", "options"), [("median", ""), ("krum", 'leakage = "output"')])
def test_rounds_that_draw_material_online_run_across_processes(
    tmp_path: Path, rule: str, options: str
) -> None:
    config = write_deployment(tmp_path, rule=rule, n=7, f=2, d=6, extra_round=options)
    inputs = np.random.default_rng(8).normal(size=(7, 6))
    (record,) = launch(load_deployment(config), inputs, seed=4)
    kwargs: dict[str, Any] = {"leakage": "output"} if options else {}
    ref = secure_aggregate(
        inputs, build_rule(tree, rule, 2), rng=DeterministicRandomSource(4), **kwargs
    )
    np.testing.assert_array_equal(np.load(tmp_path / "results" / record["z"]), ref.z)
    links = ref.channel.bytes_by_link()
    assert record["bytes"] == {k: v for k, v in links.items() if "S1" in k.split("->")}
    assert links["S0->dealer"] > 0  # the requests of P23.2
