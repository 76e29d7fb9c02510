"""Build the wheel, install it in fresh virtual environments, use it from outside the tree.

``make wheel-smoke`` (part of ``make test``) runs this with the project's Python. It builds
the wheel once from the files git knows under ``sbrml/`` (plus pyproject.toml and README.md),
then, for the oldest and the newest Python that pyproject.toml's classifiers list, creates a
virtual environment in a temporary folder and installs the wheel in three stages:

1. ``sbrml`` alone: the package's files (modules and data such as ``py.typed``), its
   metadata, the Python API (``secure_aggregate``, ``masked_mean``, ``encrypted_mean``), the
   ``sbrml`` entry point (``aggregate --json``, ``kappa``, ``demo``), and the clear errors
   of what needs an extra (``sbrml.privacy``, ``sbrml.simulation``, ``sbrml simulate``).
2. ``sbrml[dp]``: ``sbrml.privacy`` works; the simulation still names the ``sim`` extra.
3. ``sbrml[all]``: the simulation runs (``sbrml simulate``, two rounds, with DP noise).

Every check runs in a temporary folder with ``python -I``, so nothing is imported from the
source tree. pip's cache is used as configured. A Python that is not on this machine (looked
for as ``python3.X`` on PATH, then under pyenv's versions) is skipped with a printed line;
``--require-all`` (or WHEEL_SMOKE_REQUIRE_ALL=1) makes that a failure. When neither is found,
the interpreter running this script is used, so the wheel is always tested once.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
STAGES = (("base", ""), ("dp", "[dp]"), ("all", "[all]"))
SIM_HINT = "needs the 'sim' extra: pip install 'sbrml[sim]'"
DP_HINT = "sbrml.privacy needs the 'dp' extra: pip install 'sbrml[dp]'"


class SmokeError(Exception):
    """A step of the smoke test failed; the message says which and shows its output."""


def say(line: str) -> None:
    print(f"wheel-smoke: {line}", flush=True)


# --- The driver: runs in the project's environment. -------------------------------------------


def supported_versions(pyproject: Path) -> list[str]:
    """The oldest and newest ``3.X`` of the classifiers, checked against requires-python."""
    project = tomllib.loads(pyproject.read_text(encoding="utf-8"))["project"]
    listed = sorted(
        (int(m.group(1)), int(m.group(2)))
        for c in project.get("classifiers", [])
        if (m := re.fullmatch(r"Programming Language :: Python :: (\d+)\.(\d+)", c))
    )
    if not listed:
        raise SmokeError("pyproject.toml lists no 'Programming Language :: Python :: 3.X'")
    floor = re.fullmatch(r">=\s*(\d+)\.(\d+)", project["requires-python"].strip())
    if floor is None or (int(floor.group(1)), int(floor.group(2))) != listed[0]:
        raise SmokeError(
            f"requires-python {project['requires-python']!r} does not start at the oldest "
            f"classifier {listed[0][0]}.{listed[0][1]}"
        )
    ends = [listed[0], listed[-1]] if listed[0] != listed[-1] else [listed[0]]
    return [f"{major}.{minor}" for major, minor in ends]


def find_python(version: str) -> str | None:
    """A working ``python3.X``: on PATH, else the newest pyenv build of 3.X; else None.

    Each candidate must run and say it is 3.X: a pyenv shim on PATH exists for every
    installed version but fails unless that version is selected.
    """
    name = f"python{version}"
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))

    def patch(path: Path) -> int:
        tail = path.parents[1].name.split(".")[-1]
        return int(tail) if tail.isdigit() else -1

    builds = sorted(pyenv.glob(f"versions/{version}.*/bin/{name}"), key=patch, reverse=True)
    on_path = shutil.which(name)
    candidates = ([on_path] if on_path else []) + [str(b) for b in builds]
    return next((c for c in candidates if runs_as(c, version)), None)


def runs_as(python: str, version: str) -> bool:
    """Whether ``python`` starts, reports version ``3.X`` and can make a venv with pip."""
    code = "import ensurepip, sys, venv; print('%d.%d' % sys.version_info[:2])"
    probe = [python, "-c", code]
    try:
        done = subprocess.run(probe, capture_output=True, text=True, check=False, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0 and done.stdout.strip() == version


def run(command: list[str], *, cwd: Path, what: str) -> str:
    """Run a command; its output is shown only if it fails."""
    done = subprocess.run(
        command, cwd=cwd, env=clean_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SmokeError(
            f"{what} failed (exit {done.returncode}): {' '.join(command)}\n"
            f"{done.stdout}{done.stderr}"
        )
    return done.stdout


def clean_env() -> dict[str, str]:
    """The environment without what would point Python at the source tree or another venv."""
    drop = {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH"}
    return {k: v for k, v in os.environ.items() if k not in drop}


def source_files() -> list[str]:
    """The files of the package, relative to ``sbrml/``: what git tracks or would add."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "--", "sbrml"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        # Not a git checkout: every file under sbrml/ but Python's caches.
        listed = [
            str(p.relative_to(ROOT))
            for p in (ROOT / "sbrml").rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        ]
    # A file deleted but not yet committed is still listed by git: keep only what exists.
    return sorted(str(Path(p).relative_to("sbrml")) for p in listed if (ROOT / p).is_file())


