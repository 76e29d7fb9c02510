"""The deployment file (spec/23-deployment.md D23.4): one TOML file names the round, the
parties, their certificates and addresses, the timeouts and where results go.

Checked as a whole before any party listens or connects: a missing or unknown key, a value
of the wrong type, or an ``n``, ``f``, ``d`` the round refuses is a ``ConfigError`` naming
the file, the key and the value.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sbrml.core.errors import ParameterError, SpecError, shown

__all__ = ["TIMEOUT_MAX", "ConfigError", "Deployment", "load_deployment"]

ROUND_KEYS = {
    "rule": str,
    "n": int,
    "f": int,
    "d": int,
    "variant": str,
    "leakage": str,
    "frac_bits": int,
    "weight_frac_bits": int,
    "first_round": int,
    "rounds": int,
    # The rule's hyperparameters by their registry names, as `sbrml aggregate`'s options
    # (m, convention, s, ...): a table, e.g. options = { m = 3, convention = "byzfl" }.
    "options": dict,
}
ROUND_REQUIRED = ("rule", "n", "f", "d")
SECTIONS = ("round", "tls", "parties", "workers", "timeouts", "output")
TIMEOUT_KEYS = ("share", "offline", "peer")
SERVERS = ("s0", "s1")
# D23.4: every timeout is finite, so that every wait ends (C23.4), and at most 10^6 s: far
# larger values overflow the deadlines of gRPC (a send then fails at once) and of Python's
# waits (OverflowError).
TIMEOUT_MAX = 1e6
KIND_NAMES = {int: "an int", str: "a string", dict: "a table"}


class ConfigError(ParameterError):
    """A deployment file that D23.4 refuses."""


@dataclass(frozen=True)
class PartyConfig:
    """One party's certificate, key, address and listening address; paths resolved."""

    cert: Path
    key: Path
    address: str | None = None
    listen: str | None = None


@dataclass(frozen=True)
class Deployment:
    """A checked deployment file (D23.4). ``round`` holds the ``[round]`` keys given
    (``rule``, ``n``, ``f``, ``d`` always); ``workers`` the templates with ``{i}``."""

    path: Path
    round: dict[str, Any]
    ca: Path
    parties: dict[str, PartyConfig]
    worker_cert: str
    worker_key: str
    timeouts: dict[str, float]
    output: Path

    @property
    def first_round(self) -> int:
        return int(self.round.get("first_round", 1))

    @property
    def rounds(self) -> int:
        return int(self.round.get("rounds", 1))

    def party(self, name: str) -> PartyConfig:
        """The files of party ``name`` (``S0``, ``S1``, ``dealer`` or ``W<i>``, any case)."""
        key = name.lower()
        if key.startswith("w") and key[1:].isdigit():
            i = int(key[1:])
            return PartyConfig(
                self._resolve(self.worker_cert.format(i=i)),
                self._resolve(self.worker_key.format(i=i)),
            )
        return self.parties[key]

    def address(self, party: str) -> str:
        """``host:port`` where the others reach ``S0``, ``S1`` or the dealer."""
        return str(self.parties[party.lower()].address)

    def listen(self, party: str) -> str:
        """``host:port`` that ``S0``, ``S1`` or the dealer binds (default: its address)."""
        entry = self.parties[party.lower()]
        return str(entry.listen or entry.address)

    def _resolve(self, text: str) -> Path:
        path = Path(text)
        return path if path.is_absolute() else self.path.parent / path


def _error(path: Path, key: str, need: str, got: object) -> ConfigError:
    return ConfigError(f"deployment file {path}", key, need, "D23.4", shown(got))


def _table(path: Path, data: dict[str, Any], key: str) -> dict[str, Any]:
    value = data.get(key)
    if not isinstance(value, dict):
        raise _error(path, f"[{key}]", "a table", value)
    return value


