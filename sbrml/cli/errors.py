"""How the command line ends: exit 2 for the user's errors, 1 for the program's (README).

- ``CliError`` (a usage, file or option problem) and ``SpecError`` (an input the spec
  refuses, with its clause) exit 2 with ``sbrml: error: <message>``.
- Anything else is a bug in sbrml: exit 1 with one line that says so and how to report it;
  ``SBRML_TRACEBACK=1`` prints the traceback as well.
- A reader that closes standard output early (``sbrml demo | head``), or a standard output
  closed before the run (``>&-``), ends the run quietly with exit 141, the status of a
  process stopped by SIGPIPE; one that refuses the bytes (``> /dev/full``) is the user's to
  fix: exit 2 with the operating system's reason.
"""

from __future__ import annotations

import os
import sys
import traceback

TRACEBACK_VARIABLE = "SBRML_TRACEBACK"
BROKEN_PIPE_STATUS = 128 + 13  # 128 + SIGPIPE, what a shell shows for `yes | head`


class CliError(Exception):
    """A usage or input problem reported as ``sbrml: error: ...`` with exit status 2."""


def report_bug(err: BaseException) -> int:
    """Say on one line that ``err`` is a bug and how to report it; returns exit status 1."""
    if os.environ.get(TRACEBACK_VARIABLE):
        traceback.print_exception(err, file=sys.stderr)
    text = " ".join(str(err).split()) or "(no message)"
    print(
        f"sbrml: internal error: {type(err).__name__}: {text} -- this is a bug, please report "
        f"it with the command you ran and the traceback printed when {TRACEBACK_VARIABLE}=1 is "
        "set",
        file=sys.stderr,
    )
    return 1


def silence_stdout() -> int:
    """After a closed standard output: point it at /dev/null so that the interpreter's final
    flush does not raise again, and return the SIGPIPE exit status."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass  # stdout has no file descriptor (None, or replaced in-process): nothing flushes it
    return BROKEN_PIPE_STATUS


def finish_stdout(text: str) -> int:
    """Write ``text`` on standard output and flush it; returns the exit status.

    Standard output that cannot be written is no bug in sbrml: a closed one (its reader left,
    or the shell closed it with ``>&-``, when Python sets ``sys.stdout`` to None) ends quietly
    with BROKEN_PIPE_STATUS, as ``sbrml demo | head`` does; one that refuses the bytes (a full
    device, ``> /dev/full``) exits 2 with the operating system's reason.
    """
    stream = sys.stdout
    if stream is None:
        return BROKEN_PIPE_STATUS if text else 0
    try:
        stream.write(text)
        stream.flush()  # a closed pipe or a full device shows here, not at the interpreter's exit
    except BrokenPipeError:
        return silence_stdout()
    except ValueError:  # "I/O operation on closed file": closed in-process
        return BROKEN_PIPE_STATUS
    except OSError as err:
        # The unwritten bytes stay in the buffer; without this the interpreter's final flush
        # fails again and prints an "Exception ignored" traceback.
        silence_stdout()
        reason = err.strerror or str(err)
        print(f"sbrml: error: standard output cannot be written ({reason})", file=sys.stderr)
        return 2
    return 0