def build_wheel(tmp: Path, files: list[str]) -> Path:
    """The wheel, built from a copy of the package's files (no stale build/ can leak in)."""
    src = tmp / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    for rel in files:
        target = src / "sbrml" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / "sbrml" / rel, target)
    dist = tmp / "dist"
    run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(dist), str(src)],
        cwd=tmp,
        what="building the wheel",
    )
    wheels = list(dist.glob("sbrml-*.whl"))
    if len(wheels) != 1:
        raise SmokeError(f"expected one sbrml wheel in {dist}; found {wheels}")
    return wheels[0]


def smoke_python(python: str, version: str, wheel: Path, tmp: Path, expect: Path) -> None:
    """One fresh virtual environment on ``python``, the wheel installed stage by stage."""
    venv = tmp / f"venv-{version}"
    run([python, "-m", "venv", str(venv)], cwd=tmp, what=f"creating a venv with {python}")
    vpython = venv / "bin" / "python"
    checker = tmp / "smoke_checks.py"
    for stage, extra in STAGES:
        start = time.perf_counter()
        run(
            [str(vpython), "-m", "pip", "install", "--quiet", f"{wheel}{extra}"],
            cwd=tmp,
            what=f"Python {version}: pip install sbrml{extra}",
        )
        installed = time.perf_counter() - start
        work = tmp / f"work-{version}-{stage}"
        work.mkdir()
        checks = [str(vpython), "-I", str(checker), stage, "--expect", str(expect)]
        run(
            [*checks, "--source", str(ROOT)],
            cwd=work,
            what=f"Python {version}: checks of sbrml{extra}",
        )
        total = time.perf_counter() - start
        say(f"Python {version}: sbrml{extra} ok (install {installed:.1f} s, {total:.1f} s)")


def choose_pythons(versions: list[str], require_all: bool) -> list[tuple[str, str]]:
    """``(version, interpreter)`` for each version found; a missing one is said, not hidden."""
    pythons: list[tuple[str, str]] = []
    for version in versions:
        found = find_python(version)
        if found is None:
            line = f"Python {version} not found (python{version} with venv, on PATH or in pyenv)"
            if require_all:
                raise SmokeError(line)
            say(f"SKIPPED {line}: the wheel is not tested on {version} here")
        else:
            pythons.append((version, found))
    if not pythons:
        here = f"{sys.version_info.major}.{sys.version_info.minor}"
        say(f"no listed Python found; testing on this one instead ({here}, {sys.executable})")
        pythons.append((here, sys.executable))
    return pythons


