"""Rules by name: ``krum``, ``nnm+krum``, ``bucketing+nnm+geomed`` (spec/06-rules.md, D6.7)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sbrml.core.registry import (
    ENTRIES,
    PREAGGREGATION_ENTRIES,
    RULE_ENTRIES,
    hyperparameter_owners,
)

# The specs that tables and benchmarks run through: every rule of the registry, then a few
# compositions.
COMPOSITIONS = ("nnm+krum", "nnm+geomed", "nnm+median", "bucketing+krum", "arc+krum")
LIBRARY_SPECS = (*RULE_ENTRIES, *COMPOSITIONS)


class RuleSpecError(ValueError):
    """An unknown name, a misplaced pre-aggregation or an option that does not apply."""


def _options(name: str) -> tuple[str, ...]:
    return tuple(h.name for h in ENTRIES[name].hyperparameters)


def build_rule(tree: ModuleType, spec: str, f: int, options: dict[str, Any] | None = None) -> Any:
    """The rule object of ``tree`` for ``spec`` (D6.7); options that are None are left at
    the class defaults. The names and which options each takes are the registry's
    (``sbrml.core.registry``); ``tree.RULES`` and ``tree.PREAGGREGATIONS`` give the classes.
    Raises RuleSpecError for an unknown name, a misplaced pre-aggregation or an option the
    named stages do not take."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    *pres, last = spec.split("+")
    if last not in RULE_ENTRIES:
        hint = (
            " (a pre-aggregation must come before a rule)" if last in PREAGGREGATION_ENTRIES else ""
        )
        raise RuleSpecError(f"unknown rule {last!r}{hint}; choose one of {', '.join(RULE_ENTRIES)}")
    for name in pres:
        if name not in PREAGGREGATION_ENTRIES:
            choices = ", ".join(PREAGGREGATION_ENTRIES)
            raise RuleSpecError(
                f"unknown pre-aggregation {name!r} in {spec!r}; choose from {choices}"
            )
    used = {o for name in (*pres, last) for o in _options(name)}
    unused = sorted(set(given) - used)
    if unused:
        owners = hyperparameter_owners()
        raise RuleSpecError(
            "; ".join(
                f"--{o.replace('_', '-')} applies to {', '.join(owners[o][1])} only, not {spec!r}"
                if o in owners
                else f"--{o.replace('_', '-')} is an option of no rule"
                for o in unused
            )
        )
    rule = tree.RULES[last](f, **{k: given[k] for k in _options(last) if k in given})
    for name in reversed(pres):
        pre = tree.PREAGGREGATIONS[name](f, **{k: given[k] for k in _options(name) if k in given})
        rule = tree.compose(pre, rule)
    return rule


def library_table() -> str:
    """The rule library as the Markdown table of docs/cli.md, from the registry.

    tools/rule_table.py writes it into docs/cli.md; tests/test_registry.py checks it is there.
    """
    lines = [
        "| name | rule | spec | options (default) | precondition | secure | source |",
        "|---|---|---|---|---|---|---|",
    ]
    for e in ENTRIES.values():
        rule = e.role == "rule"
        name = f"`{e.name}`" if rule else f"`{e.name}+…`"
        options = ", ".join(f"`{h.flag}` ({h.shown_default()})" for h in e.hyperparameters)
        needs = ", ".join(
            f"`{c.text.replace('>=', '≥').replace('<=', '≤')}` ({c.clause})" for c in e.precondition
        )
        if not e.secure:
            secure = "no"
        elif not rule:
            secure = "if the rule has a distance form"
            if e.name == "nnm":
                secure += " (`nnm+krum`, `nnm+multikrum`: also `--leakage index/output`)"
        elif not e.distance:
            secure = "yes, on shares (C8.15 leakage `output`)"
        else:
            secure = f"yes, {e.weights} weights"
            if "index" in e.leakages:
                secure += "; `D` kept shared with `--leakage index/output`"
            elif e.leakages[:1] == ("output",):
                secure += "; no `D` computed by default (`--leakage output`)"
        cells = (name, e.summary, e.definition, options, needs, secure, e.source)
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def check_workers(rule: Any, n: int) -> None:
    """``rule.check_n(n)`` under the rule's own name; raises InsufficientWorkersError.

    For a composition the error names what each stage gets (bucketing's ceil(n/s) buckets):
    the wording lives in the library's own ``Compose.check_n`` (D11.6), so a rule called
    directly, ``secure_aggregate`` and the command line say the same.
    """
    rule.check_n(n, rule.name)
