"""tools/mutation.py's classification (docs/assurance.md, "What counts"): a mutant counted
message-only, label-only or cast-only must change no behaviour; these pin the cases that do."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tools"))

import mutation

LABELS = {"decode", "elements", "rule", "selected_count", "name"}


def test_a_label_passed_to_a_checker_is_label_only() -> None:
    original = 'def f(x):\n    return as_ring("decode", "elements", x)\n'
    mutant = 'def f(x):\n    return as_ring("XXdecodeXX", "elements", x)\n'
    assert mutation.is_label_only(original, mutant, LABELS)


def test_a_string_looked_up_is_never_a_label() -> None:
    """getattr(rule, "rule", rule) drops NNM when the name is changed: behaviour."""
    for call in ('getattr(rule, "rule", rule)', 'rule.get("name")', 'hasattr(rule, "rule")'):
        original = f"def f(rule):\n    return {call}\n"
        mutant = original.replace('"rule"', '"XXruleXX"').replace('"name"', '"XXnameXX"')
        assert original != mutant
        assert not mutation.is_label_only(original, mutant, LABELS), call


def test_an_error_message_change_is_message_only_but_not_its_clause() -> None:
    original = 'def f(x):\n    raise ParameterError("f", "x", "an int", "C1.1", repr(x))\n'
    message = 'def f(x):\n    raise ParameterError("f", "x", "XXan intXX", "C1.1", repr(x))\n'
    clause = 'def f(x):\n    raise ParameterError("f", "x", "an int", "C1.2", repr(x))\n'
    dropped = 'def f(x):\n    raise ParameterError("f", "x", "an int", "C1.1")\n'
    assert mutation.is_message_only(original, message)
    assert not mutation.is_message_only(original, clause)
    assert not mutation.is_message_only(original, dropped)


def test_only_casts_first_argument_is_cast_only() -> None:
    original = "def f(t):\n    return g(cast(Dealer, t))\n"
    assert mutation.is_cast_type_only(original, original.replace("Dealer", "None"))
    assert not mutation.is_cast_type_only(
        original, original.replace("(Dealer, t)", "(Dealer, None)")
    )
