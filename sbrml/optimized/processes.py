"""Work spread over worker processes that the caller asked for (spec C0.2).

Nothing here is chosen at import or kept between calls: a function that can use processes
takes ``processes`` (an int >= 1, default 1) and passes it to ``map_parts``, which starts at
most that many child processes for one call and waits for all of them before it returns. The
read-only data every part needs (a key, a fixed-base table, the workers' payloads) is handed to
each child explicitly as ``shared``: on Linux the child is forked, so it inherits ``shared``
without a copy; elsewhere it is pickled once per child. Results come back in order, so a
result never depends on ``processes``.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import traceback
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from typing import Any, TypeVar

from sbrml.core.params import check_processes

S = TypeVar("S")
P = TypeVar("P")
R = TypeVar("R")
T = TypeVar("T")

__all__ = ["available_processes", "check_processes", "map_parts", "split", "worth_processes"]

# Fork shares ``shared`` with the children without copying it. macOS supports fork but its
# system libraries may not survive it, and Windows lacks it: there each child is spawned.
START_METHOD = "fork" if sys.platform.startswith("linux") else "spawn"

# Below this many big-number operations a child process costs more than it saves.
MIN_PARALLEL_WORK = 256


def available_processes(limit: int = 2) -> int:
    """The CPUs this process may run on, at most ``limit``: a caller's choice of ``processes``.

    The library never calls this itself (its default is one process); the CLI and the
    benchmarks do, when they start work.
    """
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on every platform (macOS, Windows)
        cpus = os.cpu_count() or 1
    return max(1, min(limit, cpus))


def worth_processes(processes: int, work: int) -> int:
    """``processes`` for ``work`` big-number operations, or 1 when there are too few."""
    return processes if work >= MIN_PARALLEL_WORK else 1


def split(items: Sequence[T], parts: int) -> list[Sequence[T]]:
    """``items`` cut into at most ``parts`` contiguous, non-empty slices of nearly equal size."""
    size = -(-len(items) // max(1, parts)) or 1
    return [items[k : k + size] for k in range(0, len(items), size)]


def map_parts(fn: Callable[[S, P], R], shared: S, parts: Sequence[P], processes: int) -> list[R]:
    """``[fn(shared, part) for part in parts]``, over at most ``processes`` child processes.

    ``fn`` must be a module-level function (a spawned child imports it by name). Each child
    gets a contiguous run of the parts. With ``processes == 1`` or a single part everything
    runs in this process. An exception raised by ``fn`` in a child is raised here.
    """
    check_processes("map_parts", processes)
    if processes == 1 or len(parts) <= 1:
        return [fn(shared, part) for part in parts]
    context: Any = multiprocessing.get_context(START_METHOD)  # typeshed: BaseContext
    children: list[tuple[Any, Connection]] = []
    finished = False
    try:
        for group in split(parts, processes):
            receive, send = context.Pipe(duplex=False)
            child = context.Process(target=_run_group, args=(fn, shared, group, send), daemon=True)
            child.start()
            send.close()  # the child holds the writing end now
            children.append((child, receive))
        results: list[R] = []
        for child, receive in children:
            try:
                ok, value = receive.recv()
            except EOFError:
                child.join()
                raise RuntimeError(
                    f"map_parts: a worker process ended without a result "
                    f"(exit code {child.exitcode})"
                ) from None
            if not ok:
                raise value
            results.extend(value)
        finished = True
        return results
    finally:
        for child, receive in children:
            receive.close()
            if not finished:
                # After an error the other children may still be computing: stop them.
                child.terminate()
            child.join()


def _run_group(fn: Callable[[Any, Any], Any], shared: Any, group: Sequence[Any], send: Any) -> None:
    # Runs in the child: one message back, the results or the exception. An exception that
    # does not survive pickling (SpecError's arguments are not its args) travels as text.
    try:
        message: tuple[bool, Any] = (True, [fn(shared, part) for part in group])
    except BaseException as err:
        message = (False, _portable(err))
    try:
        send.send(message)
    finally:
        send.close()


def _portable(err: BaseException) -> BaseException:
    try:
        pickle.loads(pickle.dumps(err))
    except Exception:
        text = "".join(traceback.format_exception(err))
        return RuntimeError(f"a worker process raised:\n{text}")
    return err
