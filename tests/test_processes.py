"""Parallelism is an argument, and no process-wide state outlives a call (spec C0.2)."""

from __future__ import annotations

import functools
import inspect
import sys
import textwrap
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

import sbrml.optimized as opt
import sbrml.optimized.he_averaging as opt_he
import sbrml.optimized.paillier as opt_p
import sbrml.optimized.paillier_triples as opt_t
import sbrml.reference as ref
import sbrml.reference.he_averaging as ref_he
import sbrml.reference.paillier as ref_p
import sbrml.reference.paillier_triples as ref_t
from sbrml.core.errors import ParameterError, ShapeError
from sbrml.optimized import processes
from sbrml.optimized.randomness import fill_ring_elements

KEY = opt_p.generate_keypair(512, rng=opt.DeterministicRandomSource(7), insecure_test=True)
BAD_PROCESSES = [0, -1, True, 1.5, "2", None, 65, 10**6]

# The functions that take ``processes``, with the same parameters in both trees; the
# reference's encrypted_average also takes the backend the optimized tree plugs in.
PAIRED = [
    (ref_p.obfuscators, opt_p.obfuscators),
    (ref_p.key_holder_obfuscators, opt_p.key_holder_obfuscators),
    (ref_p.short_exponent_obfuscators, opt_p.short_exponent_obfuscators),
    (ref_he.encrypted_average, opt_he.encrypted_average),
    (ref_t.PaillierTripleProvider, opt_t.PaillierTripleProvider),
]
REFERENCE_ONLY = {"encrypted_average": {"backend"}}


def _inputs(n: int, d: int) -> list[list[float]]:
    gen = np.random.default_rng(n * 1000 + d)
    rows: list[list[float]] = (gen.standard_normal((n, d)) * 3).tolist()
    return rows


def _parameters(fn: Any) -> list[tuple[str, Any]]:
    skip = REFERENCE_ONLY.get(fn.__name__, set())
    return [
        (p.name, p.kind) for p in inspect.signature(fn).parameters.values() if p.name not in skip
    ]


@pytest.mark.spec("C0.2", "D0.1")
@pytest.mark.parametrize(("reference", "optimized"), PAIRED, ids=lambda f: f.__name__)
def test_both_trees_take_processes_with_the_same_signature(reference: Any, optimized: Any) -> None:
    assert _parameters(reference) == _parameters(optimized)
    assert inspect.signature(optimized).parameters["processes"].default == 1


def _calls(tree: str) -> list[Any]:
    pk, sk = KEY
    p, he, t = (ref_p, ref_he, ref_t) if tree == "reference" else (opt_p, opt_he, opt_t)
    source = ref.DeterministicRandomSource if tree == "reference" else opt.DeterministicRandomSource
    h = p.short_exponent_base(pk, rng=source(3))
    return [
        lambda k: p.obfuscators(pk, 2, rng=source(1), processes=k),
        lambda k: p.key_holder_obfuscators(sk, 2, rng=source(1), processes=k),
        lambda k: p.short_exponent_obfuscators(pk, h, 2, rng=source(1), processes=k),
        lambda k: he.encrypted_average(
            _inputs(2, 3), public=pk, private=sk, rng=source(1), processes=k
        ),
        lambda k: t.PaillierTripleProvider(
            rng=source(1), bits=512, insecure_test=True, processes=k
        ),
    ]


@pytest.mark.spec("C0.2")
@pytest.mark.parametrize("tree", ["reference", "optimized"])
@pytest.mark.parametrize("bad", BAD_PROCESSES, ids=repr)
def test_processes_must_be_a_positive_int(tree: str, bad: Any) -> None:
    for call in _calls(tree):
        with pytest.raises(ParameterError) as info:
            call(bad)
        assert info.value.clause == "C0.2" and "processes" in str(info.value)
    if tree == "optimized":
        for call in (
            lambda: opt_p.decrypt_many(KEY[1], [], processes=bad),
            lambda: processes.map_parts(_square, 0, [[1], [2]], bad),
            lambda: opt_he.optimized_backend(bad),
        ):
            with pytest.raises(ParameterError) as info:
                call()
            assert info.value.clause == "C0.2"


@pytest.mark.spec("C0.2", "C14.4")
@pytest.mark.parametrize("option", ["key-holder", "short-exponent"])
def test_encrypted_average_transcript_does_not_depend_on_processes(option: str) -> None:
    """Enough plaintexts (over 256 per worker) that every step of the optimized tree runs on
    two processes; the reference accepts the argument and runs in one."""
    pk, sk = KEY
    x = _inputs(3, 6000)
    base = None
    if option == "short-exponent":
        base = opt_p.short_exponent_base(pk, rng=opt.DeterministicRandomSource(5))
    runs = []
    for tree, he in (("optimized", opt_he), ("reference", ref_he)):
        source = (
            opt.DeterministicRandomSource if tree == "optimized" else ref.DeterministicRandomSource
        )
        for k in (1, 2):
            result = he.encrypted_average(
                x, public=pk, private=sk, rng=source(9), short_exponent_base=base, processes=k
            )
            runs.append((result.channel.transcript_bytes(), list(map(float, result.mean))))
    assert len(runs[0][0]) > 3 * 256 * 128  # three workers' ciphertexts of 128 bytes at least
    assert all(run == runs[0] for run in runs)


