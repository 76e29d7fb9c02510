"""ByzFL as an independent baseline: the same inputs through its aggregators and ours.

ByzFL (EPFL, version 0.0.11, a dev extra installed by ``make crosscheck``) imports PyTorch
and torchvision at package import. Its aggregators need only NumPy, SciPy and PyTorch, so
this module loads ``byzfl.aggregators`` without running the package's ``__init__`` (and so
without torchvision). Each pair below maps one of our rules, with the hyperparameters that
match ByzFL's conventions, to ByzFL's class:

- Krum and Multi-Krum: ByzFL scores with the n - f - 1 nearest neighbours and Multi-Krum
  averages the n - f best, i.e. our ``convention="byzfl"`` with ``m = n - f`` (spec C6.4).
- Geometric median: ByzFL runs a fixed number T of Weiszfeld steps from 0 with distances
  floored at nu; ours is smoothed Weiszfeld from the mean with a stopping rule (spec D10.1).
  Both converge to the geometric median, so they are compared after many steps, loosely.
- Centered clipping: ByzFL keeps the last output as state; a fresh instance starts from 0,
  our ``center=None``.
- Pre-aggregations (NNM, static clipping, ARC) are composed with the mean on both sides.
  ByzFL's clipping and ARC modify their input in place, so they get a copy.
- Not compared: SMEA and CAF (ByzFL estimates each eigenpair with one power iteration from
  an unseeded random vector, so it is not deterministic; for CAF see also spec D10.7),
  bucketing (random permutations from different generators), Bulyan and the medoid (not in
  ByzFL).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

import sbrml.optimized as opt
from sbrml.rulespec import build_rule

F64 = NDArray[np.float64]


def load_byzfl() -> Any:
    """``byzfl.aggregators``, loaded without ``byzfl/__init__.py``; ImportError if absent.

    ByzFL's modules import one another by absolute name (``from byzfl.utils.misc import
    ...``), and the import system resolves such a name through ``sys.modules["byzfl"]``:
    without an entry there it runs the package's ``__init__``, which imports torchvision.
    Loading the files with ``importlib.util.spec_from_file_location`` does not avoid that, so
    a bare package object stands in for ``byzfl`` while the aggregators load, and every
    ``byzfl`` entry added is removed afterwards: ``sys.modules`` holds no ByzFL module once
    this returns (PyTorch and SciPy, imported normally, stay). Each call loads afresh; a
    caller that needs the module often keeps it.
    """
    if "byzfl" in sys.modules:  # the real package, imported by someone with torchvision
        return importlib.import_module("byzfl.aggregators")
    spec = importlib.util.find_spec("byzfl")
    if spec is None or spec.submodule_search_locations is None:
        raise ImportError("byzfl is not installed: run `make crosscheck`")
    package = types.ModuleType("byzfl")
    package.__path__ = list(spec.submodule_search_locations)
    sys.modules["byzfl"] = package
    try:
        return importlib.import_module("byzfl.aggregators")
    finally:
        for name in [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]:
            del sys.modules[name]


@dataclass(frozen=True)
class Pair:
    """One of our rule specs with options, and ByzFL's equivalent as f(n, f, x) -> z."""

    spec: str
    options: dict[str, Any]
    byzfl: Callable[[Any, int, int, F64], Any]
    rtol: float = 1e-9
    atol: float = 1e-9

    def ours(self, n: int, f: int) -> Any:
        options = dict(self.options)
        if options.get("m") == "n-f":
            options["m"] = n - f
        return build_rule(opt, self.spec, f, options)


def _then_mean(pre: str) -> Callable[[Any, int, int, F64], Any]:
    def run(b: Any, n: int, f: int, x: F64) -> Any:
        make = {"nnm": lambda: b.NNM(f), "clip": lambda: b.Clipping(1.0), "arc": lambda: b.ARC(f)}
        return b.Average()(make[pre]()(x.copy()))

    return run


GEOMED_STEPS = 3000
PAIRS = [
    Pair("mean", {}, lambda b, n, f, x: b.Average()(x)),
    Pair("median", {}, lambda b, n, f, x: b.Median()(x)),
    Pair("trimmed-mean", {}, lambda b, n, f, x: b.TrMean(f)(x)),
    Pair("meamed", {}, lambda b, n, f, x: b.Meamed(f)(x)),
    Pair("krum", {"convention": "byzfl"}, lambda b, n, f, x: b.Krum(f)(x)),
    Pair("multikrum", {"convention": "byzfl", "m": "n-f"}, lambda b, n, f, x: b.MultiKrum(f)(x)),
    Pair("mda", {}, lambda b, n, f, x: b.MDA(f)(x)),
    Pair(
        "cc", {"tau": 1.0, "iterations": 3}, lambda b, n, f, x: b.CenteredClipping(None, 3, 1.0)(x)
    ),
    Pair(
        "geomed",
        {"nu": 1e-12, "tol": 1e-14, "max_iter": GEOMED_STEPS},
        lambda b, n, f, x: b.GeometricMedian(1e-12, GEOMED_STEPS)(x),
        rtol=1e-5,
        atol=1e-6,
    ),
    Pair("nnm+mean", {}, _then_mean("nnm")),
    Pair("clip+mean", {"c": 1.0}, _then_mean("clip")),
    Pair("arc+mean", {}, _then_mean("arc")),
]


def compare(pair: Pair, x: F64, f: int, byzfl: Any = None) -> float:
    """The largest |ours - ByzFL| over the coordinates of one aggregate; ``byzfl`` is
    ``load_byzfl()``'s module (loaded here when not given)."""
    b = load_byzfl() if byzfl is None else byzfl
    ours = np.asarray(pair.ours(len(x), f)(x), dtype=np.float64)
    theirs = np.asarray(pair.byzfl(b, len(x), f, np.array(x, dtype=np.float64)))
    return float(np.max(np.abs(ours - theirs)))
