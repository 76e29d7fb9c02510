"""One mode abstraction (sbrml.modes) for the simulation, the demo, the benchmarks and the
CLI; the simulation's grid loader in the simulation package (issue 14, item 4)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import sbrml
import sbrml.optimized as opt
import sbrml.optimized.paillier as opt_p
import sbrml.reference as ref
from sbrml import modes
from sbrml.api import AggregationResult
from sbrml.core.errors import ParameterError, ShapeError

ROOT = Path(__file__).resolve().parents[1]
KEY = opt_p.generate_keypair(512, rng=opt.DeterministicRandomSource(7), insecure_test=True)
X = np.random.default_rng(5).standard_normal((7, 5))
OPTIONS: dict[str, dict[str, Any]] = {
    "plaintext": {},
    "secure": {},
    "masks": {"threshold": 4},
    "paillier": {"keys": KEY, "int_bits": 4},
}


@pytest.mark.spec("D18.1", "D0.1")
@pytest.mark.parametrize("impl", ["optimized", "reference"])
@pytest.mark.parametrize("mode", modes.MODES)
def test_every_mode_returns_the_aggregate_bytes_and_seconds(mode: str, impl: str) -> None:
    tree = opt if impl == "optimized" else ref
    rule = None if mode in modes.AVERAGING else tree.Krum(1)
    source = tree.DeterministicRandomSource(3)
    result = modes.aggregate(mode, X, rule, rng=source, impl=impl, **OPTIONS[mode])
    assert isinstance(result, AggregationResult) and result.impl == impl
    assert result.aggregate.dtype == np.float64 and result.aggregate.shape == (5,)
    assert (modes.total_bytes(result) > 0) == (mode != "plaintext")
    assert result.seconds and all(v >= 0 for v in result.seconds.values())
    plain = np.asarray(tree.Krum(1)(X if impl == "optimized" else X.tolist()))
    if mode == "plaintext":
        assert np.array_equal(result.aggregate, plain) and result.bytes == {}
    elif mode == "secure":
        assert np.allclose(result.aggregate, plain, atol=2.0**-15)
    else:
        assert result.valid == list(range(7))
        assert np.allclose(result.aggregate, X.mean(axis=0), atol=2.0**-15)


@pytest.mark.spec("D18.1")
def test_an_unknown_mode_is_refused() -> None:
    with pytest.raises(ParameterError) as info:
        modes.aggregate("quantum", X, opt.Krum(1))
    assert info.value.clause == "D18.1" and "plaintext, secure, paillier, masks" in str(info.value)


def test_the_simulation_uses_the_modes() -> None:
    import sbrml.simulation

    assert sbrml.simulation.MODES is modes.MODES


APP_LAYER = [
    "sbrml/demo.py",
    "sbrml/simulation/train.py",
    "sbrml/cli/aggregate.py",
    "sbrml/cli/masks.py",
    "sbrml/bench/training.py",
]


@pytest.mark.parametrize("path", APP_LAYER)
def test_the_app_layer_runs_protocols_through_the_modes(path: str) -> None:
    """The plaintext/secure/masks/paillier dispatch exists once: no app module calls a
    protocol's entry point itself."""
    text = (ROOT / path).read_text(encoding="utf-8")
    assert "modes." in text
    for entry in ("secure_aggregate(", "masked_aggregate(", "encrypted_average("):
        assert entry not in text, (path, entry)


def test_modes_need_no_extra() -> None:
    """sbrml.modes lives outside sbrml.simulation: it imports without the sim extra."""
    code = (
        "import sys\n"
        "for name in ('sklearn', 'matplotlib', 'tqdm', 'dp_accounting'):\n"
        "    sys.modules[name] = None\n"
        "import sbrml.modes\n"
        "assert 'sbrml.simulation' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


@pytest.mark.spec("D18.6", "C18.1")
def test_the_grid_loader_is_the_simulations(tmp_path: Path) -> None:
    import sbrml.cli.simulate
    from sbrml.simulation import ConfigError
    from sbrml.simulation.grid import GridError, grid_configs, read_grid

    assert not hasattr(sbrml.cli.simulate, "read_grid")
    assert not hasattr(sbrml.cli.simulate, "grid_configs")
    grid_file = tmp_path / "grid.toml"
    grid_file.write_text('rules = ["mean", "krum"]\nmodes = ["plaintext"]\nrounds = 2\n')
    grid = read_grid(str(grid_file))
    common = {"model": "logreg", "delta": 1e-5, "n": 10, "f": 2, "alpha": 1.0, "rounds": 40}
    configs = grid_configs(grid, {**common, "seed": 0})
    assert [(c.rule, c.rounds, c.mode) for c in configs] == [
        ("mean", 2, "plaintext"),
        ("krum", 2, "plaintext"),
    ]
    grid_file.write_text("colour = 1\n")
    with pytest.raises(GridError, match=r"unknown keys \['colour'\].*\(C18\.1\)") as info:
        read_grid(str(grid_file))
    assert isinstance(info.value, ConfigError)


@pytest.mark.spec("D18.1", "D0.1")
def test_modes_refuse_what_does_not_apply() -> None:
    x = np.arange(18.0).reshape(6, 3)
    with pytest.raises(ParameterError) as info:  # the averaging modes take no rule
        modes.aggregate("masks", x, opt.Krum(1))
    assert info.value.parameter == "rule"
    with pytest.raises(ParameterError):  # an optimized rule is not run as the reference
        modes.plaintext(x, opt.Krum(1), impl="reference")
    with pytest.raises(ShapeError):  # a vector is not n x d
        modes.plaintext(np.arange(3.0), opt.Mean(0))
    assert modes.secure is sbrml.secure_aggregate and modes.masks is sbrml.masked_mean
