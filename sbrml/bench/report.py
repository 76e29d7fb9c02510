"""``python -m sbrml.bench``: run the tables, print them, and with ``--out`` write them to a
Markdown file whose header names the machine, the versions, the date and the commit."""

from __future__ import annotations

import argparse
import datetime
import importlib.metadata
import os
import platform
import subprocess
import sys
from pathlib import Path

import numpy as np

import sbrml
from sbrml.bench.comparison import (
    bench_hidden_krum,
    bench_range_validation,
    bench_reference_median,
    bench_secure_median,
)
from sbrml.bench.kernels import bench_kernels, bench_keystream, peak_memory
from sbrml.bench.masks import bench_masks
from sbrml.bench.network import bench_network
from sbrml.bench.paillier import (
    bench_packed_averaging,
    bench_paillier,
    bench_paillier_square_pairs,
    bench_paillier_triples,
)
from sbrml.bench.round import bench_reference, bench_round, bench_variants
from sbrml.bench.rules import bench_byzfl, bench_rules
from sbrml.bench.training import bench_training_round
from sbrml.optimized.processes import available_processes
from sbrml.tables import human_bytes

__all__ = ["machine_header", "main", "run_tables", "write_report"]

# The packages whose versions the figures depend on, as pip names them.
PACKAGES = ("numpy", "gmpy2", "cryptography", "scipy", "phe", "torch", "byzfl", "mpyc")


def run_tables(quick: bool, repeat: int, processes: int) -> list[str]:
    """Every table of ``make bench`` (``quick``: small shapes and the fast tables only)."""
    big = (9, 50_000) if quick else (9, 1_250_000)
    mid = (9, 5_000) if quick else (9, 100_000)
    sections = [
        bench_round(*big, repeat),
        bench_range_validation(*big, repeat),
        bench_secure_median(
            big[0], [20_000] if quick else [713_000, 1_250_000], repeat, 20 if quick else 200
        ),
        bench_hidden_krum(
            [(9, 5_000), (20, 5_000)] if quick else [(9, 100_000), (100, 100_000)], repeat
        ),
        bench_reference_median(9, 20 if quick else 100),
        bench_variants(*mid, repeat),
        bench_reference(9, 100 if quick else 1000),
        bench_keystream(big[0] * big[1], repeat),
        peak_memory(*big),
        bench_masks(
            [(20, 5_000), big] if quick else [(100, 100_000), big],
            (0.0, 0.1),
            repeat if quick else max(repeat, 5),
        ),
        bench_network([(9, 20_000)] if quick else [(9, 1_250_000), (100, 100_000)], repeat),
    ]
    if not quick:
        shapes = [(9, 1_250_000, 2), (100, 100_000, 10)]
        sections.append(bench_kernels(repeat))
        sections.append(bench_rules(shapes, repeat))
        sections.append(bench_byzfl(shapes, repeat))
        sections.append(bench_paillier((2048, 3072), max(repeat, 5), processes))
        sections.append(bench_packed_averaging(9, 1_250_000, 2048, processes))
        sections.extend(bench_paillier_triples(9, d, 2048, processes) for d in (10_000, 100_000))
        sections.append(bench_paillier_square_pairs(6_000, 2048, processes))
        sections.append(bench_training_round(10, 2, (650, 1_000_000), repeat, processes))
    return sections


def _version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _commit() -> str:
    """The checkout's commit, marked when the tree has uncommitted changes to tracked files."""
    root = Path(sbrml.__file__).resolve().parent.parent
    if not (root / ".git").exists():
        return f"unknown (sbrml {sbrml.__version__} not run from a git checkout)"
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True
        )
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
        )
    except OSError as err:  # no git on this machine
        return f"unknown (git: {err.strerror or err})"
    if head.returncode != 0:
        return f"unknown (git: {head.stderr.strip()})"
    return head.stdout.strip() + (" with uncommitted changes" if dirty.stdout.strip() else "")


def _memory() -> str:
    try:
        return human_bytes(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):  # not POSIX
        return "unknown"


def _cpu() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_header(command: str, processes: int) -> str:
    """The page's title and the table of what the figures were measured on."""
    now = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    rows = [
        ("date", now),
        ("commit", _commit()),
        ("command", f"`{command}`"),
        ("machine", f"{platform.platform()}; {_cpu()}"),
        (
            "cores",
            f"{os.cpu_count()} ({available_processes(os.cpu_count() or 1)} usable by this "
            f"process; the Paillier tables use {processes} worker processes)",
        ),
        ("memory", _memory()),
        ("Python", platform.python_version()),
        *((package, _version(package)) for package in PACKAGES),
    ]
    lines = [
        "# Benchmarks",
        "",
        "Written by `python -m sbrml.bench --out` (the command below). Every figure was "
        "measured in one process on the machine below (peak memory in a child process), after "
        "a warm-up run, as the median of the timed runs unless its table says otherwise; each "
        "table names its baseline, run in the same process. No test asserts a speed.",
        "",
        "| | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in rows),
    ]
    return "\n".join(lines)


def write_report(path: Path, sections: list[str], command: str, processes: int) -> None:
    """Write the header and the tables (as printed, in one fixed-width block) to ``path``."""
    text = machine_header(command, processes) + "\n\n```\n" + "\n\n".join(sections) + "\n```\n"
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    os.replace(partial, path)  # a failed run never leaves half a page


def _check_out(parser: argparse.ArgumentParser, out: Path) -> None:
    # Checked before the tables run (they take many minutes): the file must be writable.
    if out.is_dir():
        parser.error(f"--out {str(out)!r} is a directory; give a file such as docs/benchmarks.md")
    folder = out.parent
    if not folder.is_dir():
        parser.error(f"--out {str(out)!r}: the folder {str(folder)!r} does not exist")
    if not os.access(folder, os.W_OK) or (out.exists() and not os.access(out, os.W_OK)):
        parser.error(f"--out {str(out)!r}: not writable")


def main(argv: list[str] | None = None) -> int:
    """``python -m sbrml.bench [--repeat R] [--quick] [--out FILE]``."""
    parser = argparse.ArgumentParser(prog="python -m sbrml.bench", description=sbrml.bench.__doc__)
    parser.add_argument(
        "--repeat", type=int, default=3, help="timed runs per figure (median; default 3)"
    )
    parser.add_argument("--quick", action="store_true", help="small shapes, for a smoke test")
    parser.add_argument(
        "--out",
        type=Path,
        help="also write the tables to this Markdown file, with the machine, the versions, the "
        "date and the commit in its header (make bench: docs/benchmarks.md)",
    )
    args = parser.parse_args(argv)
    if args.out is not None:
        _check_out(parser, args.out)
    processes = available_processes()
    sections = run_tables(args.quick, args.repeat, processes)
    print(f"sbrml bench (numpy {np.__version__}, python {sys.version.split()[0]})\n")
    print("\n\n".join(sections))
    if args.out is not None:
        command = " ".join(["python -m sbrml.bench", *(argv if argv is not None else sys.argv[1:])])
        write_report(args.out, sections, command, processes)
        print(f"\nwrote {args.out}")
    return 0