@pytest.mark.spec("C0.2", "C15.1", "C15.3")
@pytest.mark.parametrize("option", ["key-holder", "short-exponent"])
def test_paillier_triples_do_not_depend_on_processes(option: str) -> None:
    runs = []
    for tree, t in (("optimized", opt_t), ("reference", ref_t)):
        source = (
            opt.DeterministicRandomSource if tree == "optimized" else ref.DeterministicRandomSource
        )
        for k in (1, 2):
            provider = t.PaillierTripleProvider(
                rng=source(4), bits=512, insecure_test=True, obfuscators=option, processes=k
            )
            channel = opt.Channel()
            provider.scalar_triples(300, channel=channel)  # 300 products: two processes
            provider.gram_triple(3, 100, channel=channel)  # 3 x 3 x 100 powers: two processes
            runs.append(channel.transcript_bytes())
    assert all(run == runs[0] for run in runs)


def _square(offset: int, part: Sequence[int]) -> list[int]:
    return [offset + v * v for v in part]


def _check_each(key: tuple[int, int], cts: list[int]) -> list[int]:
    return opt_p._decrypt_part(key, cts)


@pytest.mark.spec("C0.2")
@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_map_parts_keeps_order_and_errors(
    start_method: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if start_method == "fork" and sys.platform != "linux":
        pytest.skip("fork is used on Linux only")
    monkeypatch.setattr(processes, "START_METHOD", start_method)
    parts = processes.split(list(range(10)), 3)
    assert [list(p) for p in parts] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert processes.map_parts(_square, 100, parts, 2) == [_square(100, list(p)) for p in parts]
    # An error in a child reaches the caller with its class and clause (SpecError pickles).
    pk, sk = KEY
    good = [opt_p.encrypt(pk, m, rng=opt.DeterministicRandomSource(m)) for m in range(4)]
    with pytest.raises(ShapeError) as info:
        processes.map_parts(_check_each, (sk.p, sk.q), [good[:2], [*good[2:], 0]], 2)
    assert info.value.clause == "C13.6"


@pytest.mark.spec("C0.2")
def test_decrypt_many_over_processes_raises_as_in_one() -> None:
    pk, sk = KEY
    cts = [opt_p.encrypt(pk, m, rng=opt.DeterministicRandomSource(1)) for m in range(6)]
    assert opt_p.decrypt_many(sk, cts, processes=2) == list(range(6))
    for k in (1, 2):
        with pytest.raises(ShapeError) as info:
            opt_p.decrypt_many(sk, [*cts, pk.n_squared], processes=k)
        assert info.value.clause == "C13.6"


def _module_state(modules: list[ModuleType]) -> dict[str, Any]:
    """What a module keeps at top level that a call could grow: arrays, containers, caches."""
    state: dict[str, Any] = {}
    for module in modules:
        for name, value in vars(module).items():
            key = f"{module.__name__}.{name}"
            if isinstance(value, np.ndarray):
                state[key] = value.nbytes
            elif isinstance(value, dict | list | set | bytearray):
                state[key] = len(value)
            elif isinstance(value, functools._lru_cache_wrapper):
                state[key] = value.cache_info().currsize
    return state


@pytest.mark.spec("C0.2")
def test_no_state_outlives_a_call() -> None:
    modules = [m for name, m in sorted(sys.modules.items()) if name.startswith("sbrml.optimized")]
    before = _module_state(modules)
    out = np.empty(300_000, dtype=np.uint64)
    fill_ring_elements(opt.DeterministicRandomSource(1), out)
    pk, sk = KEY
    h = opt_p.short_exponent_base(pk, rng=opt.DeterministicRandomSource(2))
    opt_p.short_exponent_obfuscators(pk, h, 300, rng=opt.DeterministicRandomSource(3), processes=2)
    opt_he.encrypted_average(
        _inputs(2, 6000), public=pk, private=sk, rng=opt.DeterministicRandomSource(4), processes=2
    )
    assert _module_state(modules) == before
    for module in (opt_he, opt_t):
        assert not hasattr(module, "PROCESSES")  # no number of processes chosen at import


@pytest.mark.spec("C2.6")
def test_keystream_across_zero_blocks_matches_the_reference() -> None:
    count = 3 * len(opt.randomness.ZERO_BLOCK) // 8 + 5  # three blocks and a partial one
    got = opt.ring_elements(opt.DeterministicRandomSource(12), count).tolist()
    assert got == ref.ring_elements(ref.DeterministicRandomSource(12), count)


FAKE_BYZFL = {
    # The package's __init__ needs torchvision, which the baseline does without.
    "__init__.py": "raise ImportError('torchvision is not installed')\n",
    "utils/__init__.py": "",
    "utils/torch_tools.py": "VALUE = 3\n",
    "utils/misc.py": "from byzfl.utils import torch_tools\n\n"
    "def helper():\n    return torch_tools.VALUE\n",
    "aggregators/__init__.py": "from .aggregators import *\n",
    "aggregators/aggregators.py": "from byzfl.utils.misc import helper\n\n"
    "__all__ = ['Krum']\n\n"
    "class Krum:\n    def __call__(self):\n        return helper()\n",
}


def test_byzfl_loads_without_planting_modules(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The baseline's loader runs ByzFL's aggregators (absolute imports as in ByzFL 0.0.11)
    without its package __init__ and leaves no byzfl entry in sys.modules."""
    from sbrml.byzfl_baseline import load_byzfl

    for name, text in FAKE_BYZFL.items():
        path = tmp_path / "byzfl" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    monkeypatch.syspath_prepend(str(tmp_path))
    for name in [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]:
        monkeypatch.delitem(sys.modules, name)
    module = load_byzfl()
    assert module.Krum()() == 3
    assert not [k for k in sys.modules if k == "byzfl" or k.startswith("byzfl.")]
    assert load_byzfl().Krum()() == 3  # and again
