"""Beaver material without a dealer, generated with Paillier (spec/15-paillier-triples.md).

Every triple reduces to cross products of a value S0 holds with a value S1 holds. S0 sends
its values encrypted under its own key; S1 multiplies homomorphically, adds a statistical
mask rho and returns the result; S0 decrypts t = cross + rho, an integer below n, and keeps
t mod 2^64 while S1 keeps -rho mod 2^64.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sbrml.core.channel import Channel
from sbrml.core.errors import ParameterError, shown
from sbrml.core.params import RING_BITS, check_processes
from sbrml.reference.beaver import (
    GramShares,
    Matrix,
    SquareShares,
    TripleShares,
    gram,
    mat_add,
    transpose,
)
from sbrml.reference.he_averaging import ciphertext_width, pack_ciphertexts, unpack_ciphertexts
from sbrml.reference.paillier import (
    DEFAULT_BITS,
    PrivateKey,
    PublicKey,
    add,
    check_short_exponent_base,
    decrypt,
    encrypt,
    encrypt_with_obfuscator,
    generate_keypair,
    key_holder_obfuscators,
    mul_scalar,
    short_exponent_base,
    short_exponent_obfuscators,
)
from sbrml.reference.randomness import RandomSource, ring_elements

MASK = (1 << RING_BITS) - 1
DEFAULT_SIGMA = 40
OBFUSCATORS = ("key-holder", "short-exponent")


def mask_bits(terms: int, sigma: int) -> int:
    """Implements C15.2: rho is drawn below 2^(128 + bitlength(terms) + sigma)."""
    return 2 * RING_BITS + terms.bit_length() + sigma


def draw_masks(rng: RandomSource, count: int, bits: int) -> list[int]:
    """C15.2: ``count`` masks, each ceil(bits/8) LE bytes reduced to ``bits`` bits (uniform)."""
    nbytes = -(-bits // 8)
    return [
        int.from_bytes(rng.random_bytes(nbytes), "little") & ((1 << bits) - 1) for _ in range(count)
    ]


def row_groups(rows: int, slots: int) -> list[range]:
    """P15.1: rows cut into groups of ``slots`` consecutive rows (the last may be shorter)."""
    return [range(g, min(g + slots, rows)) for g in range(0, rows, slots)]


def pack_slots(values: Sequence[int], width: int) -> int:
    """P15.1: value ``t`` of a group goes to slot ``t``, at bit ``t * width``."""
    return sum(v << (width * t) for t, v in enumerate(values))


def slot_values(packed: int, width: int, count: int) -> list[int]:
    """P15.1 step 3: the ``count`` slots of ``packed`` (each below 2^width, so none carried)."""
    return [(packed >> (width * t)) & ((1 << width) - 1) for t in range(count)]


class PaillierSetup:
    """Implements D15.1: the key, the two parties' streams and the checks of C15.2.

    S0 generates a key pair from ``rng.derive("S0/paillier")`` when the provider is built and
    sends n to S1. S0 draws its shares and encryption randomness from that stream; S1 draws
    from ``rng.derive("S1/paillier")``. Both trees' providers build on this class.
    """

    # The optimized tree plugs in its gmpy2 key search (the same key from the same stream).
    keygen: Callable[..., tuple[PublicKey, PrivateKey]] = staticmethod(generate_keypair)

    def __init__(
        self,
        *,
        rng: RandomSource,
        bits: int = DEFAULT_BITS,
        sigma: int = DEFAULT_SIGMA,
        insecure_test: bool = False,
        obfuscators: str = "key-holder",
        processes: int = 1,
    ):
        if obfuscators not in OBFUSCATORS:
            raise ParameterError(
                "PaillierTripleProvider",
                "obfuscators",
                " or ".join(repr(o) for o in OBFUSCATORS),
                "D15.1",
                shown(obfuscators),
            )
        if (
            isinstance(sigma, bool)
            or not isinstance(sigma, int)
            or (sigma < 40 and not insecure_test)
        ):
            raise ParameterError(
                "PaillierTripleProvider", "sigma", "an int >= 40", "C15.2", shown(sigma)
            )
        check_processes("PaillierTripleProvider", processes)
        # C0.2: the optimized tree spreads its exponentiations over at most this many
        # processes; the reference runs in one.
        self.processes = processes
        self.sigma = sigma
        self._s0 = rng.derive("S0/paillier")
        self._s1 = rng.derive("S1/paillier")
        self.public, self._private = self.keygen(bits, rng=self._s0, insecure_test=insecure_test)
        self.obfuscators = obfuscators
        # D15.1: with the option, S0 draws the public base h right after the key (D13.5).
        self.base = (
            short_exponent_base(self.public, rng=self._s0)
            if obfuscators == "short-exponent"
            else None
        )
        if self.base is not None:
            # C13.11: S0 holds the key, so it runs every check (the n-th residue test too) on
            # its base before publishing it; a toy key can fail them (C13.11 says why).
            check_short_exponent_base(
                "PaillierTripleProvider", self.public, self.base, self._private
            )
        self._key_sent = False

    def _send_key(self, channel: Channel) -> None:
        # P15.2 step 0: the first request carries S0's public key to S1.
        if not self._key_sent:
            raw = self.public.n.to_bytes(-(-self.public.n.bit_length() // 8), "little")
            if self.base is not None:
                raw += self.base.to_bytes(ciphertext_width(self.public), "little")
            channel.send("S0", "S1", "offline/paillier-key", raw)
            self._key_sent = True

    def _check_room(self, terms: int) -> int:
        bits = mask_bits(terms, self.sigma)
        # C15.2: cross + rho < 2^(bits + 1) must stay below n, so decryption sees the integer.
        if bits + 1 >= self.public.n.bit_length():
            raise ParameterError(
                "PaillierTripleProvider",
                "bits",
                f"a modulus above 2^{bits + 1}",
                "C15.2",
                f"{self.public.n.bit_length()}-bit n for {terms} terms and "
                f"sigma={shown(self.sigma)}",
            )
        return bits

    def slot_layout(self, terms: int) -> tuple[int, int, int]:
        """P15.1: (mask bits kappa, slot width w = kappa + 1, slots per plaintext s)."""
        bits = self._check_room(terms)
        width = bits + 1
        return bits, width, (self.public.n.bit_length() - 1) // width


class PaillierTripleProvider(PaillierSetup):
    """Implements P15.2: the triple provider interface of D4.4, without a dealer."""

    def _encrypt_s0(self, values: list[int]) -> list[int]:
        # S0 holds the key: key-holder obfuscators (D13.4) from its stream, in order, or the
        # option's short-exponent ones (D13.5).
        if self.base is None:
            obf = key_holder_obfuscators(self._private, len(values), rng=self._s0)
        else:
            obf = short_exponent_obfuscators(self.public, self.base, len(values), rng=self._s0)
        return [
            encrypt_with_obfuscator(self.public, m, o) for m, o in zip(values, obf, strict=True)
        ]

    def _encrypt_s1(self, values: list[int]) -> list[int]:
        # S1 has only the public key: r drawn by C13.3 per value, or the option's D13.5.
        if self.base is None:
            return [encrypt(self.public, m, rng=self._s1) for m in values]
        obf = short_exponent_obfuscators(self.public, self.base, len(values), rng=self._s1)
        return [
            encrypt_with_obfuscator(self.public, m, o) for m, o in zip(values, obf, strict=True)
        ]

    def cross(
        self, u: Sequence[Sequence[int]], v: Sequence[Sequence[int]], *, channel: Channel
    ) -> tuple[Matrix, Matrix]:
        """Implements P15.1: shares of U V^T mod 2^64, U at S0 (r x d), V at S1 (c x d)."""
        self._send_key(channel)
        pk = self.public
        width = ciphertext_width(pk)
        rows, cols = len(u), len(v)
        d = len(u[0]) if u else 0
        bits, slot, slots = self.slot_layout(max(d, 1))
        groups = row_groups(rows, slots)
        # Step 1 (S0): encrypt column k of each row group, packed one row per slot.
        enc_u = self._encrypt_s0(
            [pack_slots([u[i][k] for i in group], slot) for group in groups for k in range(d)]
        )
        channel.send("S0", "S1", "offline/cross-enc", pack_ciphertexts(enc_u, width))
        # Step 2 (S1): E_gj = Enc(R_gj) * prod_k Enc(P_gk)^(V_jk), R_gj the packed masks.
        rho = draw_masks(self._s1, rows * cols, bits)
        enc_rho = self._encrypt_s1(
            [
                pack_slots([rho[i * cols + j] for i in group], slot)
                for group in groups
                for j in range(cols)
            ]
        )
        masked = []
        for g in range(len(groups)):
            column_cts = enc_u[g * d : (g + 1) * d]
            for j, vrow in enumerate(v):
                acc = enc_rho[g * cols + j]
                for c, vk in zip(column_cts, vrow, strict=True):
                    acc = add(pk, acc, mul_scalar(pk, c, vk))
                masked.append(acc)
        payload = pack_ciphertexts(masked, width)
        channel.send("S1", "S0", "offline/cross-masked", payload)
        # Step 3 (S0): validate (C13.8), decrypt exactly (C15.2), read the slots t_ij; S0 keeps
        # t_ij mod 2^64, S1 keeps -rho_ij mod 2^64.
        received = unpack_ciphertexts("PaillierTripleProvider", pk, payload, len(masked))
        share0 = [[0] * cols for _ in range(rows)]
        for g, group in enumerate(groups):
            for j in range(cols):
                t = slot_values(decrypt(self._private, received[g * cols + j]), slot, len(group))
                for i, value in zip(group, t, strict=True):
                    share0[i][j] = value & MASK
        share1 = [[-rho[i * cols + j] & MASK for j in range(cols)] for i in range(rows)]
        return share0, share1

    def _elementwise(
        self, u: Sequence[int], v: Sequence[int], channel: Channel
    ) -> tuple[list[int], list[int]]:
        """Implements P15.3: shares of u_t v_t mod 2^64, s elements per returned ciphertext."""
        pk = self.public
        width = ciphertext_width(pk)
        bits, slot, slots = self.slot_layout(1)
        groups = row_groups(len(u), slots)
        # Step 1 (S0): u_t shifted to its slot, then encrypted, one ciphertext per element.
        enc = self._encrypt_s0([u[t] << (slot * (t - g.start)) for g in groups for t in g])
        channel.send("S0", "S1", "offline/cross-enc", pack_ciphertexts(enc, width))
        # Step 2 (S1): E_g = Enc(R_g) * prod_t C_t^(v_t), R_g the packed masks of group g.
        rho = draw_masks(self._s1, len(u), bits)
        enc_rho = self._encrypt_s1([pack_slots([rho[t] for t in g], slot) for g in groups])
        masked = []
        for g, acc in zip(groups, enc_rho, strict=True):
            for t in g:
                acc = add(pk, acc, mul_scalar(pk, enc[t], v[t]))
            masked.append(acc)
        payload = pack_ciphertexts(masked, width)
        channel.send("S1", "S0", "offline/cross-masked", payload)
        # Step 3 (S0): validate, decrypt, read the slots.
        received = unpack_ciphertexts("PaillierTripleProvider", pk, payload, len(masked))
        t_all = [
            x
            for g, c in zip(groups, received, strict=True)
            for x in slot_values(decrypt(self._private, c), slot, len(g))
        ]
        return [x & MASK for x in t_all], [-r & MASK for r in rho]

    def scalar_triples(self, count: int, *, channel: Channel) -> tuple[TripleShares, TripleShares]:
        """P15.2 (a): c^s = a^s b^s + shares of a^0 b^1 and of b^0 a^1."""
        self._send_key(channel)
        a0, b0 = ring_elements(self._s0, count), ring_elements(self._s0, count)
        a1, b1 = ring_elements(self._s1, count), ring_elements(self._s1, count)
        x0, x1 = self._elementwise(a0, b1, channel)
        y0, y1 = self._elementwise(b0, a1, channel)
        c0 = [(a * b + x + y) & MASK for a, b, x, y in zip(a0, b0, x0, y0, strict=True)]
        c1 = [(a * b + x + y) & MASK for a, b, x, y in zip(a1, b1, x1, y1, strict=True)]
        return TripleShares(a0, b0, c0), TripleShares(a1, b1, c1)

    def square_pairs(self, count: int, *, channel: Channel) -> tuple[SquareShares, SquareShares]:
        """P15.2 (b): b^s = (a^s)^2 + 2 (share of a^0 a^1)."""
        self._send_key(channel)
        a0, a1 = ring_elements(self._s0, count), ring_elements(self._s1, count)
        x0, x1 = self._elementwise(a0, a1, channel)
        b0 = [(a * a + 2 * x) & MASK for a, x in zip(a0, x0, strict=True)]
        b1 = [(a * a + 2 * x) & MASK for a, x in zip(a1, x1, strict=True)]
        return SquareShares(a0, b0), SquareShares(a1, b1)

    def gram_triple(
        self, rows: int, cols: int, *, channel: Channel
    ) -> tuple[GramShares, GramShares]:
        """P15.2 (c): C^s = A^s (A^s)^T + M^s + (M^s)^T with M = A^0 (A^1)^T shared by P15.1."""
        self._send_key(channel)
        flat0, flat1 = ring_elements(self._s0, rows * cols), ring_elements(self._s1, rows * cols)
        a0 = [flat0[i * cols : (i + 1) * cols] for i in range(rows)]
        a1 = [flat1[i * cols : (i + 1) * cols] for i in range(rows)]
        m0, m1 = self.cross(a0, a1, channel=channel)
        c0 = mat_add(mat_add(gram(a0, a0), m0), transpose(m0))
        c1 = mat_add(mat_add(gram(a1, a1), m1), transpose(m1))
        return GramShares(a0, c0), GramShares(a1, c1)
