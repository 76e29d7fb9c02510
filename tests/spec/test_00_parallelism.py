"""C0.2: how ``map_parts`` fails when a child process does, over real child processes.

tests/test_processes.py checks order, signatures and that a ``SpecError`` raised in a child
reaches the caller; these check the three other ways a child can fail.
"""

from __future__ import annotations

import os
import time

import pytest

from sbrml.optimized import processes

# Long enough that waiting for this child instead of stopping it fails the timing below.
SLOW_SECONDS = 60.0


class TwoPartError(Exception):
    """An exception that pickles but does not unpickle: its ``__init__`` takes two arguments
    and its ``args`` hold one, so the child must send it as text."""

    def __init__(self, what: str, detail: str) -> None:
        super().__init__(f"{what}: {detail}")


def _exit_on_seven(shared: None, part: int) -> int:
    if part == 7:
        os._exit(3)  # the child ends without sending anything
    return part


def _two_part_error(shared: None, part: int) -> int:
    raise TwoPartError("part", str(part))


def _fail_fast_or_sleep(shared: None, part: int) -> int:
    if part == 0:
        raise ValueError("part 0 failed")
    time.sleep(SLOW_SECONDS)
    return part


@pytest.mark.spec("C0.2")
def test_a_child_that_ends_without_a_result_is_an_error() -> None:
    with pytest.raises(RuntimeError, match=r"ended without a result \(exit code 3\)"):
        processes.map_parts(_exit_on_seven, None, [7, 8], 2)


@pytest.mark.spec("C0.2")
def test_an_exception_that_does_not_unpickle_arrives_as_text() -> None:
    with pytest.raises(RuntimeError) as info:
        processes.map_parts(_two_part_error, None, [1, 2], 2)
    message = str(info.value)
    assert message.startswith("a worker process raised:\n")
    assert "TwoPartError: part: 1" in message  # the first child's, with its traceback


@pytest.mark.spec("C0.2")
def test_after_an_error_the_other_children_are_stopped() -> None:
    start = time.monotonic()
    with pytest.raises(ValueError, match="part 0 failed"):
        processes.map_parts(_fail_fast_or_sleep, None, [0, 1], 2)
    assert time.monotonic() - start < SLOW_SECONDS / 3
