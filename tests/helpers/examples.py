"""Example budgets for the expensive property tests (docs/assurance.md, "make thorough").

The `thorough` profile gives every property test 1,000 examples; a test whose example runs a
whole secure round would then take minutes alone. `budget(k)` caps such a test at `k`
examples under any profile, and leaves the `ci` (25) and `dev` (10) profiles' counts as they
are, so that `make thorough` spends its examples on the cheap tests with large input spaces
(ring arithmetic, parsers, plaintext rules) and stays within its stated budget.
"""

from __future__ import annotations

from hypothesis import settings


def budget(examples: int) -> settings:
    """Settings of at most `examples` examples, never more than the active profile gives.

    `examples` is sized so that the test takes about 10 seconds under `thorough` on the
    project machine (2 cores): about 10 s divided by its time per example.
    """
    if examples < 1:
        raise ValueError(f"budget: examples must be >= 1, got {examples}")
    return settings(max_examples=min(examples, settings().max_examples))
