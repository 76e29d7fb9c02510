"""Encrypted averaging with packed Paillier ciphertexts (spec/14-packing.md, P14.3).

The federated baseline of the survey: workers share one key pair, encrypt packed updates,
a server multiplies the ciphertexts (adding the plaintexts) without the key, and the workers
decrypt the sum and divide. It averages; it does not defend against Byzantine values.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sbrml.core.channel import Channel, Message, Payload
from sbrml.core.errors import InsufficientWorkersError, ShapeError, SpecError
from sbrml.core.params import check_processes
from sbrml.core.round import PhaseClock, Tamper, worker_name
from sbrml.reference.packing import Packing
from sbrml.reference.paillier import (
    PrivateKey,
    PublicKey,
    add,
    check_ciphertexts,
    check_short_exponent_base,
    decrypt,
    encrypt_with_obfuscator,
    key_holder_obfuscators,
    short_exponent_obfuscators,
)
from sbrml.reference.randomness import RandomSource


@dataclass
class AveragingResult:
    """The mean, the workers counted, the excluded ones with reasons, and the traffic."""

    mean: Any
    valid: list[int]
    excluded: dict[int, str]
    channel: Channel
    n: int
    d: int
    seconds: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Backend:
    """The arithmetic one tree plugs into P14.3: packing and vectors of Paillier operations."""

    packing: Callable[..., Packing]
    encrypt_many: Callable[..., list[int]]
    check_many: Callable[[str, PublicKey, list[int]], None]
    add_many: Callable[[PublicKey, list[int], list[int]], list[int]]
    decrypt_many: Callable[..., list[int]]
    sum_valid: Callable[..., tuple[list[int], dict[int, str]]] | None = None


def encrypt_many(
    private: PrivateKey, ms: Sequence[int], *, rng: RandomSource, base: int | None = None
) -> list[int]:
    """P14.3 step 1: each plaintext encrypted with a key-holder obfuscator (D13.4), in order,
    or with short-exponent obfuscators of ``base`` (D13.5) when the option is chosen."""
    if base is None:
        obf = key_holder_obfuscators(private, len(ms), rng=rng)
    else:
        obf = short_exponent_obfuscators(private.public, base, len(ms), rng=rng)
    return [encrypt_with_obfuscator(private.public, m, o) for m, o in zip(ms, obf, strict=True)]


def add_many(public: PublicKey, a: list[int], b: list[int]) -> list[int]:
    """Position-wise homomorphic addition (D13.3)."""
    return [add(public, x, y) for x, y in zip(a, b, strict=True)]


def decrypt_many(private: PrivateKey, cts: list[int]) -> list[int]:
    """C13.4 for each ciphertext, in order."""
    return [decrypt(private, c) for c in cts]


REFERENCE = Backend(Packing, encrypt_many, check_ciphertexts, add_many, decrypt_many)


def ciphertext_width(public: PublicKey) -> int:
    """D14.4: bytes per ciphertext on the wire, enough for any value below n^2."""
    return (public.n_squared.bit_length() + 7) // 8


def pack_ciphertexts(cts: Sequence[int], width: int) -> bytes:
    """D14.4: each ciphertext as ``width`` bytes, little-endian, in order."""
    return b"".join(c.to_bytes(width, "little") for c in cts)


def unpack_ciphertexts(
    function: str, public: PublicKey, payload: Payload, count: int, backend: Backend | None = None
) -> list[int]:
    """D14.4 and C14.4: exactly ``count`` valid ciphertexts (C13.8), or ShapeError."""
    width = ciphertext_width(public)
    raw = bytes(payload)
    if len(raw) != count * width:
        raise ShapeError(
            function,
            "payload",
            f"{count} ciphertexts of {width} bytes",
            "C14.4",
            f"{len(raw)} bytes",
        )
    cts = [int.from_bytes(raw[i : i + width], "little") for i in range(0, len(raw), width)]
    (backend or REFERENCE).check_many(function, public, cts)
    return cts


def sum_valid(
    public: PublicKey, payloads: Mapping[int, Payload], count: int, backend: Backend = REFERENCE
) -> tuple[list[int], dict[int, str]]:
    """P14.3 step 2 and C14.4: the position-wise product of the valid workers' ciphertexts,
    and the reason each invalid worker was left out (its message parsed and checked alone)."""
    parsed: dict[int, list[int]] = {}
    rejected: dict[int, str] = {}
    for i, payload in sorted(payloads.items()):
        try:
            parsed[i] = unpack_ciphertexts("encrypted_average", public, payload, count, backend)
        except SpecError as err:
            rejected[i] = f"S: malformed ciphertexts: {err}"
    total: list[int] = []
    for i in sorted(parsed):
        total = parsed[i] if not total else backend.add_many(public, total, parsed[i])
    return total, rejected


def worker_ciphertexts(
    index: int,
    x: Sequence[float],
    packing: Packing,
    private: PrivateKey,
    *,
    rng: RandomSource,
    backend: Backend = REFERENCE,
    base: int | None = None,
) -> Message:
    """P14.3 step 1: worker i's packed, encrypted update (workers hold the shared key)."""
    cts = backend.encrypt_many(private, packing.pack(x), rng=rng, base=base)
    width = ciphertext_width(private.public)
    return Message(worker_name(index), "S", "ciphertexts", pack_ciphertexts(cts, width))


