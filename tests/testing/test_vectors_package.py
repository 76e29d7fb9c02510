"""The vectors as package data: the loader, the format's description and version, and that
neither needs anything beyond the standard library."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from sbrml.testing import vectors
from sbrml.testing.vectors.formats import DESCRIPTIONS, FORMAT_VERSION

ROOT = Path(__file__).resolve().parents[2]
FILES = sorted(DESCRIPTIONS)


def test_every_file_is_listed_and_described() -> None:
    assert vectors.names() == FILES
    assert len(FILES) == 9


@pytest.mark.parametrize("name", ["08-round.json", "08-round", "round"])
def test_load_by_file_stem_or_section(name: str) -> None:
    data = vectors.load(name)
    assert data["header"]["spec_section"] == "08-round"
    assert vectors.cases(name) == data["cases"] and len(data["cases"]) == 3
    assert vectors.header(name) == data["header"]


def test_an_unknown_name_lists_the_files() -> None:
    with pytest.raises(KeyError, match=r"no vector file 'rounds'; the files are 01-encoding"):
        vectors.load("rounds")


def test_another_format_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    text = json.dumps({"header": {"format_version": FORMAT_VERSION + 1}, "cases": []})
    monkeypatch.setattr(vectors, "text", lambda name: text)
    with pytest.raises(ValueError, match=r"03-sharing.json: format_version 2; this loader reads 1"):
        vectors.load("03-sharing")


@pytest.mark.parametrize("name", FILES)
def test_the_description_names_exactly_the_fields_of_the_cases(name: str) -> None:
    described = set(vectors.description(name)["case"])
    present = {field for case in vectors.cases(name) for field in case}
    assert present == described
    assert vectors.description(name)["summary"]


def test_the_readme_lists_every_file_and_the_format_version() -> None:
    readme = (ROOT / "sbrml" / "testing" / "vectors" / "README.md").read_text(encoding="utf-8")
    for name in FILES:
        assert f"| `{name}` |" in readme
    assert f"## Layout (format version {FORMAT_VERSION})" in readme


def test_the_header_comes_first_in_every_file() -> None:
    for name in FILES:
        assert vectors.text(name).startswith('{\n "header": {\n')


# The loader in a process where NumPy, Hypothesis and pytest cannot be imported: the vectors
# need nothing but the standard library (and sbrml's own stdlib-only modules).
BLOCKED = """
import importlib.abc, sys

BLOCKED = ("numpy", "hypothesis", "pytest", "_pytest", "scipy", "gmpy2", "cryptography")


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked")
        return None


sys.meta_path.insert(0, Block())
from sbrml.testing import vectors

print(sum(len(vectors.cases(name)) for name in vectors.names()))
"""


def test_the_loader_needs_only_the_standard_library() -> None:
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) == sum(len(vectors.cases(name)) for name in FILES)
