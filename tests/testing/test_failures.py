"""How a failure prints: short, exact where it is shown, and complete in its fields."""

from __future__ import annotations

import numpy as np

from sbrml.testing.failures import ConformanceError, describe_matrix, short, short_int


def test_vectors_and_matrices_are_cut_with_a_count() -> None:
    assert short(list(range(8))) == "[0, 1, 2, 3, 4, 5, ... (2 more)]"
    assert short(np.arange(12.0).reshape(6, 2)) == (
        "[[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0], ... (2 more rows)]"
    )
    assert describe_matrix("x", [[0.1, 0.2]]) == "x = [[0.1, 0.2]] (1 x 2)"


def test_floats_keep_every_digit_and_long_ints_their_ends() -> None:
    assert short([0.1 + 0.2]) == "[0.30000000000000004]"
    assert short_int(2**64) == "18446744073709551616"
    assert short_int(3**300) == f"{str(3**300)[:12]}...{str(3**300)[-6:]} (476 bits)"


def test_the_message_holds_the_clause_the_input_and_both_values() -> None:
    err = ConformanceError("check_x()", "C3.1", "what failed", "x = [1]", [1], [2], ["why"])
    assert str(err) == (
        "check_x(): C3.1: what failed\n"
        "  input:    x = [1]\n"
        "  expected: [1]\n"
        "  got:      [2]\n"
        "  note:     why"
    )
    assert isinstance(err, AssertionError) and (err.clause, err.expected, err.got) == (
        "C3.1",
        [1],
        [2],
    )
