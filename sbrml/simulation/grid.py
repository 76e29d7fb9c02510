"""Grid files: the runs of a sweep as the combinations of lists (spec D18.6, checked by C18.1).

A grid file is TOML with list keys (``rules``, ``attacks``, ``modes``, ``epsilons``,
``models``) and scalar keys (``n``, ``f``, ``alpha``, ``rounds``, ``seed``); every
combination of the lists is one run and the scalars apply to all. ``sbrml simulate --grid``
reads it through here and reports a ``GridError`` as its own error (exit status 2).
"""

from __future__ import annotations

import tomllib
from typing import Any

from sbrml.simulation.config import Config, ConfigError

GRID_LISTS = ("rules", "attacks", "modes", "epsilons", "models")
GRID_SCALARS = ("n", "f", "alpha", "rounds", "seed")
GRID_KEYS = {*GRID_LISTS, *GRID_SCALARS}

__all__ = ["GRID_KEYS", "GRID_LISTS", "GRID_SCALARS", "GridError", "grid_configs", "read_grid"]


class GridError(ConfigError):
    """A grid file that cannot be read, or whose keys or lists are not D18.6's (C18.1)."""


def read_grid(path: str) -> dict[str, Any]:
    """D18.6: the grid file, its keys and list values checked (C18.1); else ``GridError``."""
    try:
        with open(path, "rb") as stream:
            grid = tomllib.load(stream)
    except OSError as err:
        raise GridError(
            f"--grid {path!r}: not a readable TOML file ({err.strerror or err}) (C18.1)"
        ) from err
    except UnicodeDecodeError as err:
        # TOML is UTF-8 text: tomllib decodes the bytes before parsing, so a binary file (an
        # .npy given by mistake) or a file in another encoding fails here, not as bad TOML.
        raise GridError(
            f"--grid {path!r}: not a readable TOML file (not UTF-8 text: byte "
            f"{err.object[err.start]:#04x} at offset {err.start}) (C18.1)"
        ) from err
    except tomllib.TOMLDecodeError as err:
        raise GridError(f"--grid {path!r}: not a readable TOML file ({err}) (C18.1)") from err
    unknown = sorted(set(grid) - GRID_KEYS)
    if unknown:
        raise GridError(
            f"--grid {path!r}: unknown keys {unknown}; allowed: {sorted(GRID_KEYS)} (C18.1)"
        )
    for key in GRID_LISTS:
        if key in grid and (not isinstance(grid[key], list) or not grid[key]):
            raise GridError(f"--grid {path!r}: {key} must be a non-empty list (C18.1)")
        # Names are strings; epsilons are numbers or "none". A wrong type is the file's error.
        for item in grid.get(key, []):
            number = isinstance(item, int | float) and not isinstance(item, bool)
            if not (isinstance(item, str) or (key == "epsilons" and number)):
                want = 'numbers or "none"' if key == "epsilons" else "names (strings)"
                raise GridError(f"--grid {path!r}: {key} must hold {want}; got {item!r} (C18.1)")
    return grid


def grid_configs(grid: dict[str, Any], common: dict[str, Any]) -> list[Config]:
    """D18.6: every combination of the grid's lists is one run; its scalars apply to all.

    ``common`` holds the values every run shares otherwise (``model``, ``delta`` and the
    scalars); the grid's scalars replace them and its ``models`` list replaces ``model``.
    """
    scalars: dict[str, Any] = dict(common)
    scalars.update({k: grid[k] for k in GRID_SCALARS if k in grid})
    scalars.pop("model", None)
    attacks = [None if a == "none" else a for a in grid.get("attacks", ["alie"])]
    epsilons = [None if e == "none" else e for e in grid.get("epsilons", ["none"])]
    return [
        Config(rule=r, attack=a, mode=m, epsilon=e, model=mo, **scalars)
        for r in grid.get("rules", ["krum"])
        for a in attacks
        for m in grid.get("modes", ["plaintext"])
        for e in epsilons
        for mo in grid.get("models", [common["model"]])
    ]
