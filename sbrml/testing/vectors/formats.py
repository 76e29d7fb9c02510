"""The format of the conformance vector files: their version and one description per file.

Standard library only. ``sbrml.vectors`` (the generator) writes each description into its
file's header, so a file copied on its own still says what it holds; ``README.md`` beside the
files says the same in prose. A test checks that every field of every case is described.

Every file is one JSON object ``{"header": {...}, "cases": [...]}``. The header holds the
provenance (``generator``, ``date``, ``seed``), ``spec_version`` (the specification the
vectors follow, spec/00-conventions.md), ``spec_section``, ``format_version`` (this layout)
and ``description`` (``summary`` and ``case``: field name -> meaning). Ring elements are
unsigned ints in ``[0, 2^bits)``; byte strings are lowercase hex; floats are JSON numbers that
read back as the same double.
"""

from __future__ import annotations

# 1: every file {"header", "cases"}; the header gains format_version and description (the
# files before had no version of their own, and three of them had no "cases" list).
FORMAT_VERSION = 1

Description = dict[str, str | dict[str, str]]

ROUND_FIELDS = {
    "rule": "the rule's short name (D6.7): krum or multikrum",
    "f": "the rule's f (C6.2)",
    "m": "Multi-Krum's m (C6.5), null for n - f (or for Krum)",
    "variant": "the distance variant (D5.2): gram or pairwise",
    "n": "workers",
    "d": "coordinates per input",
    "tamper": "null, or 'drop W2': worker 2's messages are removed before delivery (C8.3)",
    "inputs": "the n x d real inputs, row i from worker W<i>",
    "z": "the round's output, decoded with F + W = 16 + 30 fractional bits (C8.5)",
    "weights": "p, length n, 0 for excluded workers (D6.1)",
    "valid": "V, the workers the servers kept (C8.3, C8.14), increasing",
    "excluded": "the workers left out, increasing",
    "distances": "D over V as exact ring integers (D5.1, unit 2^32), |V| x |V|",
    "transcript_sha256": "SHA-256 of transcript_hex's bytes",
    "transcript_hex": "the full canonical transcript (D7.3) of the round",
}

