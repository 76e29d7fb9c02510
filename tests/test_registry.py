"""The registry (sbrml/core/registry.py) against both trees, the command line, the docs and D6.7.

The registry is the one place a rule is named; these tests fail when a tree, the command line,
docs/cli.md's rule table or spec D6.7 says something else.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import pkgutil
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml
import sbrml.optimized as opt
import sbrml.reference as ref
from sbrml.cli.parser import HYPERPARAMETERS, build_parser
from sbrml.core.errors import InsufficientWorkersError, ParameterError
from sbrml.core.registry import (
    ENTRIES,
    PREAGGREGATION_ENTRIES,
    RULE_ENTRIES,
    Entry,
    hyperparameter_owners,
)
from sbrml.robustness import PUBLISHED
from sbrml.rulespec import LIBRARY_SPECS, RuleSpecError, build_rule, library_table

ROOT = Path(__file__).resolve().parents[1]
TREE_ENTRIES = [(tree, e) for tree in (ref, opt) for e in ENTRIES.values()]


def _id(case: tuple[ModuleType, Entry]) -> str:
    return f"{case[0].__name__.split('.')[-1]}-{case[1].name}"


def classes_of(tree: ModuleType) -> dict[str, type]:
    """Every rule or pre-aggregation class a tree defines: name -> class, by its ``name``."""
    found: dict[str, type] = {}
    for info in pkgutil.iter_modules(tree.__path__, tree.__name__ + "."):
        module = importlib.import_module(info.name)
        for cls in vars(module).values():
            name = getattr(cls, "name", None)
            if (
                inspect.isclass(cls)
                and cls.__module__ == module.__name__
                and isinstance(name, str)
                and name
                and hasattr(cls, "check_n")
            ):
                if name in found and found[name] is not cls:
                    raise AssertionError(f"{tree.__name__}: two classes named {name!r}")
                found[name] = cls
    return found


def registered(tree: ModuleType, e: Entry) -> Any:
    return (tree.RULES if e.role == "rule" else tree.PREAGGREGATIONS)[e.name]


@pytest.mark.spec("D6.7")
def test_every_library_class_is_registered_and_every_entry_has_a_class(
    impl: ModuleType,
) -> None:
    classes = classes_of(impl)
    assert sorted(classes) == sorted(ENTRIES)
    for name, cls in classes.items():
        e = ENTRIES[name]
        assert cls.__name__ == e.class_name
        assert registered(impl, e) is cls
        assert cls.__module__.startswith(impl.__name__ + ".")
    assert list(impl.RULES) == list(RULE_ENTRIES)
    assert list(impl.PREAGGREGATIONS) == list(PREAGGREGATION_ENTRIES)


def test_the_front_door_rules_are_the_registry_s() -> None:
    assert list(sbrml.RULES) == list(RULE_ENTRIES)
    assert list(sbrml.PREAGGREGATIONS) == list(PREAGGREGATION_ENTRIES)


@pytest.mark.spec("D6.7")
@pytest.mark.parametrize("case", TREE_ENTRIES, ids=_id)
def test_hyperparameters_and_defaults_are_the_classes(case: tuple[ModuleType, Entry]) -> None:
    tree, e = case
    params = list(inspect.signature(registered(tree, e).__init__).parameters.values())[1:]
    assert params[0].name == "f"
    assert [p.name for p in params[1:]] == [h.name for h in e.hyperparameters]
    for p, h in zip(params[1:], e.hyperparameters, strict=True):
        assert p.default == h.default, (e.name, h.name)
        assert h.default is None or type(h.default) is h.kind
        assert h.default is not None or h.default_text


@pytest.mark.spec("D6.7", "C6.3", "C9.1", "C9.4", "C10.1", "C11.2")
@pytest.mark.parametrize("case", TREE_ENTRIES, ids=_id)
def test_preconditions_are_the_classes(case: tuple[ModuleType, Entry]) -> None:
    tree, e = case
    cls = registered(tree, e)
    first = e.precondition[0]
    for f in range(4):
        cls(f).check_n(e.least_n(f))
        with pytest.raises(InsufficientWorkersError) as info:
            cls(f).check_n(e.least_n(f) - 1)
        assert (info.value.condition, info.value.clause) == (first.text, first.clause)
    for extra in e.precondition[1:]:  # the exhaustive searches' bound (C10.4)
        with pytest.raises(ParameterError) as err:
            cls(8).check_n(40)
        assert err.value.clause == extra.clause
        assert err.value.condition.startswith(extra.text)


@pytest.mark.spec("D6.7", "C8.11")
@pytest.mark.parametrize("case", TREE_ENTRIES, ids=_id)
def test_distance_form_and_exactness_are_the_classes(case: tuple[ModuleType, Entry]) -> None:
    tree, e = case
    rule = registered(tree, e)(1)
    if e.role == "preaggregation":
        rule = tree.compose(rule, tree.Mean(1))
    assert bool(tree.is_distance_rule(rule)) == e.distance
    if e.weights == "exact":
        # Exact weights: the two trees give equal weights, not merely close ones (C7.3).
        x = [[float(v), float(v * v % 7)] for v in (0, 1, 3, 4, 6, 9, 13)]
        other = ref if tree is opt else opt
        mine = registered(tree, e)(1)
        theirs = registered(other, e)(1)
        if e.role == "preaggregation":
            mine, theirs = tree.compose(mine, tree.Mean(1)), other.compose(theirs, other.Mean(1))
        got = [
            np.asarray(
                r.weights(
                    t.sq_distances(x if t is ref else np.array(x)),
                    rng=t.DeterministicRandomSource(3),
                )
            ).tolist()
            for r, t in ((mine, tree), (theirs, other))
        ]
        assert got[0] == got[1]


def test_stages_with_f_need_more_workers_as_f_grows() -> None:
    # The converse of the test below: a stage in which f plays a part has a precondition in f.
    assert all((e.min_n[0] > 0) for e in ENTRIES.values() if e.uses_f)


@pytest.mark.parametrize("name", [n for n, e in ENTRIES.items() if not e.uses_f])
def test_stages_without_f_ignore_it(impl: ModuleType, name: str) -> None:
    spec = name if name in RULE_ENTRIES else f"{name}+mean"
    x = [[float(v), float(-v)] for v in range(7)]
    data = x if impl is ref else np.array(x)
    out = [
        np.asarray(build_rule(impl, spec, f)(data, rng=impl.DeterministicRandomSource(1)))
        for f in (0, 2)
    ]
    assert out[0].tolist() == out[1].tolist()


@pytest.mark.spec("D6.7")
def test_build_rule_takes_the_registry_s_names_and_options(impl: ModuleType) -> None:
    for e in ENTRIES.values():
        spec = e.name if e.role == "rule" else f"{e.name}+krum"
        options = {h.name: h.default for h in e.hyperparameters}
        rule = build_rule(impl, spec, 1, options)
        assert rule.name == spec
    with pytest.raises(RuleSpecError, match="choose one of " + ", ".join(RULE_ENTRIES)):
        build_rule(impl, "nope", 1)
    with pytest.raises(RuleSpecError, match="--tau applies to cc only"):
        build_rule(impl, "krum", 1, {"tau": 2.0})


def test_command_line_options_come_from_the_registry(
    capsys: pytest.CaptureFixture[str],
) -> None:
    owners = hyperparameter_owners()
    assert list(HYPERPARAMETERS) == list(owners)
    parser = build_parser()
    for name, (h, names) in owners.items():
        kind, text = HYPERPARAMETERS[name]
        assert kind is h.kind
        assert text.startswith(", ".join(names) + ": ")
        assert f"(default {h.shown_default()})" in text
        value = "2" if h.kind is not str else "byzfl"
        args = parser.parse_args(["aggregate", "x.npy", h.flag, value])
        assert getattr(args, name) == h.kind(value)
    with pytest.raises(SystemExit):
        parser.parse_args(["aggregate", "--help"])
    shown = "".join(capsys.readouterr().out.split())  # argparse wraps lines, even at hyphens
    for name in ENTRIES:
        assert f"{name}," in shown or f"{name})" in shown, name
    for option, _ in owners.values():
        assert option.flag in shown


def test_library_specs_cover_the_registry() -> None:
    assert [s for s in LIBRARY_SPECS if "+" not in s] == list(RULE_ENTRIES)
    for spec in LIBRARY_SPECS:
        build_rule(opt, spec, 1)
    assert set(PUBLISHED) <= set(RULE_ENTRIES)


def test_docs_rule_table_is_generated_from_the_registry() -> None:
    spec = importlib.util.spec_from_file_location("rule_table", ROOT / "tools" / "rule_table.py")
    assert spec is not None and spec.loader is not None
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    _, table, _ = tool.split((ROOT / "docs" / "cli.md").read_text(encoding="utf-8"))
    assert table == library_table(), "run: python tools/rule_table.py"


def test_docs_option_table_gives_each_hyperparameter_s_default() -> None:
    # The option table of docs/cli.md is prose, checked here; the rule table is generated.
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").replace("−", "-")
    options = text.split("## The rule library")[0].splitlines()
    for h, names in hyperparameter_owners().values():
        rows = [
            row
            for row in options
            if row.startswith("|") and (f"`{h.flag}`" in row or f"`{h.flag} " in row)
        ]
        assert len(rows) == 1, h.flag
        assert h.shown_default() in rows[0], (h.flag, h.shown_default())
        assert all(f"`{n}`" in rows[0] for n in names), (h.flag, names)


def _speccheck() -> Any:
    spec = importlib.util.spec_from_file_location("speccheck", ROOT / "tools" / "speccheck.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.spec("D6.7")
def test_spec_lists_the_registry_s_names(tmp_path: Path) -> None:
    speccheck = _speccheck()
    assert speccheck.library_problems(ROOT / "spec") == []
    # D6.7 as it was before the registry: caf missing. The checker must say so.
    shutil.copytree(ROOT / "spec", tmp_path / "spec")
    rules = tmp_path / "spec" / "06-rules.md"
    text = rules.read_text(encoding="utf-8")
    assert "`smea`, `caf`;" in text
    rules.write_text(text.replace("`smea`, `caf`;", "`smea`;"), encoding="utf-8")
    problems = speccheck.library_problems(tmp_path / "spec")
    assert len(problems) == 1 and "caf" in problems[0]
