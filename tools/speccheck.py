"""Spec checker (spec/00-conventions.md): every cited ID exists, every MUST clause is tested.

Run by ``make check``. Exits 1 with one line per problem.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HEADING = re.compile(r"^#{2,6}\s+([CDP]\d+\.\d+)\b(.*)$")
CITED = re.compile(r"\b([CDP]\d+\.\d+)\b")
MARK = re.compile(r"""pytest\.mark\.spec\(([^)]*)\)""")


def spec_items(spec_dir: Path) -> tuple[dict[str, str], set[str]]:
    """All IDs defined in spec headings (ID -> file) and the subset that are MUST clauses."""
    items: dict[str, str] = {}
    must: set[str] = set()
    problems = []
    for path in sorted(spec_dir.glob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            m = HEADING.match(line)
            if not m:
                continue
            ident, rest = m.group(1), m.group(2)
            if ident in items:
                problems.append(f"{path.name}: {ident} defined twice (also in {items[ident]})")
            items[ident] = path.name
            if ident.startswith("C") and "(MUST" in rest:
                must.add(ident)
    if problems:
        raise SystemExit("\n".join(problems))
    return items, must


def main() -> int:
    items, must = spec_items(ROOT / "spec")
    problems: list[str] = []
    tested: set[str] = set()
    sources = [*ROOT.joinpath("sbrml").rglob("*.py"), *ROOT.joinpath("tests").rglob("*.py")]
    for path in sources:
        text = path.read_text(encoding="utf-8")
        rel = path.relative_to(ROOT)
        for number, line in enumerate(text.splitlines(), 1):
            for ident in CITED.findall(line):
                if ident not in items:
                    problems.append(f"{rel}:{number}: cites {ident}, which spec/ does not define")
        if path.is_relative_to(ROOT / "tests"):
            for args in MARK.findall(text):
                tested.update(CITED.findall(args))
    for ident in sorted(must - tested, key=lambda s: [int(p) for p in s[1:].split(".")]):
        problems.append(f"spec/{items[ident]}: MUST clause {ident} has no @pytest.mark.spec test")
    for line in problems:
        print(line)
    print(
        f"speccheck: {len(items)} spec items, {len(must)} MUST clauses, "
        f"{len(must & tested)} tested, {len(problems)} problems"
    )
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
