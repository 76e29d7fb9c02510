"""What one entry of the rule library says (spec/06-rules.md, D6.7): a rule's or a
pre-aggregation's name, class, hyperparameters, precondition and properties.

Part of ``sbrml.core``; the entries themselves are in ``sbrml.core.registry``.
"""

from __future__ import annotations

from dataclasses import dataclass

Value = int | float | str | None


@dataclass(frozen=True)
class Hyperparameter:
    """One constructor keyword of a rule besides ``f``, as the command line offers it.

    ``kind`` is the type the command line parses (int, float or str); ``default`` is the
    class's own default (tests/test_registry.py checks that); ``default_text`` says what a
    default of None means (Multi-Krum's ``m``: ``n - f``).
    """

    name: str
    kind: type
    default: Value
    help: str
    default_text: str = ""

    @property
    def flag(self) -> str:
        """The command-line option: ``--max-iter`` for ``max_iter``."""
        return "--" + self.name.replace("_", "-")

    def shown_default(self) -> str:
        """The default as help and tables print it: ``1e-6``, ``1.0``, ``n - f``."""
        if self.default is None:
            return self.default_text
        text = repr(self.default) if isinstance(self.default, float) else str(self.default)
        # repr(1e-06) is '1e-06'; the spec and help write 1e-6.
        return text.replace("e-0", "e-").replace("e+0", "e+")


@dataclass(frozen=True)
class Condition:
    """A precondition on ``n`` as the rule's error states it, and the clause it cites."""

    text: str
    clause: str


@dataclass(frozen=True)
class Entry:
    """One rule or pre-aggregation of the library.

    ``weights``: ``"exact"`` when the distance form's weights are computed exactly from an
    exact ``D`` (both trees agree bit for bit, C7.3); ``"float"`` when they come from a
    floating-point iteration or eigenvalues (the trees agree to rounding, C10.3); None when
    there is no distance form (the rule runs only in the clear, C8.11; a pre-aggregation
    without one makes every composition plaintext-only). ``min_n = (a, b)``: the least ``n``
    the first condition accepts is ``a*f + b``. ``uses_f``: False when ``f`` plays no part
    (the mean, bucketing, clipping), so a composition of such stages needs no ``f``.
    """

    name: str
    class_name: str
    role: str  # "rule" or "preaggregation"
    summary: str
    definition: str
    source: str
    weights: str | None
    precondition: tuple[Condition, ...]
    min_n: tuple[int, int]
    uses_f: bool = True
    hyperparameters: tuple[Hyperparameter, ...] = ()
    leakages: tuple[str, ...] = ("distances",)

    @property
    def distance(self) -> bool:
        """Whether the entry has a distance form (weights from D, D6.1)."""
        return self.weights is not None

    @property
    def secure(self) -> bool:
        """Whether the entry runs in the secure round: by its distance form (P8.1) or on
        shares coordinate by coordinate (P22.2) (C8.11)."""
        return self.distance or "output" in self.leakages

    def least_n(self, f: int) -> int:
        """The least ``n`` that the first condition of the precondition accepts at ``f``."""
        a, b = self.min_n
        return a * f + b
