"""``make bench``: speed, bytes and memory of the secure round beside its baselines.

Every figure is measured in this process (peak memory in a child process), after one
warm-up run, as the median of ``--repeat`` runs; the first, cold run is reported too,
because on this machine the first touch of fresh memory is slow (transparent huge pages).
Nothing here asserts a speed: targets are printed beside the measurements. ``--out FILE``
also writes the tables to a Markdown page whose header names the machine, the versions, the
date and the commit (``docs/benchmarks.md``).

One module per table: ``round`` (the secure round, Gram against pairwise, the reference
tree), ``kernels`` (ring Gram kernel, keystream, peak memory), ``rules`` (the rule library
and ByzFL), ``paillier`` (per operation, packed averaging, dealer-free triples), ``training``
(one training round per mode of ``sbrml.modes``), ``masks`` (pairwise masks) and ``network``
(the round across processes over loopback, with ``loopback`` starting them); ``common``
holds the one timing helper, ``report`` the command line and the page.
"""

from sbrml.bench.common import median_time, updates
from sbrml.bench.kernels import bench_kernels, bench_keystream, peak_memory
from sbrml.bench.masks import bench_masks
from sbrml.bench.network import bench_network
from sbrml.bench.paillier import (
    bench_packed_averaging,
    bench_paillier,
    bench_paillier_square_pairs,
    bench_paillier_triples,
)
from sbrml.bench.report import main
from sbrml.bench.round import bench_reference, bench_round, bench_variants
from sbrml.bench.rules import bench_byzfl, bench_rules
from sbrml.bench.training import bench_training_round

__all__ = [
    "bench_byzfl",
    "bench_kernels",
    "bench_keystream",
    "bench_masks",
    "bench_network",
    "bench_packed_averaging",
    "bench_paillier",
    "bench_paillier_square_pairs",
    "bench_paillier_triples",
    "bench_reference",
    "bench_round",
    "bench_rules",
    "bench_training_round",
    "bench_variants",
    "main",
    "median_time",
    "peak_memory",
    "updates",
]
