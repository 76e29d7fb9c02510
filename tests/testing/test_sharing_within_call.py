"""check_sharing tests one call's coordinates together, not only each alone (issue 17, the
verification review's F3): masks correlated within a call, each coordinate uniform across
calls, fail C3.2; a correct sharing (fresh masks per coordinate, either tree's P3.1) passes."""

from __future__ import annotations

import secrets
from collections.abc import Callable

import pytest

from sbrml.testing.checks import ConformanceError, check_sharing
from sbrml.testing.uniformity import linear_relation
from tests.testing.implementations import TREES, system_share

M = 2**64
G = 0x9E3779B97F4A7C15
Share = Callable[[list[int]], tuple[list[int], list[int]]]


def _with_masks(masks: Callable[[int], list[int]]) -> Share:
    def share(x: list[int]) -> tuple[list[int], list[int]]:
        m = masks(len(x))
        return m, [(a - b) % M for a, b in zip(x, m, strict=True)]

    return share


def _step(n: int) -> list[int]:
    """The reviewer's reproducer: share1[j] - share1[0] = x[j] - x[0] - j G."""
    r = secrets.randbits(64)
    return [(r + j * G) % M for j in range(n)]


def _cancelling(n: int) -> list[int]:
    """Every second mask cancels the one before it: x[2i] + x[2i+1] is in the clear."""
    pairs = [secrets.randbits(64) for _ in range((n + 1) // 2)]
    return [v for r in pairs for v in (r, -r % M)][:n]


def _powers(n: int) -> list[int]:
    """Multiples of one random mask: 3 x[0] - x[1] is in the clear."""
    r = secrets.randbits(64)
    return [r * 3**j % M for j in range(n)]


def _ends(n: int) -> list[int]:
    """Fresh masks, but the last is the first plus 1: x[0] - x[n-1] is in the clear."""
    m = [secrets.randbits(64) for _ in range(n)]
    return [*m[:-1], (m[0] + 1) % M] if n > 1 else m


def _far(n: int) -> list[int]:
    """Fresh masks, but the last is three times the first: no adjacent pair is related, and
    the pools of single coordinates hold one related pair in n values."""
    m = [secrets.randbits(64) for _ in range(n)]
    return [*m[:-1], 3 * m[0] % M] if n > 1 else m


def _close(n: int) -> list[int]:
    """Masks within 2^48 of one another: no exact relation, small differences."""
    r = secrets.randbits(64)
    return [(r + secrets.randbits(48)) % M for _ in range(n)]


# Each coordinate's mask is uniform across calls; one share reveals something of x.
CORRELATED: dict[str, Share] = {
    "r + j G": _with_masks(_step),
    "r, -r": _with_masks(_cancelling),
    "r, 3r, 9r": _with_masks(_powers),
    "last = first + 1": _with_masks(_ends),
    "r + small": _with_masks(_close),
    "last = 3 first": _with_masks(_far),
}


@pytest.mark.spec("C3.2")
@pytest.mark.parametrize("share", list(CORRELATED.values()), ids=list(CORRELATED))
def test_masks_correlated_within_one_call_fail(share: Share) -> None:
    for _ in range(3):  # every run, not by luck of one
        with pytest.raises(ConformanceError, match=r"C3\.2"):
            check_sharing(share, examples=5)


@pytest.mark.spec("C3.2")
def test_the_reproducer_fails_on_a_narrow_ring_too() -> None:
    def share(x: list[int]) -> tuple[list[int], list[int]]:
        r = secrets.randbits(16)
        m = [(r + j * 0x9E37) % 2**16 for j in range(len(x))]
        return m, [(a - b) % 2**16 for a, b in zip(x, m, strict=True)]

    with pytest.raises(ConformanceError, match=r"C3\.2"):
        check_sharing(share, bits=16, examples=5)


@pytest.mark.spec("C3.2")
@pytest.mark.parametrize("tree", sorted(TREES))
def test_a_correct_sharing_passes_the_within_call_tests(tree: str) -> None:
    def fresh(x: list[int]) -> tuple[list[int], list[int]]:
        m = [secrets.randbits(64) for _ in x]
        return m, [(a - b) % M for a, b in zip(x, m, strict=True)]

    for share in (fresh, system_share(TREES[tree])):
        checked = check_sharing(
            share, examples=5, as_arrays=share is not fresh and tree != "reference"
        )
        # 3 lengths of 2 or more x 4 views x (differences and sums: 8 bytes each; rank: 1)
        assert checked.counts["independence tests (C3.2)"] == 3 * 4 * (2 * 8 + 1)


def test_the_relation_found_is_one_the_rows_satisfy() -> None:
    rows = [0b1011, 0b1110, 0b1101]  # bit 0 + bit 1 + bit 2 = 0 in each, bit 3 constant
    relation = linear_relation(rows, 4)
    assert relation is not None
    assert all(bin(relation & r).count("1") % 2 == 0 for r in rows)
    assert linear_relation([1, 2, 4, 8], 4) is None
