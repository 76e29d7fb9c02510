"""Write the rule library table of docs/cli.md from the registry (sbrml/core/registry.py).

Run ``python tools/rule_table.py`` after changing the registry; tests/test_registry.py fails
while the table in docs/cli.md differs from ``sbrml.rulespec.library_table()``.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "cli.md"
BEGIN = "<!-- rule table: generated from sbrml/core/registry.py by tools/rule_table.py -->\n"
END = "<!-- end of the generated rule table -->\n"


def split(text: str) -> tuple[str, str, str]:
    """(before, table, after) around the markers; ValueError if they are missing."""
    head, begin, rest = text.partition(BEGIN)
    table, end, tail = rest.partition(END)
    if not begin or not end:
        raise ValueError(f"{DOC.name}: the rule table markers are missing")
    return head + begin, table, end + tail


def main() -> int:
    sys.path.insert(0, str(ROOT))
    from sbrml.rulespec import library_table

    head, _, tail = split(DOC.read_text(encoding="utf-8"))
    DOC.write_text(head + library_table() + tail, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
