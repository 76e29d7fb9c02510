"""The examples of examples/conformance run as their docstrings say: the user's test file
passes; ByzFL's Krum fails against the default (Blanchard) Krum, naming the convention, and
passes with ByzFL's; without ByzFL those two are skipped with the reason printed."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = "examples/conformance"

# pytest on the examples in a child process, with ByzFL made unimportable when asked.
RUN = """
import sys
if {block}:
    sys.modules["byzfl"] = None
import pytest
raise SystemExit(pytest.main(["-q", {path!r}]))
"""


def run_examples(block_byzfl: bool) -> subprocess.CompletedProcess[str]:
    code = RUN.format(block=block_byzfl, path=EXAMPLES)
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False
    )


def test_without_byzfl_the_byzfl_example_is_skipped_with_its_reason() -> None:
    done = run_examples(block_byzfl=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 2 skipped" in done.stdout
    assert "SKIPPED [2] examples/conformance/test_byzfl_krum.py" in done.stdout
    assert "ByzFL is not installed" in done.stdout and "make crosscheck-install" in done.stdout


@pytest.mark.byzfl
def test_byzfl_krum_fails_the_default_convention_and_passes_its_own() -> None:
    done = run_examples(block_byzfl=False)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 2 passed" in done.stdout
    assert "FAILED examples/conformance/test_byzfl_krum.py::test_byzfl_krum_against_the" in (
        done.stdout
    )
    assert "check_rule('krum', f=1): D6.3: the output differs from the reference's krum" in (
        done.stdout
    )
    assert "scores over n - f - 1 = 5 neighbours (C6.6, ByzFL)" in done.stdout
    assert "where convention='blanchard' sums n - f - 2 = 4" in done.stdout
