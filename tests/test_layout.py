"""Layout rules of the design handbook that code could silently break."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_reference_imports_no_third_party_package() -> None:
    code = (
        "import sys, sbrml.reference, sbrml.reference.paillier, sbrml.reference.he_averaging\n"
        "bad = sorted(m for m in ('numpy', 'gmpy2', 'cryptography', 'scipy') if m in sys.modules)\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_reference_never_imports_optimized() -> None:
    offenders = [
        str(p.relative_to(ROOT))
        for p in (ROOT / "sbrml" / "reference").rglob("*.py")
        if re.search(r"^\s*(from|import) sbrml\.optimized", p.read_text(encoding="utf-8"), re.M)
    ]
    assert offenders == []
