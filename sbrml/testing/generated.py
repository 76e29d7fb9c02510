"""Running a check over generated inputs, and what a check reports when it passes.

Part of the conformance kit's pytest helpers (needs ``sbrml[testing]``). ``for_all`` runs a
body on values drawn by a Hypothesis strategy, under the current Hypothesis profile (so a
project's ``derandomize`` or ``max_examples`` settings apply) with at most ``examples``
examples; a failing example is shrunk and its ``ConformanceError`` raised. The kit's runs keep
no example database (nothing is written to ``.hypothesis/`` in the user's directory; a
failure is not replayed first on the next run, its message gives the input instead) and skip
Hypothesis's explain phase. A failure that does not happen again when Hypothesis re-runs its
input (a randomized function) is raised as the ``ConformanceError`` seen, with a note saying
so, not as Hypothesis's ``FlakyFailure``. A helper that
passes returns a ``Checked``: what was checked, how many times, and what was skipped and why,
so that nothing is skipped silently.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from sbrml.extras import require
from sbrml.testing.failures import ConformanceError

try:
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import strategies as st
    from hypothesis.errors import Flaky
except ImportError:
    require("testing", "sbrml.testing.checks")
    raise

__all__ = ["Checked", "for_all"]

T = TypeVar("T")


@dataclass
class Checked:
    """What a check helper verified: ``counts`` maps each part (e.g. ``"vectors"``) to how
    many cases passed; ``skipped`` says what was not checked and why."""

    check: str
    counts: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def add(self, part: str, count: int = 1) -> None:
        """Count ``count`` more passing cases of ``part``."""
        self.counts[part] = self.counts.get(part, 0) + count

    def __str__(self) -> str:
        done = ", ".join(f"{count} {part}" for part, count in self.counts.items()) or "nothing"
        skipped = "".join(f"; skipped {why}" for why in self.skipped)
        return f"{self.check}: passed {done}{skipped}"


def for_all(strategy: st.SearchStrategy[T], body: Callable[[T], None], examples: int) -> None:
    """Run ``body`` on up to ``examples`` values of ``strategy`` (Hypothesis); the first
    failure is shrunk and re-raised. Not for use inside another ``@given`` test."""
    __tracebackhide__ = True  # pytest shows the caller, not the kit

    # One failure, the simplest Hypothesis finds, rather than a group of distinct ones: the
    # user reads one ConformanceError. No example database: the kit writes nothing into the
    # user's directory (no .hypothesis/), and a failure's message holds its input. No explain
    # phase: its lines would name the kit's own files, not the user's.
    @settings(
        max_examples=examples,
        database=None,
        phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink],
        deadline=None,
        report_multiple_bugs=False,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
    )
    @given(strategy)
    def run(value: T) -> None:
        __tracebackhide__ = True  # pytest shows the caller, not the kit
        body(value)

    try:
        run()
    except Flaky as flaky:
        # A randomized function (a sharing, an encryption drawing its own r) may fail once
        # and pass when Hypothesis runs the same input again. The failure seen is real: it
        # is raised as the user's ConformanceError, not as Hypothesis's FlakyFailure.
        seen = [e for e in getattr(flaky, "exceptions", ()) if isinstance(e, ConformanceError)]
        if not seen:
            raise
        failure = seen[0]
        failure.add_note(
            "seen once: the same input passed when Hypothesis ran it again (the function "
            "checked is not deterministic, or depends on earlier calls)"
        )
        raise failure from None