def _check_keys(path: Path, where: str, table: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = sorted(set(table) - set(allowed))
    if unknown:
        raise _error(
            path, f"{where}.{unknown[0]}", f"one of the keys {', '.join(allowed)}", unknown[0]
        )


def _string(path: Path, key: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise _error(path, key, "a non-empty string", value)
    return value


def _address(path: Path, key: str, value: object) -> str:
    text = _string(path, key, value)
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise _error(path, key, "host:port with a port in [1, 65535]", text)
    return text


def _per_index(template: str) -> bool:
    # A template that formats with i alone and names a different file for each worker
    # ("{{i}}" is the text "{i}" for every worker; "{j}" fails when a worker is loaded).
    try:
        return template.format(i=0) != template.format(i=1)
    except (KeyError, IndexError, ValueError, AttributeError, TypeError):
        return False


def _check_round(path: Path, table: dict[str, Any]) -> dict[str, Any]:
    _check_keys(path, "round", table, tuple(ROUND_KEYS))
    for key in ROUND_REQUIRED:
        if key not in table:
            raise _error(path, f"round.{key}", "the key to be given", "nothing")
    for key, value in table.items():
        kind = ROUND_KEYS[key]
        if isinstance(value, bool) or not isinstance(value, kind):
            raise _error(path, f"round.{key}", KIND_NAMES[kind], value)
    for key in ("n", "d", "first_round", "rounds"):
        if key in table and table[key] < 1:
            raise _error(path, f"round.{key}", "an int >= 1", table[key])
    return dict(table)


def load_deployment(path: str | Path) -> Deployment:
    """Read and check a deployment file (D23.4); relative paths are relative to the file.

    The round itself (rule name, ``n`` against ``f``, ``d``, the variant and leakage) is
    checked by ``round_setup`` on the returned ``round`` table, as every party does first.
    """
    file = Path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise _error(file, "file", "a readable file", f"{error}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise _error(file, "file", "TOML", f"{error}") from None
    _check_keys(file, "the file", data, SECTIONS)
    round_table = _check_round(file, _table(file, data, "round"))
    tls = _table(file, data, "tls")
    _check_keys(file, "tls", tls, ("ca",))
    base = file.parent

    def resolve(text: str) -> Path:
        p = Path(text)
        return p if p.is_absolute() else base / p

    ca = resolve(_string(file, "tls.ca", tls.get("ca")))
    parties_table = _table(file, data, "parties")
    _check_keys(file, "parties", parties_table, ("s0", "s1", "dealer"))
    parties: dict[str, PartyConfig] = {}
    for name in ("s0", "s1", "dealer"):
        entry = parties_table.get(name)
        if not isinstance(entry, dict):
            raise _error(file, f"[parties.{name}]", "a table", entry)
        _check_keys(file, f"parties.{name}", entry, ("cert", "key", "address", "listen"))
        # D23.3: S0, S1 and the dealer listen (the dealer for S0's requests, P23.2).
        address = _address(file, f"parties.{name}.address", entry.get("address"))
        listen = None
        if "listen" in entry:
            listen = _address(file, f"parties.{name}.listen", entry["listen"])
        parties[name] = PartyConfig(
            resolve(_string(file, f"parties.{name}.cert", entry.get("cert"))),
            resolve(_string(file, f"parties.{name}.key", entry.get("key"))),
            address,
            listen,
        )
    seen: dict[str, str] = {}
    for name, entry in parties.items():
        for kind, value in (("address", entry.address), ("listen", entry.listen)):
            if value is None or (kind == "listen" and value == entry.address):
                continue
            if value in seen and not seen[value].startswith(f"parties.{name}."):
                # Two listeners on one port would share it (SO_REUSEPORT): a party could reach
                # the wrong one, and the mistake would go unnoticed (D23.4).
                raise _error(
                    file, f"parties.{name}.{kind}", f"an address other than {seen[value]}", value
                )
            seen[value] = f"parties.{name}.{kind}"
    workers = _table(file, data, "workers")
    _check_keys(file, "workers", workers, ("cert", "key"))
    templates = {}
    for key in ("cert", "key"):
        text = _string(file, f"workers.{key}", workers.get(key))
        if "{i}" not in text or not _per_index(text):
            raise _error(file, f"workers.{key}", "a path with {i} for the worker's index", text)
        templates[key] = text
    timeouts_table = data.get("timeouts", {})
    if not isinstance(timeouts_table, dict):
        raise _error(file, "[timeouts]", "a table", timeouts_table)
    _check_keys(file, "timeouts", timeouts_table, TIMEOUT_KEYS)
    timeouts = {"share": 30.0, "offline": 60.0, "peer": 60.0}
    for key, value in timeouts_table.items():
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not 0 < value <= TIMEOUT_MAX
        ):
            raise _error(file, f"timeouts.{key}", f"seconds in (0, {TIMEOUT_MAX:g}]", value)
        timeouts[key] = float(value)
    output_table = data.get("output", {})
    if not isinstance(output_table, dict):
        raise _error(file, "[output]", "a table", output_table)
    _check_keys(file, "output", output_table, ("directory",))
    output = resolve(_string(file, "output.directory", output_table.get("directory", "results")))
    return Deployment(
        file, round_table, ca, parties, templates["cert"], templates["key"], timeouts, output
    )


def round_setup_of(deployment: Deployment) -> Any:
    """``round_setup`` for the file's ``[round]``: the rule built from its name (D6.7);
    a rule, ``n``, ``f`` or ``d`` the round refuses raises its SpecError, re-raised as a
    ConfigError that names the file, the key (``round.n`` when the refusal names ``n``)
    and the round's own message with the values."""
    import sbrml.optimized as tree
    from sbrml.optimized.round_offline import round_setup
    from sbrml.rulespec import RuleSpecError, build_rule

    r = deployment.round
    try:
        rule = build_rule(tree, r["rule"], r["f"], r.get("options"))
        options = {
            k: r[k] for k in ("variant", "leakage", "frac_bits", "weight_frac_bits") if k in r
        }
        setup = round_setup(r["n"], r["d"], rule, **options)
    except RuleSpecError as error:
        raise _error(
            deployment.path, "round.rule", "a rule name (D6.7)", f"{r['rule']}: {error}"
        ) from None
    except SpecError as error:
        # The key the round refused (round.n, round.f, round.variant, ...) when it names one.
        key = f"round.{error.parameter}" if error.parameter in ROUND_KEYS else "round"
        raise _error(deployment.path, key, "a round the protocol accepts", str(error)) from None
    if "variant" in r and not setup.distance:
        # An option that does not apply is an error, as in `sbrml aggregate` (C8.15).
        raise _error(
            deployment.path,
            "round.variant",
            "no variant: this rule and leakage compute no distances (C8.15)",
            r["variant"],
        )
    return setup
