"""Progress on stderr for long runs, through tqdm (the progress library the simulation uses).

Shown only when stderr is a terminal and the output is not ``--json``: a pipe or a log file
receives no progress lines, and standard output never does. tqdm comes with the ``sim``
extra: on a base install (``pip install sbrml``) the commands run the same and show no
progress.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

# A run shorter than this shows nothing (tqdm's ``delay``); tests set it to 0.
QUIET_SECONDS = 2.0
TICK_SECONDS = 0.5


def _tqdm() -> Any | None:
    """tqdm's bar class, or None where tqdm is not installed (no ``sim`` extra)."""
    try:
        from tqdm import tqdm
    except ImportError:
        return None
    return tqdm


class Silent:
    """A bar that counts nothing and prints nothing: progress without tqdm."""

    def update(self, n: float = 1) -> None:
        """Ignore ``n`` steps."""

    def close(self) -> None:
        """Nothing to close."""

    def __enter__(self) -> Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def enabled(*, json_output: bool = False) -> bool:
    """Whether progress goes to stderr: a terminal, no ``--json``, and tqdm installed."""
    isatty = getattr(sys.stderr, "isatty", None)
    return not json_output and isatty is not None and bool(isatty()) and _tqdm() is not None


def bar(total: int, desc: str, *, show: bool) -> Any:
    """A tqdm bar of ``total`` steps on stderr, or one that prints nothing (``show`` false,
    or no tqdm: then a Silent bar)."""
    tqdm = _tqdm()
    if tqdm is None:
        return Silent()
    return tqdm(
        total=total,
        desc=desc,
        file=sys.stderr,
        disable=not show,
        leave=False,
        dynamic_ncols=True,
        delay=QUIET_SECONDS,
    )


@contextmanager
def activity(desc: str, *, show: bool) -> Iterator[None]:
    """Elapsed time on stderr while one long call (a secure round) runs in this thread.

    The round has no steps to count from outside, so a background thread ticks a bar with
    no total; nothing appears for the first QUIET_SECONDS.
    """
    tqdm = _tqdm()
    if not show or tqdm is None:
        yield
        return
    ticker = tqdm(
        total=None,
        desc=desc,
        file=sys.stderr,
        leave=False,
        bar_format="{desc}: {elapsed} elapsed",
        delay=QUIET_SECONDS,
        mininterval=0,
        miniters=1,
    )
    done = threading.Event()

    def tick() -> None:
        while not done.wait(TICK_SECONDS):
            ticker.update(1)

    thread = threading.Thread(target=tick, daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()
        ticker.close()
