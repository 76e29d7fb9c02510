"""Published reasons: text another party chose, made safe to print and to keep.

A reason for a refusal or an exclusion may quote what a Byzantine party sent — its names, its
error text. Before it reaches a log line or a record (the network listener's refused list,
C23.3; the Flower strategy's ``excluded``), ``public_text`` escapes it and cuts it short, so
that the sender can neither forge log lines (newlines, ANSI escapes, bidirectional marks) nor
fill the record. Shared by ``sbrml.net`` and ``sbrml.flower``; standard library only.
"""

from __future__ import annotations

__all__ = ["REASON_CHARS", "public_text"]

REASON_CHARS = 300  # a published reason is cut there (C23.3)


def public_text(text: str) -> str:
    """``text`` with every non-printable character (control or format: newlines, ANSI escapes,
    bidirectional marks) written as its Python escape, then cut to ``REASON_CHARS`` characters
    followed by ``"... (cut)"`` if longer. Printable text, any script, is kept as it is."""
    out = "".join(
        ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text
    )
    return out if len(out) <= REASON_CHARS else out[:REASON_CHARS] + "... (cut)"
