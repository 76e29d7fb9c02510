"""The optional parts of sbrml and the packages each needs (pyproject.toml, optional-dependencies).

``pip install sbrml`` brings what the protocols need (NumPy, gmpy2, cryptography, SciPy).
Differential-privacy accounting is the ``dp`` extra; the training simulation, its figure and
its progress bars are the ``sim`` extra (which includes ``dp``: the simulation runs DP);
the network transport of a deployment (``sbrml.net``) is the ``net`` extra; the conformance
kit's Hypothesis strategies and pytest helpers (``sbrml.testing.strategies``,
``sbrml.testing.checks``) are the ``testing`` extra; the Flower strategy and example
(``sbrml.flower``) are the ``flower`` extra; ``all`` is the five. A module that needs
an extra calls ``require`` before importing it, so a missing package is reported as the extra
to install, not as a bare ModuleNotFoundError.
A test checks this table against pyproject.toml.
"""

from __future__ import annotations

import importlib.util

__all__ = ["EXTRAS", "MissingExtraError", "missing", "require"]

# extra -> {import name: distribution name}, in the order pyproject.toml lists them.
EXTRAS: dict[str, dict[str, str]] = {
    "dp": {"dp_accounting": "dp-accounting"},
    "sim": {
        "sklearn": "scikit-learn",
        "matplotlib": "matplotlib",
        "tqdm": "tqdm",
        "dp_accounting": "dp-accounting",
    },
    "net": {"grpc": "grpcio"},
    "testing": {"hypothesis": "hypothesis", "pytest": "pytest"},
    # Flower's simulation engine (Ray) comes with flwr[simulation]; sbrml.flower.app.run says
    # so if Ray itself is missing.
    "flower": {"flwr": "flwr"},
}


class MissingExtraError(ImportError):
    """A module of sbrml was imported without the optional packages it needs."""


def missing(extra: str) -> list[str]:
    """The distributions of ``extra`` that cannot be imported here, in pyproject.toml's order.

    Only looks the packages up (``importlib.util.find_spec``): nothing is imported, so the
    check costs no matplotlib start-up.
    """
    return [dist for module, dist in EXTRAS[extra].items() if not _importable(module)]


def require(extra: str, user: str) -> None:
    """Raise MissingExtraError unless every package of ``extra`` can be imported.

    ``user`` is the module that needs the extra; the message names it, the extra, the pip
    command that installs it and the missing distributions, e.g. "sbrml.privacy needs the
    'dp' extra: pip install 'sbrml[dp]' (missing: dp-accounting)".
    """
    absent = missing(extra)
    if absent:
        raise MissingExtraError(
            f"{user} needs the '{extra}' extra: pip install 'sbrml[{extra}]' "
            f"(missing: {', '.join(absent)})",
            name=next(m for m, d in EXTRAS[extra].items() if d == absent[0]),
        )


def _importable(module: str) -> bool:
    # find_spec returns None for an absent package and for one blocked by a None entry in
    # sys.modules; a finder that refuses the name with ImportError counts as absent too.
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False
