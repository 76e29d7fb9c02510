"""Krum and Multi-Krum on NumPy arrays (spec/06-rules.md); same API as the reference.

``weights(D)`` accepts float distances (plaintext) or the exact ring integers the secure
round reconstructs (uint64); integer scores are summed as Python ints so that they are
exact and agree with the reference bit for bit.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from sbrml.optimized.distances import check_matrix, sq_distances
from sbrml.reference.errors import InsufficientWorkersError, ParameterError, ShapeError
from sbrml.reference.rules import check_f

F64 = NDArray[np.float64]


def check_distance_matrix(function: str, d: ArrayLike) -> NDArray[Any]:
    """Implements D6.2: D is square, symmetric, zero on the diagonal, finite and >= 0."""
    arr = np.asarray(d)
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ShapeError(function, "D", "an n x n matrix with n >= 1", "D6.2", f"shape {arr.shape}")
    if arr.dtype == np.bool_ or arr.dtype.kind not in "iuf":
        raise ShapeError(function, "D", "real entries", "D6.2", f"dtype {arr.dtype}")
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        i, j = np.argwhere(~np.isfinite(arr))[0]
        raise ShapeError(
            function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", repr(float(arr[i, j]))
        )
    if arr.dtype.kind in "if" and (arr < 0).any():
        i, j = np.argwhere(arr < 0)[0]
        raise ShapeError(
            function, f"D[{i}][{j}]", "finite and >= 0", "D6.2", repr(arr[i, j].item())
        )
    diag = np.diag(arr)
    if (diag != 0).any():
        i = int(np.argmax(diag != 0))
        raise ShapeError(function, f"D[{i}][{i}]", "a zero diagonal", "D6.2", repr(diag[i].item()))
    if not np.array_equal(arr, arr.T):
        i, j = np.argwhere(arr != arr.T)[0]
        raise ShapeError(
            function,
            f"D[{i}][{j}]",
            "D symmetric",
            "D6.2",
            f"{arr[i, j].item()!r} vs {arr[j, i].item()!r}",
        )
    return arr


def krum_scores(d: NDArray[Any], f: int) -> NDArray[Any]:
    """Implements D6.3: score(i) = sum of the n - f - 2 smallest D_ij over j != i."""
    n = d.shape[0]
    keep = n - f - 2
    exact = d.astype(object) if d.dtype.kind in "iu" else d
    off = exact[~np.eye(n, dtype=bool)].reshape(n, n - 1)
    if exact.dtype == object:
        return np.asarray(np.sort(off, axis=1)[:, :keep].sum(axis=1))
    smallest = np.sort(np.partition(off, keep - 1, axis=1)[:, :keep], axis=1)
    return np.asarray(smallest.sum(axis=1))


def lowest(scores: NDArray[Any], m: int) -> NDArray[np.intp]:
    """Implements C6.4: the m indices of lowest score, ties broken by the lower index."""
    return np.argsort(scores, kind="stable")[:m]


class Krum:
    """Krum (Blanchard et al., NeurIPS 2017). Implements D6.3; see the reference docstring."""

    name = "krum"

    def __init__(self, f: int):
        check_f(self.name, f)
        self.f = f

    def check_n(self, n: int, function: str = "krum") -> None:
        """Implements C6.3: n > 2f + 2."""
        if n <= 2 * self.f + 2:
            raise InsufficientWorkersError(
                function, "n", "n > 2f + 2", "C6.3", f"n={n}, f={self.f}"
            )

    def _select(self, d: ArrayLike) -> NDArray[np.intp]:
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        return lowest(krum_scores(arr, self.f), 1)

    def weights(self, d: ArrayLike) -> F64:
        """Implements D6.3 on distances: p = e_{i*}."""
        chosen = self._select(d)
        p = np.zeros(np.asarray(d).shape[0])
        p[chosen] = 1.0
        return p

    def __call__(self, x: ArrayLike) -> F64:
        """Implements D6.3 in the clear: returns a copy of x_{i*}."""
        arr = check_matrix(self.name, "x", x)
        return np.array(arr[int(self._select(sq_distances(arr))[0])], dtype=np.float64)


class MultiKrum(Krum):
    """Multi-Krum (El Mhamdi et al., ICML 2018). Implements D6.5; m defaults to n - f."""

    name = "multikrum"

    def __init__(self, f: int, m: int | None = None):
        super().__init__(f)
        if m is not None and (isinstance(m, bool) or not isinstance(m, int) or m < 1):
            raise ParameterError(self.name, "m", "an int m >= 1 or None", "C6.5", repr(m))
        self.m = m

    def selected_count(self, n: int) -> int:
        """Implements C6.5: m, or n - f when m is None; m <= n."""
        m = n - self.f if self.m is None else self.m
        if m > n:
            raise ParameterError(self.name, "m", "m <= n", "C6.5", f"m={m}, n={n}")
        return m

    def _select(self, d: ArrayLike) -> NDArray[np.intp]:
        arr = check_distance_matrix(self.name, d)
        self.check_n(arr.shape[0], self.name)
        return lowest(krum_scores(arr, self.f), self.selected_count(arr.shape[0]))

    def weights(self, d: ArrayLike) -> F64:
        """Implements D6.5 on distances: p_i = 1/m on the selected indices."""
        chosen = self._select(d)
        p = np.zeros(np.asarray(d).shape[0])
        p[chosen] = 1.0 / len(chosen)
        return p

    def __call__(self, x: ArrayLike) -> F64:
        """Implements D6.5 in the clear: the mean of the selected vectors."""
        arr = check_matrix(self.name, "x", x)
        chosen = np.sort(self._select(sq_distances(arr)))
        return np.asarray(arr[chosen].mean(axis=0), dtype=np.float64)


RULES: dict[str, type[Krum]] = {"krum": Krum, "multikrum": MultiKrum}
