"""Input files of the command line: the n x d ``.npy`` matrix."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from sbrml.cli.errors import CliError


def load_matrix(path: str) -> NDArray[np.float64]:
    """Read an n x d float array from a .npy file, with errors that name the problem."""
    try:
        arr = np.load(path, allow_pickle=False)
    except FileNotFoundError as err:
        raise CliError(f"INPUT {path!r}: no such file") from err
    except (ValueError, OSError) as err:
        raise CliError(
            f"INPUT {path!r}: not a readable .npy array without pickles ({err})"
        ) from err
    if not isinstance(arr, np.ndarray) or arr.ndim != 2:
        raise CliError(
            f"INPUT {path!r}: need an n x d array (one row per worker); "
            f"got shape {getattr(arr, 'shape', None)}"
        )
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise CliError(f"INPUT {path!r}: need real numbers; got dtype {arr.dtype}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise CliError(
            f"INPUT {path!r}: need n >= 1 workers and d >= 1 coordinates; got shape {arr.shape}"
        )
    return arr.astype(np.float64, copy=False)
