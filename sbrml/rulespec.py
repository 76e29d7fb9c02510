"""Rules by name: ``krum``, ``nnm+krum``, ``bucketing+nnm+geomed`` (spec/06-rules.md, D6.7)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from sbrml.core.errors import InsufficientWorkersError

# Which hyperparameter options each name takes (the CLI's --m, --nu, ... flags).
RULE_OPTIONS: dict[str, tuple[str, ...]] = {
    "krum": ("convention",),
    "multikrum": ("m", "convention"),
    "geomed": ("nu", "tol", "max_iter"),
    "cc": ("tau", "iterations"),
}
PRE_OPTIONS: dict[str, tuple[str, ...]] = {"bucketing": ("s",), "clip": ("c",)}


# The specs that tables and benchmarks run through: every rule, and a few compositions.
LIBRARY_SPECS = (
    "mean",
    "krum",
    "multikrum",
    "geomed",
    "median",
    "trimmed-mean",
    "meamed",
    "medoid",
    "mda",
    "smea",
    "caf",
    "bulyan",
    "cc",
    "nnm+krum",
    "nnm+geomed",
    "nnm+median",
    "bucketing+krum",
    "arc+krum",
)


class RuleSpecError(ValueError):
    """An unknown name, a misplaced pre-aggregation or an option that does not apply."""


def build_rule(tree: ModuleType, spec: str, f: int, options: dict[str, Any] | None = None) -> Any:
    """The rule object of ``tree`` for ``spec``; options that are None are left at defaults."""
    given = {k: v for k, v in (options or {}).items() if v is not None}
    parts = spec.split("+")
    *pres, last = parts
    if last not in tree.RULES:
        hint = (
            " (a pre-aggregation must come before a rule)" if last in tree.PREAGGREGATIONS else ""
        )
        raise RuleSpecError(f"unknown rule {last!r}{hint}; choose one of {', '.join(tree.RULES)}")
    for name in pres:
        if name not in tree.PREAGGREGATIONS:
            choices = ", ".join(tree.PREAGGREGATIONS)
            raise RuleSpecError(
                f"unknown pre-aggregation {name!r} in {spec!r}; choose from {choices}"
            )
    used = set(RULE_OPTIONS.get(last, ())) | {o for p in pres for o in PRE_OPTIONS.get(p, ())}
    unused = sorted(set(given) - used)
    if unused:
        where = {o: n for n, opts in (RULE_OPTIONS | PRE_OPTIONS).items() for o in opts}
        raise RuleSpecError(
            "; ".join(
                f"--{o.replace('_', '-')} applies to {where.get(o, 'no rule')} only, not {spec!r}"
                for o in unused
            )
        )
    rule = tree.RULES[last](f, **{k: given[k] for k in RULE_OPTIONS.get(last, ()) if k in given})
    for name in reversed(pres):
        pre = tree.PREAGGREGATIONS[name](
            f, **{k: given[k] for k in PRE_OPTIONS.get(name, ()) if k in given}
        )
        rule = tree.compose(pre, rule)
    return rule


def secure_capable(tree: ModuleType, spec: str) -> bool:
    """Whether ``spec`` has a distance form (runs in the secure round, C8.11)."""
    return bool(tree.is_distance_rule(build_rule(tree, spec, 0)))


def check_workers(rule: Any, n: int) -> None:
    """``rule.check_n(n)``, with an error that names what each stage of a composition gets.

    A pre-aggregation that changes the count (bucketing: ceil(n/s) bucket means) makes the
    rule's own message ("got n=5") describe the buckets, not the n rows given; the error
    raised here keeps the class and the clause and says so. Raises InsufficientWorkersError.
    """
    count, stage = n, rule
    changes: list[str] = []
    while hasattr(stage, "pre"):
        try:
            stage.pre.check_n(count, stage.pre.name)
        except InsufficientWorkersError as err:
            raise _stage_error(rule, n, count, changes, err) from err
        after = stage.pre.output_count(count)
        if after != count:
            size = f" (s={stage.pre.s})" if hasattr(stage.pre, "s") else ""
            changes.append(f"{stage.pre.name}{size} turns {count} rows into {after}")
        count, stage = after, stage.rule
    try:
        stage.check_n(count, stage.name)
    except InsufficientWorkersError as err:
        raise _stage_error(rule, n, count, changes, err) from err


def _stage_error(
    rule: Any, n: int, count: int, changes: list[str], err: InsufficientWorkersError
) -> InsufficientWorkersError:
    if not changes:
        return err
    return InsufficientWorkersError(
        rule.name,
        "n",
        f"{err.condition} for {err.function}, whose n is what the pre-aggregation leaves: "
        + "; ".join(changes),
        err.clause,
        f"n={count} for {err.function} from {n} rows, f={rule.f}",
    )
