"""Conformance vectors: JSON files emitted by the reference tree (spec/00-conventions.md).

``python -m sbrml.vectors DIR`` (``make vectors``: DIR is ``sbrml/testing/vectors``, where
they ship as package data) writes one file per spec section. Every file is ``{"header",
"cases"}``; the header holds the provenance, the spec and format versions and the format's
description (``sbrml.testing.vectors.formats``). ``date`` is the spec version's date, not
today's, so regenerating changes nothing unless the reference's behaviour changed. Other
implementations check themselves against these files (``sbrml.testing``); ``tests/vectors``
checks ours.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import sbrml.reference as ref
from sbrml import SPEC_VERSION
from sbrml.core.errors import SpecError
from sbrml.core.params import pairs
from sbrml.testing.rule_cases import rule_vectors
from sbrml.testing.vectors.formats import DESCRIPTIONS, FORMAT_VERSION

SPEC_DATE = "2026-11-25"
SEED = 20261125


def header(section: str, seed: int | None) -> dict[str, Any]:
    """The provenance header every vector file starts with."""
    return {
        "generator": "sbrml.vectors (sbrml.reference, pure Python)",
        "spec_version": SPEC_VERSION,
        "spec_section": section,
        "seed": seed,
        "date": SPEC_DATE,
    }


def encoding_vectors() -> dict[str, Any]:
    """D1.3, C1.1-C1.4: encodings, decodings and rejections."""
    cases: list[dict[str, Any]] = []
    for values, frac_bits, bits in [
        ([0.0, 1.0, -1.0, 0.5, -0.5, 1.5, 2.5, 3.14159, -2.71828], 16, 64),
        ([0.5, 1.5, 2.5, -0.5, -1.5], 0, 64),
        ([31.75, -32.0, 0.25, 0.125], 2, 8),
        ([2.0**47 - 2.0**-5, -(2.0**47)], 16, 64),
        ([1e-6, -1e-6, 123456.789], 20, 64),
    ]:
        encoded = ref.encode(values, frac_bits=frac_bits, bits=bits)
        cases.append(
            {
                "values": values,
                "frac_bits": frac_bits,
                "bits": bits,
                "encoded": encoded,
                "decoded": ref.decode(encoded, frac_bits=frac_bits, bits=bits),
            }
        )
    for values, frac_bits, bits in [
        ([1.0, float("nan")], 16, 64),
        ([float("inf")], 16, 64),
        ([2.0**47], 16, 64),
        ([31.875], 2, 8),
    ]:
        try:
            ref.encode(values, frac_bits=frac_bits, bits=bits)
        except SpecError as err:
            cases.append(
                {
                    "values": [repr(v) for v in values],
                    "frac_bits": frac_bits,
                    "bits": bits,
                    "error": type(err).__name__,
                    "clause": err.clause,
                }
            )
    return {"header": header("01-ring", None), "cases": cases}


def randomness_vectors() -> dict[str, Any]:
    """C2.2, C2.3, C2.6, C2.7: keystreams from seeds and labels, and derived values."""
    cases: list[dict[str, Any]] = []
    for seed in (0, 1, SEED):
        root = ref.DeterministicRandomSource(seed)
        case: dict[str, Any] = {"seed": seed, "keystream_hex": root.random_bytes(96).hex()}
        case["derived"] = {
            label: root.derive(label).random_bytes(40).hex()
            for label in ("dealer", "worker/0", "worker/12")
        }
        case["ring_elements"] = ref.ring_elements(root, 4)
        # A list, not a dict: the draws depend on the order in which bounds are used.
        case["uniform_below"] = [
            {"bound": b, "values": [ref.uniform_below(root, b) for _ in range(5)]}
            for b in (1, 5, 1000, 2**64 + 3)
        ]
        cases.append(case)
    return {"header": header("02-randomness", None), "cases": cases}


def sharing_vectors() -> dict[str, Any]:
    """P3.1: shares from a seed."""
    secret = ref.encode([0.0, 1.0, -1.0, 1000.25, -0.001])
    s0, s1 = ref.share(secret, rng=ref.DeterministicRandomSource(SEED))
    narrow = [0, 1, 127, 128, 255]
    n0, n1 = ref.share(narrow, rng=ref.DeterministicRandomSource(SEED), bits=8)
    return {
        "header": header("03-sharing", SEED),
        "cases": [
            {"bits": 64, "secret": secret, "share0": s0, "share1": s1},
            {"bits": 8, "secret": narrow, "share0": n0, "share1": n1},
        ],
    }


def beaver_vectors() -> dict[str, Any]:
    """P4.1-P4.4: dealer material and Beaver outputs from a seed."""
    rng = ref.DeterministicRandomSource(SEED)
    channel = ref.Channel()
    dealer = ref.Dealer(rng=rng.derive("dealer"))
    x = ref.encode([1.5, -2.0, 3.25])
    y = ref.encode([0.5, 4.0, -1.0])
    xs, ys = ref.share(x, rng=rng), ref.share(y, rng=rng)
    triples = dealer.scalar_triples(3, channel=channel)
    prod = ref.beaver_mul(xs, ys, triples, channel=channel)
    squares = dealer.square_pairs(3, channel=channel)
    sq = ref.beaver_square(xs, squares, channel=channel)
    rows = [ref.encode([1.0, 2.0]), ref.encode([-3.0, 0.5]), ref.encode([0.0, 7.0])]
    row_shares = [ref.share(r, rng=rng) for r in rows]
    gram = dealer.gram_triple(3, 2, channel=channel)
    g = ref.beaver_gram(
        ([s[0] for s in row_shares], [s[1] for s in row_shares]), gram, channel=channel
    )
    case = {
        "labels": {"dealer": "dealer"},
        "x_shares": list(xs),
        "y_shares": list(ys),
        "triples": [[t.a, t.b, t.c] for t in triples],
        "product_shares": list(prod),
        "square_pairs": [[s.a, s.b] for s in squares],
        "square_shares": list(sq),
        "rows": rows,
        "row_shares": [list(s) for s in row_shares],
        "gram_triple": [[t.a, t.c] for t in gram],
        "gram_shares": list(g),
        "transcript_hex": channel.transcript_bytes().hex(),
    }
    return {"header": header("04-beaver", SEED), "cases": [case]}


def distance_vectors() -> dict[str, Any]:
    """P5.1, P5.2: D on shares, both variants, from a seed."""
    x = [[0.5, -1.0, 2.0], [1.5, 0.0, -2.0], [0.0, 0.0, 0.0], [3.0, 3.0, 3.0]]
    encoded = [ref.encode(r) for r in x]
    cases = []
    for variant in ("gram", "pairwise"):
        rng = ref.DeterministicRandomSource(SEED)
        shares = [ref.share(r, rng=rng.derive(f"worker/{i}")) for i, r in enumerate(encoded)]
        xs = ([s[0] for s in shares], [s[1] for s in shares])
        channel = ref.Channel()
        dealer = ref.Dealer(rng=rng.derive("dealer"))
        if variant == "gram":
            d0, d1 = ref.secure_sq_distances_gram(
                xs, dealer.gram_triple(4, 3, channel=channel), channel=channel
            )
        else:
            squares = dealer.square_pairs(len(pairs(4)) * 3, channel=channel)
            d0, d1 = ref.secure_sq_distances_pairwise(xs, squares, channel=channel)
        cases.append(
            {
                "variant": variant,
                "inputs": x,
                "encoded": encoded,
                "shares0": d0,
                "shares1": d1,
                "distances": [ref.reconstruct(a, b) for a, b in zip(d0, d1, strict=True)],
                "transcript_hex": channel.transcript_bytes().hex(),
            }
        )
    return {"header": header("05-distances", SEED), "cases": cases}


def rules_vectors() -> dict[str, Any]:
    """Sections 6, 9-11: rules in the clear, their distances and weights (rule_cases.py)."""
    return {"header": header("06-rules", SEED), "cases": rule_vectors(SEED)}


ROUND_CASES: list[dict[str, Any]] = [
    {"rule": "krum", "f": 1, "m": None, "variant": "gram", "n": 6, "d": 4, "tamper": None},
    {"rule": "multikrum", "f": 1, "m": 3, "variant": "pairwise", "n": 6, "d": 4, "tamper": None},
    {
        "rule": "multikrum",
        "f": 1,
        "m": None,
        "variant": "gram",
        "n": 7,
        "d": 3,
        "tamper": "drop W2",
    },
]


def round_inputs(n: int, d: int) -> list[list[float]]:
    """Deterministic inputs with two far-away (attacking) workers at the end."""
    import math

    rows = [[round(math.sin(1.3 * i + 0.7 * k), 6) for k in range(d)] for i in range(n)]
    rows[-1] = [40.0] * d
    rows[-2] = [-25.0] * d
    return rows


def round_vectors() -> dict[str, Any]:
    """P8.1: whole rounds with their canonical transcripts (D7.3)."""
    cases = []
    for spec in ROUND_CASES:
        x = round_inputs(spec["n"], spec["d"])
        rule = ref.RULES[spec["rule"]](
            spec["f"], **({"m": spec["m"]} if spec["rule"] == "multikrum" else {})
        )
        tamper = None
        if spec["tamper"] == "drop W2":

            def tamper(ms: list[ref.Message]) -> list[ref.Message]:
                return [m for m in ms if m.sender != "W2"]

        r = ref.secure_aggregate(
            x, rule, rng=ref.DeterministicRandomSource(SEED), variant=spec["variant"], tamper=tamper
        )
        cases.append(
            {
                **spec,
                "inputs": x,
                "z": r.z,
                "weights": r.weights,
                "valid": r.valid,
                "excluded": sorted(r.excluded),
                "distances": r.distances,
                "transcript_sha256": r.channel.transcript_digest(),
                "transcript_hex": r.channel.transcript_bytes().hex(),
            }
        )
    return {"header": header("08-round", SEED), "cases": cases}


def mask_primitive_vectors() -> dict[str, Any]:
    """D19.3-D19.5, C19.2: HKDF, mask keys and masks, a share box, Shamir shares from a seed."""
    from sbrml.reference import masking_primitives as prim

    secret = bytes(range(32))
    case = {
        "hkdf": [
            {"ikm_hex": ikm.hex(), "info_hex": info.hex(), "length": length, "okm_hex": okm}
            for ikm, info, length in ((secret, b"sbrml", 42), (b"", b"", 32), (secret, b"", 100))
            for okm in [prim.hkdf_sha256(ikm, info, length).hex()]
        ],
        "pairwise_seed_hex": prim.pairwise_seed(secret).hex(),
        "self_seed_hex": prim.self_seed(secret).hex(),
        "mask_of_pairwise_seed": prim.expand_mask(prim.pairwise_seed(secret), 6),
        "box": {
            "secret_hex": secret.hex(),
            "sender": 3,
            "receiver": 5,
            "plaintext_hex": b"a share of a secret".hex(),
            "box_hex": prim.seal(secret, 3, 5, b"a share of a secret").hex(),
        },
        "shamir": {
            "secret": 2**255 + 12345,
            "t": 3,
            "n": 5,
            "shares": prim.shamir_share(
                2**255 + 12345, 3, 5, rng=ref.DeterministicRandomSource(SEED)
            ),
        },
    }
    return {"header": header("19-pairwise-masks", SEED), "cases": [case]}


MASK_CASES: list[dict[str, Any]] = [
    {"n": 4, "d": 3, "t": 3, "dropouts": {}},
    {"n": 5, "d": 2, "t": 3, "dropouts": {"1": "input", "3": "unmask"}},
]


def mask_protocol_vectors() -> dict[str, Any]:
    """P20.1: whole pairwise-mask aggregations with their canonical transcripts (D7.3)."""
    from sbrml.reference.mask_protocol import masked_aggregate

    cases = []
    for spec in MASK_CASES:
        x = round_inputs(spec["n"], spec["d"])
        drops = {int(k): v for k, v in spec["dropouts"].items()}
        r = masked_aggregate(
            x, t=spec["t"], rng=ref.DeterministicRandomSource(SEED), dropouts=drops
        )
        cases.append(
            {
                **spec,
                "inputs": x,
                "total": r.total,
                "mean": r.mean,
                "counted": r.counted,
                "survivors": r.survivors,
                "transcript_sha256": r.channel.transcript_digest(),
                "transcript_hex": r.channel.transcript_bytes().hex(),
            }
        )
    return {"header": header("20-mask-protocol", SEED), "cases": cases}


GENERATORS = {
    "01-encoding.json": encoding_vectors,
    "02-randomness.json": randomness_vectors,
    "03-sharing.json": sharing_vectors,
    "04-beaver.json": beaver_vectors,
    "05-distances.json": distance_vectors,
    "06-rules.json": rules_vectors,
    "08-round.json": round_vectors,
    "19-mask-primitives.json": mask_primitive_vectors,
    "20-mask-protocol.json": mask_protocol_vectors,
}


def generate(name: str) -> dict[str, Any]:
    """The vector file ``name`` as the reference emits it, its header completed with the
    format's version and description."""
    vectors = GENERATORS[name]()
    vectors["header"]["format_version"] = FORMAT_VERSION
    vectors["header"]["description"] = DESCRIPTIONS[name]
    return vectors


def _sorted(value: Any) -> Any:
    """``value`` with the keys of every dict in it sorted."""
    if isinstance(value, dict):
        return {k: _sorted(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_sorted(v) for v in value]
    return value


def render(vectors: dict[str, Any]) -> str:
    """Canonical JSON text: the header first (a reader meets the description before the
    cases), then the cases; every other dict's keys sorted; one-space indent, trailing
    newline."""
    top = {"header": _sorted(vectors["header"]), "cases": _sorted(vectors["cases"])}
    return json.dumps(top, indent=1) + "\n"


def write_all(directory: Path) -> list[Path]:
    """Write every vector file into ``directory``; returns the paths written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name in GENERATORS:
        path = directory / name
        path.write_text(render(generate(name)), encoding="utf-8")
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m sbrml.vectors DIR", file=sys.stderr)
        return 2
    for path in write_all(Path(args[0])):
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
