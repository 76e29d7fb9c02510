"""Conformance vectors (package data of sbrml.testing, read through its loader): the shipped
files are current, and the optimized tree reproduces them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import sbrml.optimized as opt
from sbrml import SPEC_VERSION
from sbrml.core.channel import Message
from sbrml.core.errors import SpecError
from sbrml.rulespec import build_rule
from sbrml.testing.vectors import FORMAT_VERSION, cases, header, names, text
from sbrml.vectors import GENERATORS, SEED, write_all
from tests.helpers import as_list


def test_shipped_vectors_are_current(tmp_path: Path) -> None:
    for path in write_all(tmp_path):
        assert path.name in names(), f"{path.name} is not in sbrml/testing/vectors: make vectors"
        assert text(path.name) == path.read_text(encoding="utf-8"), (
            f"{path.name} differs from what the reference emits: run `make vectors` and review"
        )
    assert names() == sorted(GENERATORS)


def test_every_file_has_provenance_and_versions() -> None:
    for name in GENERATORS:
        head = header(name)
        assert set(head) == {
            "generator",
            "spec_version",
            "spec_section",
            "seed",
            "date",
            "format_version",
            "description",
        }
        assert (head["spec_version"], head["format_version"]) == (SPEC_VERSION, FORMAT_VERSION)


@pytest.mark.spec("C1.1", "C1.2", "C1.3", "C1.4")
def test_optimized_reproduces_encoding() -> None:
    for case in cases("01-encoding.json"):
        if "error" in case:
            values = [float(v) for v in case["values"]]
            with pytest.raises(SpecError) as info:
                opt.encode(values, frac_bits=case["frac_bits"], bits=case["bits"])
            assert (type(info.value).__name__, info.value.clause) == (case["error"], case["clause"])
        else:
            e = opt.encode(case["values"], frac_bits=case["frac_bits"], bits=case["bits"])
            assert as_list(e) == case["encoded"]
            assert (
                as_list(opt.decode(e, frac_bits=case["frac_bits"], bits=case["bits"]))
                == case["decoded"]
            )


@pytest.mark.spec("C2.2", "C2.3", "C2.6", "C2.7")
def test_optimized_reproduces_randomness() -> None:
    for case in cases("02-randomness.json"):
        root = opt.DeterministicRandomSource(case["seed"])
        assert root.random_bytes(96).hex() == case["keystream_hex"]
        for label, hexed in case["derived"].items():
            assert root.derive(label).random_bytes(40).hex() == hexed
        assert as_list(opt.ring_elements(root, 4)) == case["ring_elements"]
        for item in case["uniform_below"]:
            assert [opt.uniform_below(root, item["bound"]) for _ in range(5)] == item["values"]


def test_optimized_reproduces_sharing() -> None:
    for case in cases("03-sharing.json"):
        s0, s1 = opt.share(
            case["secret"], rng=opt.DeterministicRandomSource(SEED), bits=case["bits"]
        )
        assert as_list(s0) == case["share0"] and as_list(s1) == case["share1"]


@pytest.mark.spec("C4.2", "C7.3")
def test_optimized_reproduces_beaver() -> None:
    (v,) = cases("04-beaver.json")
    rng = opt.DeterministicRandomSource(SEED)
    channel = opt.Channel()
    dealer = opt.Dealer(rng=rng.derive("dealer"))
    xs = opt.share(_rec(v["x_shares"]), rng=rng)
    ys = opt.share(_rec(v["y_shares"]), rng=rng)
    assert as_list(xs) == v["x_shares"] and as_list(ys) == v["y_shares"]
    triples = dealer.scalar_triples(3, channel=channel)
    assert [as_list([t.a, t.b, t.c]) for t in triples] == v["triples"]
    assert as_list(opt.beaver_mul(xs, ys, triples, channel=channel)) == v["product_shares"]
    squares = dealer.square_pairs(3, channel=channel)
    assert as_list(opt.beaver_square(xs, squares, channel=channel)) == v["square_shares"]
    rows = np.array(v["rows"], dtype=np.uint64)
    row_shares = [opt.share(r, rng=rng) for r in rows]
    gram = dealer.gram_triple(3, 2, channel=channel)
    x = (np.stack([s[0] for s in row_shares]), np.stack([s[1] for s in row_shares]))
    assert as_list(opt.beaver_gram(x, gram, channel=channel)) == v["gram_shares"]
    assert channel.transcript_bytes().hex() == v["transcript_hex"]


def _rec(shares: list[list[int]]) -> np.ndarray:
    return opt.reconstruct(shares[0], shares[1])


@pytest.mark.spec("C5.1", "C7.3")
def test_optimized_reproduces_distances() -> None:
    for v in cases("05-distances.json"):
        variant = v["variant"]
        encoded = np.array(v["encoded"], dtype=np.uint64)
        rng = opt.DeterministicRandomSource(SEED)
        shares = [opt.share(r, rng=rng.derive(f"worker/{i}")) for i, r in enumerate(encoded)]
        xs = (np.stack([s[0] for s in shares]), np.stack([s[1] for s in shares]))
        channel = opt.Channel()
        dealer = opt.Dealer(rng=rng.derive("dealer"))
        if variant == "gram":
            d0, d1 = opt.secure_sq_distances_gram(
                xs, dealer.gram_triple(4, 3, channel=channel), channel=channel
            )
        else:
            d0, d1 = opt.secure_sq_distances_pairwise(
                xs, dealer.square_pairs(18, channel=channel), channel=channel
            )
        assert as_list(d0) == v["shares0"] and as_list(d1) == v["shares1"]
        assert channel.transcript_bytes().hex() == v["transcript_hex"]


@pytest.mark.spec("C6.1", "C6.4", "C6.6")
def test_optimized_reproduces_rules_in_the_clear() -> None:
    # The weights are exact (equal); outputs are means of the same rows, rounded once in the
    # reference (fsum) and possibly twice here.
    for case in cases("06-rules.json"):
        rule = build_rule(opt, case["rule"], case["f"], case["hyperparameters"])
        x = np.array(case["inputs"])
        np.testing.assert_allclose(rule(x), case["output"], rtol=1e-12, atol=1e-15)
        if case["weights"] is not None:
            assert as_list(rule.weights(np.array(case["distances"]))) == case["weights"]


@pytest.mark.spec("C7.3")
def test_optimized_reproduces_rounds() -> None:
    for case in cases("08-round.json"):
        rule = opt.RULES[case["rule"]](
            case["f"], **({"m": case["m"]} if case["rule"] == "multikrum" else {})
        )

        def drop_w2(ms: list[Message]) -> list[Message]:
            return [m for m in ms if m.sender != "W2"]

        r = opt.secure_aggregate(
            np.array(case["inputs"]),
            rule,
            rng=opt.DeterministicRandomSource(SEED),
            variant=case["variant"],
            tamper=drop_w2 if case["tamper"] else None,
        )
        assert as_list(r.z) == case["z"]
        assert as_list(r.weights) == case["weights"]
        assert r.valid == case["valid"] and sorted(r.excluded) == case["excluded"]
        assert as_list(r.distances) == case["distances"]
        assert r.channel.transcript_bytes().hex() == case["transcript_hex"]
        assert r.channel.transcript_digest() == case["transcript_sha256"]


@pytest.mark.spec("D19.3", "D19.4", "D19.5", "C19.2")
def test_optimized_reproduces_mask_primitives() -> None:
    import sbrml.optimized.masking_primitives as prim
    from sbrml.optimized.mask_protocol import apply_masks
    from sbrml.optimized.randomness import ChaCha20RandomSource
    from sbrml.reference import masking_primitives as ref_prim

    (v,) = cases("19-mask-primitives.json")
    for case in v["hkdf"]:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.kdf.hkdf import HKDF

        ikm, info = bytes.fromhex(case["ikm_hex"]), bytes.fromhex(case["info_hex"])
        okm = HKDF(hashes.SHA256(), case["length"], None, info).derive(ikm)
        assert okm.hex() == case["okm_hex"]
    seed = bytes.fromhex(v["pairwise_seed_hex"])
    assert (
        as_list(apply_masks(np.zeros(6, dtype=np.uint64), [(1, seed)], 6))
        == v["mask_of_pairwise_seed"]
    )
    box = v["box"]
    secret = bytes.fromhex(box["secret_hex"])
    sealed = ref_prim.seal(
        secret, box["sender"], box["receiver"], bytes.fromhex(box["plaintext_hex"]),
        ChaCha20RandomSource,
    )  # fmt: skip
    assert sealed.hex() == box["box_hex"]
    sh = v["shamir"]
    assert [list(p) for p in prim.shamir_share(
        sh["secret"], sh["t"], sh["n"], rng=opt.DeterministicRandomSource(SEED)
    )] == sh["shares"]  # fmt: skip


@pytest.mark.spec("C20.6", "C7.3")
def test_optimized_reproduces_mask_protocol() -> None:
    from sbrml.optimized.mask_protocol import masked_aggregate

    for case in cases("20-mask-protocol.json"):
        r = masked_aggregate(
            np.array(case["inputs"]),
            t=case["t"],
            rng=opt.DeterministicRandomSource(SEED),
            dropouts={int(k): s for k, s in case["dropouts"].items()},
        )
        assert r.channel.transcript_bytes().hex() == case["transcript_hex"]
        assert r.counted == case["counted"] and r.survivors == case["survivors"]
        assert as_list(r.total) == case["total"] and as_list(r.mean) == case["mean"]