def encrypted_average(
    inputs: Any,
    *,
    public: PublicKey,
    private: PrivateKey,
    rng: RandomSource,
    frac_bits: int = 16,
    int_bits: int = 8,
    tamper: Tamper | None = None,
    backend: Backend = REFERENCE,
    short_exponent_base: int | None = None,
    processes: int = 1,
) -> AveragingResult:
    """Implements P14.3 (with ``short_exponent_base``, the option of D13.5 for step 1).

    ``processes`` (C0.2) is checked and otherwise unused: this tree runs in one process, and
    the optimized tree's ``backend`` carries its own number of processes.

    1. Worker i packs x_i for N = n summands (P14.1), encrypts every plaintext drawing from
       rng.derive("worker/<i>"), and sends the ciphertexts to the server S.
    2. S keeps the workers with exactly one message of the right size whose ciphertexts are
       all valid (C14.4), multiplies their ciphertexts position by position and sends the
       products to every kept worker.
    3. The workers decrypt, unpack with count = |V| (P14.2) and divide by |V|.
    """
    check_processes("encrypted_average", processes)
    n = len(inputs)
    if n == 0:
        raise ShapeError("encrypted_average", "inputs", "at least one worker", "P14.3", "n=0")
    if short_exponent_base is not None:
        # A bad option is the caller's error, not a worker's: refuse it before any worker runs.
        # The workers hold the key, so the n-th residue test of C13.11 runs too.
        check_short_exponent_base("encrypted_average", public, short_exponent_base, private)
    d = len(inputs[0])
    packing = backend.packing(public.bits, n, frac_bits, int_bits)
    count = packing.plaintext_count(d)
    channel = Channel()
    clock = PhaseClock()
    errors: dict[int, str] = {}
    outgoing = []
    for i, x in enumerate(inputs):
        try:
            if len(x) != d:
                raise ShapeError(
                    "encrypted_average",
                    f"inputs[{i}]",
                    f"length d={d}",
                    "P14.3",
                    f"length {len(x)}",
                )
            outgoing.append(
                worker_ciphertexts(
                    i,
                    x,
                    packing,
                    private,
                    rng=rng.derive(f"worker/{i}"),
                    backend=backend,
                    base=short_exponent_base,
                )
            )
        except SpecError as err:
            errors[i] = f"{worker_name(i)}: input rejected before encryption: {err.public_reason()}"
    for m in tamper(outgoing) if tamper is not None else outgoing:
        channel.deliver(m)
    clock.lap("encrypt")

    # Step 2: validation, then the homomorphic sum.
    received: dict[str, list[Message]] = {}
    for m in channel.receive("S", "ciphertexts"):
        received.setdefault(m.sender, []).append(m)
    payloads: dict[int, Payload] = {}
    for i in range(n):
        got = received.get(worker_name(i), [])
        if i in errors:
            continue
        if len(got) != 1:
            errors[i] = f"S: {len(got)} ciphertext messages, need exactly one (C14.4)"
            continue
        payloads[i] = got[0].payload
    total, rejected = (backend.sum_valid or sum_valid)(public, payloads, count, backend)
    errors.update(rejected)
    valid = sorted(set(payloads) - set(rejected))
    if not valid:
        raise InsufficientWorkersError(
            "encrypted_average",
            "n",
            "at least one valid worker",
            "C14.4",
            f"0 valid of n={n}; excluded: {errors}",
        )
    payload = pack_ciphertexts(total, ciphertext_width(public))
    for i in valid:
        channel.send("S", worker_name(i), "aggregate", payload)
    clock.lap("aggregate")

    # Step 3: decryption (every kept worker obtains the same result; it is computed once).
    sums = packing.unpack(backend.decrypt_many(private, total), len(valid), d)
    mean = [float(s) / len(valid) for s in sums]
    clock.lap("decrypt")
    return AveragingResult(
        mean, valid, {i: errors[i] for i in sorted(errors)}, channel, n, d, clock.seconds
    )
