"""What a deployment's parties write (spec/23-deployment.md P23.1 step 5, D23.4's
``[output]``): each server's record of a round, ``z``, and, when asked for, each party's
transcript of its own view (D7.3, D7.5), which C23.1 makes byte-identical to that party's
view of the in-process round with the same seed.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError
from sbrml.net.config import Deployment

__all__ = [
    "check_output",
    "clear_round",
    "result_path",
    "transcript_path",
    "write_record",
    "write_transcript",
    "z_path",
]


def result_path(deployment: Deployment, round_id: int, party: str) -> Path:
    """P23.1 step 5: ``<output>/round-<r>.<party>.json`` (party ``s0`` or ``s1``)."""
    return deployment.output / f"round-{round_id}.{party.lower()}.json"


def z_path(deployment: Deployment, round_id: int) -> Path:
    """P23.1 step 5: ``<output>/round-<r>.z.npy``, the ``z`` S1 publishes."""
    return deployment.output / f"round-{round_id}.z.npy"


def clear_round(deployment: Deployment, round_id: int, transcripts: bool) -> None:
    """Remove an earlier run's files of round ``round_id`` — both records, ``z`` and, with
    ``transcripts``, the three views — so that what ``launch`` leaves is this run's own (a
    stopped round publishes no ``z``). ParameterError (D23.4) if one cannot be removed."""
    paths = [result_path(deployment, round_id, s) for s in ("s0", "s1")]
    paths.append(z_path(deployment, round_id))
    if transcripts:
        paths += [transcript_path(deployment, round_id, p) for p in ("s0", "s1", "dealer")]
    for path in paths:
        try:
            path.unlink(missing_ok=True)
        except OSError as error:
            raise ParameterError(
                f"deployment file {deployment.path}",
                "output.directory",
                "a directory whose earlier results this run can replace",
                "D23.4",
                f"{path}: {error.strerror or error}",
            ) from None


def write_record(deployment: Deployment, round_id: int, party: str, record: dict[str, Any]) -> None:
    """Write a server's record of a round as JSON at ``result_path``, atomically."""
    deployment.output.mkdir(parents=True, exist_ok=True)
    path = result_path(deployment, round_id, party)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)  # a reader never sees half a record


def check_output(deployment: Deployment) -> None:
    """D23.4: the output directory exists or can be made, and a file can be written in it,
    checked before a party listens, so that no round's result is lost at its end."""
    out = deployment.output
    try:
        out.mkdir(parents=True, exist_ok=True)
        # Per thread too: parties run as threads of one process (tests, embedding) would
        # otherwise remove each other's probe.
        probe = out / f".sbrml-write-check-{os.getpid()}-{threading.get_ident()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        # The reason, not the probe's own path (a user's `/proc` showed the probe's name).
        raise ParameterError(
            f"deployment file {deployment.path}",
            "output.directory",
            "a directory this party can write",
            "D23.4",
            f"{out}: cannot create a file in it ({error.strerror or type(error).__name__})",
        ) from None


def transcript_path(deployment: Deployment, round_id: int, party: str) -> Path:
    """``<output>/round-<r>.<party>.transcript`` (party ``s0``, ``s1`` or ``dealer``)."""
    return deployment.output / f"round-{round_id}.{party.lower()}.transcript"


# A party's view is its secret: S0's openings with the dealer's view give back every input.
TRANSCRIPT_WARNING = (
    "{party}: --transcript: this party's view is secret; with another party's view (a server's "
    "with the dealer's, or S0's with S1's) it reconstructs every worker's input: keep each "
    "file with its party (written with mode 0600)"
)


def write_transcript(
    deployment: Deployment, round_id: int, party: str, channel: Channel
) -> dict[str, str]:
    """Write ``party``'s view of the round (D7.3 bytes of D7.5's view: every message it sent
    or received, in recording order) next to its record, readable by its owner only (mode
    0600); returns the record's fields ``transcript`` (the file's name) and
    ``transcript_sha256`` (hex), or ``transcript_error`` (the OSError, so that a full disk
    loses the view, not the round's record). The channel must have recorded payloads
    (``record=True``). A round that stopped writes what the party saw."""
    path = transcript_path(deployment, round_id, party)
    tmp = path.with_name(path.name + ".tmp")
    try:
        # A new file (O_EXCL): a leftover or planted .tmp, or a symlink there, would keep its
        # own mode or send the view elsewhere.
        tmp.unlink(missing_ok=True)
        descriptor = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as stream:
            channel.write_transcript(stream, party)
        os.replace(tmp, path)  # a reader never sees half a transcript
    except OSError as error:
        return {"transcript_error": f"{path.name}: {error.strerror or error}"}
    return {"transcript": path.name, "transcript_sha256": channel.transcript_digest(party)}
