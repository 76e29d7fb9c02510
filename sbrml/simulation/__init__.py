"""The training simulation (spec/18-simulation.md): robust D-SGD with n workers, f Byzantine.

It needs the ``sim`` extra (``pip install 'sbrml[sim]'``): scikit-learn for the data,
dp-accounting for the DP runs, matplotlib for the figure and tqdm for progress.
"""

from sbrml.extras import require

# Checked before any module of the package loads, matplotlib and tqdm included (loaded only
# when a figure is drawn or progress shown): a missing package is named now, with the extra
# that brings it, not halfway through a sweep.
require("sim", "sbrml.simulation")

from sbrml.modes import MODES  # noqa: E402
from sbrml.simulation.config import Config, ConfigError, default_sweep  # noqa: E402
from sbrml.simulation.grid import GridError, grid_configs, read_grid  # noqa: E402
from sbrml.simulation.train import RunResult, run  # noqa: E402

__all__ = [
    "MODES",
    "Config",
    "ConfigError",
    "GridError",
    "RunResult",
    "default_sweep",
    "grid_configs",
    "read_grid",
    "run",
]
