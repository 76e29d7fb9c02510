"""The conformance vectors, shipped as package data, and their loader (standard library only).

One JSON file per spec section, emitted by the reference tree (``make vectors`` runs
``python -m sbrml.vectors sbrml/testing/vectors``). Each file is ``{"header": {...},
"cases": [...]}``; the header gives the provenance, ``spec_version``, ``format_version`` and a
``description`` of every field of a case (``formats.py``; README.md beside the files). An
implementation in another language reads the files directly; in Python::

    from sbrml.testing import vectors

    for case in vectors.cases("03-sharing"):
        ...

A change to a vector's bytes is a changelog entry, so that an implementation tested against
them knows why it now fails.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from sbrml.testing.vectors.formats import FORMAT_VERSION

__all__ = ["FORMAT_VERSION", "cases", "description", "header", "load", "names", "text"]


def names() -> list[str]:
    """The vector files' names (``"01-encoding.json"``, ...), sorted."""
    return sorted(
        entry.name
        for entry in resources.files(__name__).iterdir()
        if entry.is_file() and entry.name.endswith(".json")
    )


def _file_name(name: str) -> str:
    """``name`` with or without ``.json`` (``"08-round"``), or its bare section name
    (``"round"``), as the file name; KeyError listing the files when there is none."""
    known = names()
    stem = name.removesuffix(".json")
    # "08-round.json": the stem is "08-round", the section name after "08-" is "round".
    found = [f for f in known if stem in (f.removesuffix(".json"), f[3:].removesuffix(".json"))]
    if len(found) != 1:
        raise KeyError(f"no vector file {name!r}; the files are {', '.join(known)}")
    return found[0]


def text(name: str) -> str:
    """The file's exact text (UTF-8), e.g. to compare it byte for byte."""
    return resources.files(__name__).joinpath(_file_name(name)).read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    """The whole file ``{"header": ..., "cases": [...]}`` as parsed JSON.

    ``name`` is a file name (``"08-round.json"``), without its suffix (``"08-round"``) or
    without its section number (``"round"``). Raises KeyError naming the files when there is
    no such file, and ValueError when the file's ``format_version`` is not the one this
    loader reads.
    """
    data: dict[str, Any] = json.loads(text(name))
    version = data["header"].get("format_version")
    if version != FORMAT_VERSION:
        raise ValueError(
            f"{_file_name(name)}: format_version {version!r}; this loader reads {FORMAT_VERSION}"
        )
    return data


def cases(name: str) -> list[dict[str, Any]]:
    """The file's cases, in order (see ``description(name)`` for their fields)."""
    found: list[dict[str, Any]] = load(name)["cases"]
    return found


def header(name: str) -> dict[str, Any]:
    """The file's header: generator, date, seed, spec_version, spec_section, format_version,
    description."""
    found: dict[str, Any] = load(name)["header"]
    return found


def description(name: str) -> dict[str, Any]:
    """What the file holds: ``{"summary": text, "case": {field: meaning}}``."""
    found: dict[str, Any] = header(name)["description"]
    return found
