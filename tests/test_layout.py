"""Layout rules of the design handbook that code could silently break."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


# Every module of the reference tree, imported in a process where the third-party packages
# of the optimized tree cannot be imported at all: a module that needed one would fail here.
BLOCKER = """
import importlib, importlib.abc, pkgutil, sys

BLOCKED = ("numpy", "gmpy2", "cryptography", "scipy")


class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: the reference tree is stdlib-only")
        return None


sys.meta_path.insert(0, Block())
import sbrml.reference as ref

import sbrml.core as core

names = sorted(m.name for m in pkgutil.iter_modules(ref.__path__, "sbrml.reference."))
names += sorted(m.name for m in pkgutil.iter_modules(core.__path__, "sbrml.core."))
for name in names:
    importlib.import_module(name)
loaded = sorted(m for m in sys.modules if m.split(".")[0] in BLOCKED)
print(len(names))
print(",".join(loaded))
"""


def test_reference_imports_no_third_party_package() -> None:
    out = subprocess.run(
        [sys.executable, "-c", BLOCKER], capture_output=True, text=True, check=False, cwd=ROOT
    )
    assert out.returncode == 0, out.stderr
    count, loaded = (out.stdout + "\n").split("\n")[:2]
    modules = [
        p
        for tree in ("reference", "core")
        for p in (ROOT / "sbrml" / tree).glob("*.py")
        if p.name != "__init__.py"
    ]
    assert int(count) == len(modules)  # every module was imported, none skipped
    assert loaded == ""


def test_reference_never_imports_optimized() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "sbrml" / "reference").rglob("*.py")
        if re.search(r"^\s*(from|import) sbrml\.optimized", p.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []


def test_core_imports_neither_tree() -> None:
    # Dependency direction (DESIGN.md): app -> optimized, reference -> core.
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "sbrml" / "core").rglob("*.py")
        if re.search(
            r"^\s*(from|import) sbrml\.(optimized|reference|cli|simulation|api)",
            p.read_text(encoding="utf-8"),
            re.M,
        )
    ]
    assert offenders == []
