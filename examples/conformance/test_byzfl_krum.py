"""Testing a third-party implementation with sbrml's conformance kit: ByzFL's Krum.

ByzFL (EPFL, 0.0.11) needs PyTorch. In this repository ``make crosscheck-install`` installs
both into ``.venv``; elsewhere ``pip install 'sbrml[testing]' torch`` and ``pip install
--no-deps byzfl==0.0.11`` (its torchvision dependency is not needed: only its aggregators are
loaded, by ``sbrml.byzfl_baseline.load_byzfl``). Then, from the repository root::

    pytest examples/conformance/test_byzfl_krum.py

and expect one failure and one pass:

- ``test_byzfl_krum_against_the_default_krum`` FAILS, by design: the kit's Krum is Blanchard
  et al.'s (spec D6.3), whose scores sum the ``n - f - 2`` nearest neighbours, while ByzFL's
  sum ``n - f - 1`` (spec C6.6). The failure message names the clause, the input, both
  outputs, and the convention that explains the difference.
- ``test_byzfl_krum_with_its_convention`` passes: with ``convention="byzfl"`` the kit
  compares against the reference's ``n - f - 1`` Krum, on the vectors, on generated inputs
  and against the published robustness bound (C12.1).

Without ByzFL (or PyTorch) both tests are skipped and the summary prints why.
"""

from __future__ import annotations

from typing import Any

import pytest

from sbrml.byzfl_baseline import load_byzfl
from sbrml.testing.checks import check_rule

F = 1


def byzfl() -> Any:
    """ByzFL's aggregators, or a skip that says what to install."""
    try:
        return load_byzfl()
    except ImportError as err:
        pytest.skip(
            f"ByzFL is not installed ({err}): make crosscheck-install, or pip install torch "
            "and pip install --no-deps byzfl==0.0.11"
        )


def test_byzfl_krum_against_the_default_krum() -> None:
    # Fails by design: ByzFL's Krum is not D6.3's (see the module docstring).
    check_rule(byzfl().Krum(F), "krum", f=F)


def test_byzfl_krum_with_its_convention() -> None:
    checked = check_rule(byzfl().Krum(F), "krum", f=F, convention="byzfl")
    print(checked)
