"""What a user adds to their own test suite to check a rule against the specification.

``pip install 'sbrml[testing]'``, then a test file like this one::

    from sbrml.testing.checks import check_rule
    from my_project import my_krum

    def test_my_krum_conforms() -> None:
        check_rule(my_krum(f=1), "krum", f=1)

Here the implementation under test is defined in the file, so that the example runs as it is::

    pytest examples/conformance/test_my_rule.py
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from sbrml.testing.checks import check_rule


def my_krum(f: int) -> Callable[[np.ndarray], np.ndarray]:
    """A user's Krum (Blanchard et al.): the row whose n - f - 2 nearest neighbours are
    closest, in squared distance."""

    def aggregate(x: np.ndarray) -> np.ndarray:
        d = ((x[:, None, :] - x[None, :, :]) ** 2).sum(axis=-1)
        scores = np.sort(d, axis=1)[:, 1 : len(x) - f - 1].sum(axis=1)
        return np.asarray(x[int(np.argmin(scores))])

    return aggregate


def test_my_krum_conforms() -> None:
    check_rule(my_krum(f=1), "krum", f=1)  # vectors, generated inputs, robustness (C12.1)