def drive(require_all: bool, keep: bool) -> int:
    """Build the wheel and smoke-test it on each supported Python found; 0 when all pass."""
    start = time.perf_counter()
    pythons = choose_pythons(supported_versions(ROOT / "pyproject.toml"), require_all)
    tmp = Path(tempfile.mkdtemp(prefix="sbrml-wheel-smoke-"))
    try:
        files = source_files()
        expect = tmp / "expect.json"
        expect.write_text(json.dumps(files), encoding="utf-8")
        shutil.copy2(Path(__file__), tmp / "smoke_checks.py")
        wheel = build_wheel(tmp, files)
        built = time.perf_counter() - start
        say(f"built {wheel.name} ({len(files)} files under sbrml/) in {built:.1f} s")
        for version, python in pythons:
            smoke_python(python, version, wheel, tmp, expect)
    except SmokeError:
        keep = True
        raise
    finally:
        if keep:
            say(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    tested = ", ".join(v for v, _ in pythons)
    say(f"passed on Python {tested} in {time.perf_counter() - start:.0f} s")
    return 0


# --- The checks: run by the installed Python, in a folder outside the source tree. -----------


def expect_true(ok: bool, what: str) -> None:
    if not ok:
        raise SmokeError(what)


def close(got: object, want: object, what: str) -> None:
    import numpy as np

    # The secure protocols compute in fixed point (spec C8.5): equal to about 1e-5 here.
    gap = float(np.max(np.abs(np.asarray(got) - np.asarray(want))))
    expect_true(gap < 1e-4, f"{what}: off by {gap} from the plaintext result")


def sbrml_command(*args: str) -> subprocess.CompletedProcess[str]:
    """The ``sbrml`` entry point of this environment (the console script pip wrote)."""
    script = Path(sys.executable).parent / "sbrml"
    return subprocess.run([str(script), *args], capture_output=True, text=True, check=False)


def succeeded(done: subprocess.CompletedProcess[str], what: str) -> str:
    expect_true(done.returncode == 0, f"{what}: exit {done.returncode}\n{done.stdout}{done.stderr}")
    return done.stdout


def check_installed(files: list[str], source: Path) -> None:
    """The package comes from this environment, whole, with the metadata pyproject declares."""
    import importlib.metadata

    import sbrml

    package = Path(sbrml.__file__).resolve().parent
    expect_true(not package.is_relative_to(source), f"sbrml imported from the tree: {package}")
    expect_true(package.is_relative_to(Path(sys.prefix).resolve()), f"sbrml not from {sys.prefix}")
    absent = [rel for rel in files if not (package / rel).is_file()]
    expect_true(not absent, f"files of sbrml/ missing from the installed wheel: {absent}")
    expect_true((package / "py.typed").is_file(), "py.typed (PEP 561) missing")
    project = tomllib.loads((source / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    meta = importlib.metadata.metadata("sbrml")
    expect_true(meta["Version"] == sbrml.__version__, f"version {meta['Version']}")
    expect_true(
        meta["Requires-Python"] == project["requires-python"],
        f"Requires-Python {meta['Requires-Python']}",
    )
    extras = set(meta.get_all("Provides-Extra") or [])
    expect_true(extras == set(project["optional-dependencies"]), f"extras {sorted(extras)}")


def check_api() -> None:
    """One call per protocol through the front door, against the plaintext result."""
    import numpy as np

    import sbrml

    x = np.random.default_rng(0).normal(size=(7, 5))
    krum = sbrml.rule("krum", f=2)
    close(sbrml.secure_aggregate(x, krum).aggregate, krum(x), "secure_aggregate(x, krum)")
    close(sbrml.masked_mean(x).aggregate, x.mean(axis=0), "masked_mean(x)")
    close(sbrml.encrypted_mean(x).aggregate, x.mean(axis=0), "encrypted_mean(x)")


def check_commands() -> None:
    """``sbrml aggregate --json``, ``kappa``, ``demo`` and ``python -m sbrml.cli``."""
    import numpy as np

    import sbrml

    x = np.random.default_rng(1).normal(size=(7, 5))
    np.save("x.npy", x)
    aggregate = ("aggregate", "x.npy", "--rule", "krum", "-f", "2", "--json", "--out", "z.npy")
    report = json.loads(succeeded(sbrml_command(*aggregate), "sbrml aggregate"))
    expect_true(
        (report["n"], report["d"], report["rule"]) == (7, 5, "krum"), f"aggregate: {report}"
    )
    close(np.load("z.npy"), sbrml.rule("krum", f=2)(x), "sbrml aggregate --out z.npy")
    kappa = ("kappa", "--rule", "krum", "-n", "5", "-f", "1", "--restarts", "1", "--steps", "2")
    row = json.loads(succeeded(sbrml_command(*kappa, "--json"), "sbrml kappa"))
    expect_true(row["ran"] is True, f"kappa: {row}")
    expect_true(succeeded(sbrml_command("demo", "--dim", "50"), "demo") != "", "demo: no table")
    module = [sys.executable, "-I", "-m", "sbrml.cli", "--help"]
    succeeded(subprocess.run(module, capture_output=True, text=True, check=False), "-m sbrml.cli")


def import_error(module: str) -> str:
    """The message of the ImportError that importing ``module`` raises."""
    import importlib

    try:
        importlib.import_module(module)
    except ImportError as err:
        return str(err)
    raise SmokeError(f"import {module} worked without its extra")


def check_extras(stage: str) -> None:
    """Which optional packages are installed, and what works or says which extra it needs."""
    import importlib.util

    wanted = {
        "base": set(),
        "dp": {"dp_accounting"},
        "all": {"dp_accounting", "sklearn", "matplotlib", "tqdm"},
    }[stage]
    for module in ("dp_accounting", "sklearn", "matplotlib", "tqdm"):
        present = importlib.util.find_spec(module) is not None
        expect_true(present == (module in wanted), f"{stage}: {module} installed is {present}")
    if stage == "base":
        message = import_error("sbrml.privacy")
        expect_true(DP_HINT in message, f"import sbrml.privacy: {message!r}")
    else:
        import sbrml.privacy

        eps = sbrml.privacy.epsilon(1.0, 1e-5, 0.1, 10)
        expect_true(0 < eps < 100, f"privacy.epsilon: {eps}")
    run = ("simulate", "--out", "out", "--rounds", "2", "--rules", "mean", "--attacks", "none")
    if stage != "all":
        message = import_error("sbrml.simulation")
        expect_true(f"sbrml.simulation {SIM_HINT}" in message, f"sbrml.simulation: {message!r}")
        done = sbrml_command(*run)
        expect_true(
            done.returncode == 2 and SIM_HINT in done.stderr and "Traceback" not in done.stderr,
            f"sbrml simulate without the extra: exit {done.returncode}\n{done.stderr}",
        )
        expect_true(not Path("out").exists(), "sbrml simulate wrote out/ without the extra")
        return
    import sbrml.simulation  # the import is the check

    succeeded(sbrml_command(*run, "--sigma", "1"), "sbrml simulate (2 rounds, DP)")
    results = json.loads(Path("out/results.json").read_text(encoding="utf-8"))
    expect_true(bool(results), "simulate: empty results.json")
    for name in ("results.csv", "accuracy.png"):
        expect_true((Path("out") / name).stat().st_size > 0, f"simulate: empty {name}")


def check(stage: str, expect: Path, source: Path) -> None:
    """The checks of one install stage, run in the current folder."""
    if stage == "base":
        check_installed(json.loads(expect.read_text(encoding="utf-8")), source.resolve())
        check_api()
        check_commands()
    check_extras(stage)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("stage", nargs="?", choices=[s for s, _ in STAGES], help=argparse.SUPPRESS)
    parser.add_argument("--expect", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--source", type=Path, help=argparse.SUPPRESS)
    parser.add_argument(
        "--require-all",
        action="store_true",
        default=os.environ.get("WHEEL_SMOKE_REQUIRE_ALL") == "1",
        help="fail, rather than skip, when a listed Python is not on this machine",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args(argv)
    try:
        if args.stage is None:
            return drive(args.require_all, args.keep)
        check(args.stage, args.expect, args.source)
    except SmokeError as err:
        print(f"wheel-smoke: FAILED: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
