"""Test helpers: conversions between the trees' types, scripted randomness, round tools."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sbrml.core.channel import Message
from sbrml.core.registry import RULE_ENTRIES, exact_weights, stages
from sbrml.reference.channel import pack_ring
from sbrml.reference.randomness import DeterministicRandomSource
from sbrml.reference.sharing import share as ref_share


def as_list(x: Any) -> Any:
    """Python lists of Python scalars from either tree's output (ints stay exact)."""
    if isinstance(x, np.ndarray):
        return x.tolist()
    if isinstance(x, list | tuple):
        return [as_list(v) for v in x]
    return x


class ScriptedSource:
    """A RandomSource that returns given bytes, for known-answer and enumeration tests."""

    def __init__(self, data: bytes):
        self._data = data
        self._pos = 0

    def random_bytes(self, count: int) -> bytes:
        if self._pos + count > len(self._data):
            raise AssertionError("scripted source exhausted")
        out = self._data[self._pos : self._pos + count]
        self._pos += count
        return out

    def derive(self, label: str) -> ScriptedSource:
        raise AssertionError(f"scripted source cannot derive {label!r}")

    @property
    def consumed(self) -> int:
        return self._pos


def shares_of(index: int, elements: Sequence[int], seed: int = 99) -> list[Message]:
    """Two well-formed share messages from worker ``index`` for arbitrary ring elements.

    Byzantine workers use this to send values an honest encoder would refuse.
    """
    s0, s1 = ref_share(list(elements), rng=DeterministicRandomSource(seed))
    return [
        Message(f"W{index}", "S0", "share", pack_ring(s0)),
        Message(f"W{index}", "S1", "share", pack_ring(s1)),
    ]


def replace_worker(index: int, replacement: list[Message]) -> Any:
    """A tamper hook that replaces worker ``index``'s messages with ``replacement``."""

    def tamper(messages: list[Message]) -> list[Message]:
        return [m for m in messages if m.sender != f"W{index}"] + replacement

    return tamper


def decoded_inputs(x: Sequence[Sequence[float]], frac_bits: int = 16) -> list[list[float]]:
    """x-hat = decode(encode(x)) row by row (reference)."""
    from sbrml.reference.ring import decode, encode

    return [decode(encode(row, frac_bits=frac_bits), frac_bits=frac_bits) for row in x]


# The rule lists of the differential and theorem tests: every rule of the registry (a rule
# added there is tested here without an edit), then compositions, split by distance form.
DISTANCE_SPECS = [name for name, e in RULE_ENTRIES.items() if e.distance] + [
    "nnm+krum",
    "nnm+multikrum",
    "nnm+geomed",
    "nnm+medoid",
    "bucketing+krum",
    "bucketing+mean",
    "bucketing+nnm+mean",
]
PLAINTEXT_SPECS = [name for name, e in RULE_ENTRIES.items() if not e.distance] + [
    "clip+krum",
    "arc+mean",
    "arc+median",
    "nnm+median",
    "nnm+trimmed-mean",
    "clip+geomed",
]
EXACT_SPECS = [s for s in DISTANCE_SPECS if exact_weights(s)]


def feasible_f(spec: str, n: int) -> int:
    """The largest f (at most 2) that every stage of ``spec`` accepts at n inputs (buckets of
    2 halve the count the rule sees), from the registry's preconditions."""
    for f in (2, 1, 0):
        need = 1
        for stage in reversed(stages(spec)):
            need = max(stage.least_n(f), 2 * need if stage.name == "bucketing" else need)
        if n >= need:
            return f
    return 0
