"""Spec checker (spec/00-conventions.md): every cited ID exists, every MUST clause is tested,
and D6.7's list of rule names is the registry's (sbrml/core/registry.py).

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
# D6.7's sentence "rules `a`, `b`; pre-aggregations `c`, `d`." (across line breaks).
LIBRARY = re.compile(r"rules ((?:`[^`]+`,?\s*)+);\s*pre-aggregations ((?:`[^`]+`,?\s*)+)\.")


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


def section(spec_dir: Path, ident: str) -> str:
    """The text under the heading of ``ident`` up to the next heading, lines joined."""
    for path in sorted(spec_dir.glob("*.md")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for k, line in enumerate(lines):
            m = HEADING.match(line)
            if m and m.group(1) == ident:
                body = []
                for rest in lines[k + 1 :]:
                    if rest.startswith("#"):
                        break
                    body.append(rest)
                return " ".join(body)
    return ""


def library_problems(spec_dir: Path) -> list[str]:
    """D6.7 names the rules and pre-aggregations of the registry, in its order."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from sbrml.core.registry import PREAGGREGATION_ENTRIES, RULE_ENTRIES

    m = LIBRARY.search(section(spec_dir, "D6.7"))
    if m is None:
        return ["spec D6.7: no sentence 'rules `...`; pre-aggregations `...`.' to check"]
    problems = []
    for kind, listed, registry in (
        ("rules", m.group(1), list(RULE_ENTRIES)),
        ("pre-aggregations", m.group(2), list(PREAGGREGATION_ENTRIES)),
    ):
        names = re.findall(r"`([^`]+)`", listed)
        if names != registry:
            problems.append(
                f"spec D6.7 lists the {kind} {', '.join(names)}; the registry "
                f"(sbrml/core/registry.py) has {', '.join(registry)}"
            )
    return problems


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
    problems.extend(library_problems(ROOT / "spec"))
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
