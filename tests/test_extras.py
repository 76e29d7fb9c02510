"""Dependencies by use (docs/install.md): the base install runs the protocols and the
aggregate, kappa and demo commands; DP accounting and the simulation are extras that say
their name when missing. The built wheel itself is checked by tools/wheel_smoke.py
(make wheel-smoke), outside the source tree."""

from __future__ import annotations

import importlib
import importlib.util
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from sbrml.cli import main, progress
from sbrml.extras import EXTRAS, MissingExtraError, missing, require

ROOT = Path(__file__).resolve().parents[1]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
OPTIONAL = ("dp_accounting", "sklearn", "matplotlib", "tqdm", "grpc")


def names(requirements: list[str]) -> list[str]:
    """The distribution names of PEP 508 requirements, without versions or markers."""
    return [re.split(r"[\s<>=!~;\[]", r, maxsplit=1)[0] for r in requirements]


def without(monkeypatch: pytest.MonkeyPatch, *modules: str) -> None:
    """Make ``modules`` unimportable for this test, as if not installed (a None entry in
    sys.modules is what the import system reads as "not there"), and unload the modules of
    sbrml that import them so that they are imported again."""
    for name in modules:
        monkeypatch.setitem(sys.modules, name, None)
    for name in ("sbrml.privacy", "sbrml.simulation"):
        monkeypatch.delitem(sys.modules, name, raising=False)


def test_base_dependencies_are_the_protocols_packages() -> None:
    assert sorted(names(PROJECT["dependencies"])) == ["cryptography", "gmpy2", "numpy", "scipy"]


def test_extras_table_matches_pyproject() -> None:
    extras = PROJECT["optional-dependencies"]
    for extra, packages in EXTRAS.items():
        assert names(extras[extra]) == list(packages.values())
    assert extras["all"] == ["sbrml[dp,sim,net,testing,flower]"]
    assert set(EXTRAS["dp"].values()) <= set(EXTRAS["sim"].values())  # the simulation runs DP


def test_supported_pythons_are_stated() -> None:
    listed = [c.rsplit(" ", 1)[1] for c in PROJECT["classifiers"] if re.search(r":: 3\.\d+$", c)]
    minors = [int(v.split(".")[1]) for v in listed]
    assert PROJECT["requires-python"] == f">={listed[0]}"
    assert minors == list(range(minors[0], minors[0] + len(minors)))  # no version left out


def test_require_names_the_extra_and_what_is_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, "matplotlib", "tqdm")
    assert missing("sim") == ["matplotlib", "tqdm"]
    assert missing("dp") == []
    require("dp", "x")
    with pytest.raises(MissingExtraError) as info:
        require("sim", "sbrml.simulation")
    assert str(info.value) == (
        "sbrml.simulation needs the 'sim' extra: pip install 'sbrml[sim]' "
        "(missing: matplotlib, tqdm)"
    )
    assert isinstance(info.value, ImportError) and info.value.name == "matplotlib"


def test_privacy_without_dp_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, "dp_accounting")
    with pytest.raises(ImportError) as info:
        importlib.import_module("sbrml.privacy")
    assert str(info.value) == (
        "sbrml.privacy needs the 'dp' extra: pip install 'sbrml[dp]' (missing: dp-accounting)"
    )


@pytest.mark.parametrize("absent", ["sklearn", "matplotlib", "tqdm", "dp_accounting"])
def test_simulation_without_sim_names_the_extra(
    monkeypatch: pytest.MonkeyPatch, absent: str
) -> None:
    without(monkeypatch, absent)
    with pytest.raises(ImportError, match=r"^sbrml\.simulation needs the 'sim' extra: pip "):
        importlib.import_module("sbrml.simulation")


def test_simulate_without_sim_exits_2_with_the_extra(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    without(monkeypatch, "matplotlib")
    out = tmp_path / "out"
    argv = ["simulate", "--out", str(out), "--rounds", "2", "--rules", "mean", "--attacks", "none"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == (
        "sbrml: error: sbrml simulate needs the 'sim' extra: pip install 'sbrml[sim]' "
        "(missing: matplotlib)\n"
    )
    assert not out.exists()


class Terminal:
    """A stderr that says it is a terminal."""

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> int:
        self.text += text
        return len(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return True


def test_progress_without_tqdm_shows_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    without(monkeypatch, "tqdm")
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setattr(progress, "QUIET_SECONDS", 0.0)
    assert not progress.enabled()
    with progress.bar(3, "steps", show=True) as steps:
        steps.update(1)
    with progress.activity("round", show=True):
        pass
    assert main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "2"]) == 0
    assert terminal.text == ""


# The commands of the base install, in a process where no optional package can be imported:
# each must run, and none may load one.
BASE_COMMANDS = """
import json, sys
for name in {optional!r}:
    sys.modules[name] = None
import numpy as np
from sbrml.cli import main
np.save("x.npy", np.random.default_rng(0).normal(size=(7, 4)))
codes = [
    main(["aggregate", "x.npy", "--rule", "krum", "-f", "2", "--json"]),
    main(["aggregate", "x.npy", "--protocol", "masks", "--json"]),
    main(["kappa", "--rule", "krum", "-n", "5", "-f", "1", "--steps", "2", "--restarts", "1"]),
    main(["demo", "--dim", "20"]),
]
loaded = sorted(m for m in sys.modules if m.split(".")[0] in {optional!r} and sys.modules[m])
print(json.dumps({{"codes": codes, "loaded": loaded}}), file=sys.stderr)
"""


def test_base_commands_need_no_extra(tmp_path: Path) -> None:
    code = BASE_COMMANDS.format(optional=OPTIONAL)
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, Any] = json.loads(done.stderr.strip().splitlines()[-1])
    assert result == {"codes": [0, 0, 0, 0], "loaded": []}


def test_wheel_smoke_tests_the_oldest_and_newest_python() -> None:
    smoke = load_tool("wheel_smoke")
    assert smoke.supported_versions(ROOT / "pyproject.toml") == ["3.11", "3.13"]


def test_wheel_smoke_says_when_a_python_is_missing(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    smoke = load_tool("wheel_smoke")
    monkeypatch.setattr(smoke, "find_python", lambda v: None if v == "3.13" else f"/py{v}")
    assert smoke.choose_pythons(["3.11", "3.13"], False) == [("3.11", "/py3.11")]
    assert "wheel-smoke: SKIPPED Python 3.13 not found" in capsys.readouterr().out
    with pytest.raises(smoke.SmokeError, match=r"Python 3\.13 not found"):
        smoke.choose_pythons(["3.11", "3.13"], True)
    monkeypatch.setattr(smoke, "find_python", lambda v: None)
    here = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert smoke.choose_pythons(["3.11", "3.13"], False) == [(here, sys.executable)]
    assert "testing on this one instead" in capsys.readouterr().out


def load_tool(name: str) -> ModuleType:
    """A script of tools/ as a module (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
