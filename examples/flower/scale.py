"""Wall time and peak memory of a command and every process it starts (issue 17, item 3).

    python examples/flower/scale.py -- COMMAND [ARGS...]

Runs COMMAND and samples, every ``--interval`` seconds (default 0.2), the memory of its whole
process tree from /proc (Linux): the sum of PSS (proportional set size: a page shared by k
processes counts 1/k in each, so Ray's shared object store and the workers' shared libraries
are counted once) and the sum of RSS (shared pages counted in every process). A Flower run on
Ray is a tree — the driver, Ray's GCS and raylet, one process per actor — so the one-process
figure ``/usr/bin/time`` reports would miss most of it. Prints one line and, with ``--json``,
writes the figures.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc."""
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name may hold spaces and parentheses: the fields start after the last ')'.
        out[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
    return out


def tree(root: int) -> list[int]:
    """``root`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents().items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def kilobytes(pid: int) -> tuple[int, int]:
    """(PSS, RSS) of one process in kB; (0, 0) if it is gone."""
    pss = rss = 0
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                pss = int(line.split()[1])
            elif line.startswith("Rss:"):
                rss = int(line.split()[1])
    except OSError:
        pass
    return pss, rss


def measure(command: list[str], interval: float) -> dict[str, Any]:
    start = time.perf_counter()
    child = subprocess.Popen(command)
    peak = {"pss_kb": 0, "rss_kb": 0, "processes": 0}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            pids = tree(child.pid)
            sizes = [kilobytes(p) for p in pids]
            peak["pss_kb"] = max(peak["pss_kb"], sum(s[0] for s in sizes))
            peak["rss_kb"] = max(peak["rss_kb"], sum(s[1] for s in sizes))
            peak["processes"] = max(peak["processes"], len(pids))
            done.wait(interval)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    status = child.wait()
    wall = time.perf_counter() - start
    done.set()
    sampler.join()
    return {
        "command": command,
        "status": status,
        "wall_seconds": round(wall, 2),
        "peak_pss_mb": round(peak["pss_kb"] / 1024, 1),
        "peak_rss_mb": round(peak["rss_kb"] / 1024, 1),
        "peak_processes": peak["processes"],
        "cpus": os.cpu_count(),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    p.add_argument("--interval", type=float, default=0.2)
    p.add_argument("--json", help="write the figures to this file")
    p.add_argument("command", nargs=argparse.REMAINDER, help="-- COMMAND [ARGS...]")
    args = p.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        p.error("give the command after --")
    figures = measure(command, args.interval)
    print(
        f"scale: {figures['wall_seconds']} s wall, peak {figures['peak_pss_mb']} MB PSS "
        f"({figures['peak_rss_mb']} MB RSS) over at most {figures['peak_processes']} processes, "
        f"exit {figures['status']}: {' '.join(command)}",
        file=sys.stderr,
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return int(figures["status"])


if __name__ == "__main__":
    raise SystemExit(main())
