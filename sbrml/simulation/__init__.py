"""The training simulation (spec/18-simulation.md): robust D-SGD with n workers, f Byzantine."""

from sbrml.simulation.config import MODES, Config, ConfigError, default_sweep
from sbrml.simulation.train import RunResult, run

__all__ = ["MODES", "Config", "ConfigError", "RunResult", "default_sweep", "run"]
