"""The command line's own error: a usage or input problem, exit status 2."""

from __future__ import annotations


class CliError(Exception):
    """A usage or input problem reported as ``sbrml: error: ...`` with exit status 2."""
