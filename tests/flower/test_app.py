"""The example's apps in this process (sbrml.flower.app): a worker's round keeps its momentum
in the node's context state (D18.2), a Byzantine node of a vector attack replies the marker,
and the settings travel in the instruction; plus the note and the measuring tool beside the
example (examples/flower)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from flwr.app import Context, Message, RecordDict

import sbrml.flower.app as app
import sbrml.optimized as opt
from sbrml.flower.adversary import BYZANTINE_KEY
from sbrml.flower.app import (
    config_of,
    flower_config,
    initial_arrays,
    make_strategy,
    settings_record,
    train,
)
from sbrml.flower.records import Template
from sbrml.simulation import Config, ConfigError
from sbrml.simulation.models import MODELS
from sbrml.simulation.train import batch_generator, dirichlet_split, load_data
from tests.flower.federation import FIRST_NODE, Grid, identity

ROOT = Path(__file__).resolve().parents[2]
CONFIG = Config(rule="krum", attack="alie", mode="plaintext", n=6, f=1, rounds=2, seed=3)


def instruction(config: Config, server_round: int, theta: object = None) -> Message:
    identity()
    strategy = make_strategy(config)
    arrays = initial_arrays(config)
    if theta is not None:
        arrays = Template.of(arrays).unflatten(np.asarray(theta))
    settings = settings_record(config)
    grid = Grid([FIRST_NODE + i for i in range(config.n)])
    messages = strategy.configure_train(server_round, arrays, settings, grid)  # type: ignore[arg-type]
    return next(m for m in messages if m.metadata.dst_node_id == FIRST_NODE)


def node(partition: int, state: RecordDict) -> Context:
    return Context(
        run_id=7,
        node_id=FIRST_NODE + partition,
        node_config={"partition-id": partition},
        state=state,
        run_config={},
    )


@pytest.mark.spec("D18.2")
def test_a_worker_keeps_its_momentum_in_the_context_state() -> None:
    state = RecordDict()
    x_train, y_train, _, _ = load_data(3)
    shard = dirichlet_split(y_train, 5, 1.0, np.random.default_rng(3))[0]
    model = MODELS["logreg"]
    theta = np.zeros(model.dim)
    m = np.zeros(model.dim)
    for t in range(2):
        sent = train(instruction(CONFIG, t + 1, theta), node(0, state))
        batch = batch_generator(3, t, 0).choice(shard, size=32, replace=False)
        g = model.per_example_grads(theta, x_train[batch], y_train[batch]).mean(axis=0)
        m = 0.9 * m + (1 - 0.9) * g  # as the simulation writes it: 1 - 0.9 is not 0.1
        update = sent.content.array_records["arrays"]
        assert np.array_equal(Template.of(update).flatten(update), m)
        stored = state.array_records["sbrml-momentum"]
        assert np.array_equal(Template.of(stored).flatten(stored), m)
        theta = theta - 0.5 * m  # any next model: the client reads it from the instruction


def test_a_byzantine_node_of_a_vector_attack_replies_the_marker() -> None:
    sent = train(instruction(CONFIG, 1), node(5, RecordDict()))
    assert sent.content.metric_records["metrics"][BYZANTINE_KEY] == 1
    assert not sent.content.array_records


def test_the_settings_travel_in_the_instruction() -> None:
    assert config_of(settings_record(CONFIG)) == CONFIG
    assert config_of({"mode": "two-server", "attack": "none", "n": 4}).mode == "secure"
    assert config_of({"attack": "none"}).attack is None


def test_the_example_refuses_dp_before_any_work() -> None:
    with pytest.raises(ConfigError) as info:
        flower_config(Config(rule="mean", attack=None, epsilon=2.0))
    assert "DP" in str(info.value) and "C18.1" in str(info.value)
    with pytest.raises(ConfigError):
        flower_config(Config(rule="krum", n=5, f=2))  # C18.1's own checks come first


def test_the_note_on_flowers_strategies_runs() -> None:
    done = subprocess.run(
        [sys.executable, "examples/flower/flower_rules.py", "--trials", "5"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "| `FedMedian()` | `median` | all 1 | 5 | 0 |" in lines
    assert (
        "| `Krum(num_malicious_nodes=2)` | `krum (Blanchard, n - f - 2)` | all 1 | 5 | 0 |" in lines
    )
    assert any("n = 49, f = 2 returns sbrml's trimmed-mean with f = 1" in line for line in lines)
    assert any("sbrml refuses: krum: n: need n > 2f + 2 (C6.3)" in line for line in lines)


def test_the_measuring_tool_counts_the_whole_process_tree(tmp_path: Path) -> None:
    # A parent that starts a child holding 60 MB: the tree's peak counts both processes.
    child = (
        "import time; b = bytearray(60 * 2**20); b[::4096] = b'x' * len(b[::4096]); time.sleep(1.5)"
    )
    parent = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {child!r}])"
    out = tmp_path / "figures.json"
    done = subprocess.run(
        [
            sys.executable,
            "examples/flower/scale.py",
            "--json",
            str(out),
            "--",
            sys.executable,
            "-c",
            parent,
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    figures = json.loads(out.read_text(encoding="utf-8"))
    assert figures["peak_processes"] >= 2 and figures["peak_pss_mb"] >= 60


def test_the_flower_app_is_valid_and_configures_the_default_secure_run() -> None:
    # `flwr run` reads examples/flower/pyproject.toml; Flower's own validation, modules imported.
    from flwr.common.config import get_project_config, validate_config

    project = get_project_config(ROOT / "examples" / "flower")
    assert validate_config(project, check_module=True, project_dir=ROOT / "examples" / "flower")[0]
    config = config_of(project["tool"]["flwr"]["app"]["config"])
    assert config == Config(rule="nnm+krum", attack="alie", mode="secure")  # as in D18.4


@pytest.mark.spec("C2.1", "C2.2")
def test_the_strategys_secrets_come_from_the_os_unless_a_seeded_run_is_asked_for() -> None:
    def keys(strategy: Any) -> dict[str, bytes]:
        assert strategy.servers is not None
        return dict(strategy.servers.public_keys)

    config = Config(rule="krum", attack="alie", mode="secure", n=6, f=1, seed=3)
    assert keys(make_strategy(config)) != keys(make_strategy(config))  # the OS CSPRNG
    seeded = [make_strategy(config, rng=opt.DeterministicRandomSource(3)) for _ in range(2)]
    assert keys(seeded[0]) == keys(seeded[1])  # a reproduction, when asked for


def test_the_apps_docstring_does_not_claim_every_secret_comes_from_the_seed() -> None:
    doc = app.__doc__ or ""
    assert "All randomness comes from the public seed" not in doc
    assert "OS CSPRNG" in doc and "seeded" in doc