DESCRIPTIONS: dict[str, Description] = {
    "01-encoding.json": {
        "summary": "Fixed-point encoding and decoding (D1.3, C1.1-C1.4), and refused values. "
        "A case with 'encoded' is accepted, one with 'error' is refused.",
        "case": {
            "values": "the reals to encode; in a refused case their Python repr() as strings",
            "frac_bits": "F, fractional bits (D1.3)",
            "bits": "k, the ring width (D1.1)",
            "encoded": "encode(values): ring elements, round(x 2^F) mod 2^k (C1.3)",
            "decoded": "decode(encoded) (C1.4)",
            "error": "the SpecError subclass raised (refused cases only)",
            "clause": "the clause the error cites (refused cases only)",
        },
    },
    "02-randomness.json": {
        "summary": "Keystreams from seeds (C2.2), derived streams (C2.3), ring elements (C2.6) "
        "and integers below a bound (C2.7); each case is one DeterministicRandomSource(seed).",
        "case": {
            "seed": "the int seed of DeterministicRandomSource (C2.2)",
            "keystream_hex": "its first 96 bytes",
            "derived": "label -> the first 40 bytes of root.derive(label) (C2.3)",
            "ring_elements": "4 ring elements drawn after those 96 bytes (C2.6)",
            "uniform_below": "then, in order, {bound, values}: 5 draws of uniform_below(bound)",
        },
    },
    "03-sharing.json": {
        "summary": "Additive sharing (P3.1) from DeterministicRandomSource(header seed).",
        "case": {
            "bits": "k, the ring width",
            "secret": "x, ring elements",
            "share0": "x^0 = r, drawn by ring_elements (C2.6)",
            "share1": "x^1 = x - r mod 2^k",
        },
    },
    "04-beaver.json": {
        "summary": "Dealer material (P4.1) and the three Beaver products (P4.2-P4.4) on one "
        "channel, from DeterministicRandomSource(header seed); one case.",
        "case": {
            "labels": "the derive label of the dealer's source",
            "x_shares": "[x^0, x^1], shares of x drawn from the root source",
            "y_shares": "[y^0, y^1], drawn next",
            "triples": "per server [a^s, b^s, c^s] of 3 scalar triples (P4.1 a)",
            "product_shares": "shares of x*y (P4.2)",
            "square_pairs": "per server [a^s, b^s] of 3 square pairs (P4.1 b)",
            "square_shares": "shares of x^2 (P4.3)",
            "rows": "X, 3 encoded rows of 2 coordinates",
            "row_shares": "per row [X_i^0, X_i^1], drawn from the root source",
            "gram_triple": "per server [A^s, C^s] of the 3 x 2 Gram triple (P4.1 c)",
            "gram_shares": "shares of G = X X^T (P4.4)",
            "transcript_hex": "the channel's canonical transcript (D7.3)",
        },
    },
    "05-distances.json": {
        "summary": "Squared distances on shares (P5.1, P5.2); worker i shares from "
        "rng.derive('worker/<i>'), the dealer draws from rng.derive('dealer').",
        "case": {
            "variant": "gram (P5.1) or pairwise (P5.2)",
            "inputs": "the real inputs, one row per worker",
            "encoded": "their encodings (D1.3, F = 16)",
            "shares0": "S0's share of D",
            "shares1": "S1's share of D",
            "distances": "D = shares0 + shares1: the exact ring distances (C5.2)",
            "transcript_hex": "the channel's canonical transcript (D7.3)",
        },
    },
    "06-rules.json": {
        "summary": "Rules in the clear (sections 6, 9-11) on inputs whose distances are exact "
        "doubles: each case is one rule on one input.",
        "case": {
            "rule": "the rule's name (D6.7), a composition written with '+'",
            "f": "the rule's f (C6.2)",
            "hyperparameters": "the rule's options other than f; absent ones take their default",
            "clause": "the spec item that defines the rule",
            "kind": "the input: 'honest', 'outliers' (f far rows) or 'conventions' (Krum's "
            "two neighbour counts, C6.6, select different rows)",
            "inputs": "x, the n x d real inputs",
            "distances": "D(x) (D5.1), exact",
            "weights": "weights(D) (D6.1), or null for a rule without a distance form",
            "output": "rule(x), correctly rounded",
        },
    },
    "08-round.json": {
        "summary": "Whole secure rounds (P8.1) from DeterministicRandomSource(header seed).",
        "case": ROUND_FIELDS,
    },
    "19-mask-primitives.json": {
        "summary": "The pairwise-mask primitives (D19.3-D19.5, C19.2); one case.",
        "case": {
            "hkdf": "list of {ikm_hex, info_hex, length, okm_hex}: HKDF-SHA-256 (D19.3)",
            "pairwise_seed_hex": "pairwise_seed(bytes 0..31) (D19.4)",
            "self_seed_hex": "self_seed(bytes 0..31) (D19.4)",
            "mask_of_pairwise_seed": "PRG(pairwise seed, 6) (D19.4)",
            "box": "{secret_hex, sender, receiver, plaintext_hex, box_hex}: a share box (D19.5)",
            "shamir": "{secret, t, n, shares}: shares [x, f(x)] from the header seed (D19.2)",
        },
    },
    "20-mask-protocol.json": {
        "summary": "Whole pairwise-mask aggregations (P20.1) from "
        "DeterministicRandomSource(header seed).",
        "case": {
            "n": "workers",
            "d": "coordinates per input",
            "t": "the Shamir threshold (C20.1)",
            "dropouts": "worker (as a string) -> the round of P20.1 from which it is silent "
            "(advertise, share, input or unmask)",
            "inputs": "the n x d real inputs",
            "total": "the decoded sum of the counted inputs (C20.6)",
            "mean": "total / counted",
            "counted": "U3, the workers whose inputs were summed, increasing",
            "survivors": "round -> the workers whose messages S accepted in it (U1..U4)",
            "transcript_sha256": "SHA-256 of transcript_hex's bytes",
            "transcript_hex": "the full canonical transcript (D7.3)",
        },
    },
}
