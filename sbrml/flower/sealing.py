"""A worker's share sealed to one server's key, so that it reaches only that server even though
every Flower message passes the SuperLink and the ServerApp (issue 17; P8.1 step 1).

``seal`` is a one-pass public-key encryption in the shape of HPKE's base mode (RFC 9180) and
libsodium's sealed boxes, built from the primitives of the ``cryptography`` package that the
protocols already need:

1. The worker draws an ephemeral X25519 key ``e`` (32 bytes from its ``rng``) and computes
   ``k = X25519(e, pk_s)`` with server ``s``'s public key ``pk_s``.
2. ``key = HKDF-SHA256(k, salt = epk || pk_s, info = "sbrml-flower-seal-v1")``, 32 bytes,
   where ``epk`` is ``e``'s public key: the key is bound to both public keys.
3. The sealed message is ``epk || ChaCha20-Poly1305(key, nonce = 0^12, share, aad)``. The
   nonce may be constant because every key is used once (a fresh ``e`` per message).

``aad`` binds the ciphertext to its context (run, round, node and server: ``share_context``),
so a relay cannot replay it in another round, to another server or as another node's share;
``open_sealed`` raises ``MalformedShareError`` (C8.3: the server then has no well-formed share
of that worker and the round excludes it) for any ciphertext that does not authenticate.

What it does not do: authenticate the server's public key. The keys reach the workers in the
training instruction, through the SuperLink; a deployment must pin them instead (e.g. check
them against the deployment CA's certificates of ``s0`` and ``s1``, spec D23.3), or the relay
could substitute its own key. Nor does it authenticate the worker: anyone can seal a share
for any node id. The node id in ``aad`` is the one the SuperLink reports as the reply's sender
(``src_node_id``), so a share is bound to its sender only as far as the SuperLink authenticates
its SuperNodes (Flower's node authentication); the strategy excludes a node whose replies
conflict (``sbrml.flower.replies``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from sbrml.core.errors import MalformedShareError, ParameterError
from sbrml.core.randomness import RandomSource

__all__ = ["KEY_BYTES", "SEAL_OVERHEAD", "ServerKey", "open_sealed", "seal", "share_context"]

KEY_BYTES = 32
TAG_BYTES = 16
SEAL_OVERHEAD = KEY_BYTES + TAG_BYTES  # epk and the Poly1305 tag
INFO = b"sbrml-flower-seal-v1"
NONCE = bytes(12)


def share_context(run_id: int, server_round: int, node_id: int, server: str) -> bytes:
    """The associated data of one share: the run, the round, the sending node and the server."""
    text = f"sbrml-flower-share-v1|run={run_id}|round={server_round}|node={node_id}|to={server}"
    return text.encode()


def _public_key(function: str, public_key: bytes) -> X25519PublicKey:
    if not isinstance(public_key, bytes) or len(public_key) != KEY_BYTES:
        size = f" of length {len(public_key)}" if isinstance(public_key, bytes) else ""
        raise ParameterError(
            function,
            "public_key",
            f"{KEY_BYTES} bytes (a raw X25519 public key)",
            "C8.3",
            f"{type(public_key).__name__}{size}",
        )
    return X25519PublicKey.from_public_bytes(public_key)


def _key(shared: bytes, epk: bytes, public_key: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=epk + public_key, info=INFO)
    return hkdf.derive(shared)


def seal(share: bytes, public_key: bytes, aad: bytes, *, rng: RandomSource) -> bytes:
    """Seal ``share`` to the holder of ``public_key`` (steps 1-3 of the module docstring).

    ``share``: the share message's payload (P8.1 step 1, ``pack_ring``). Returns
    ``len(share) + SEAL_OVERHEAD`` bytes. ``rng`` gives the ephemeral key (32 bytes).
    Raises ``ParameterError`` for a public key that is not 32 bytes.
    """
    server = _public_key("seal", public_key)
    ephemeral = X25519PrivateKey.from_private_bytes(rng.random_bytes(KEY_BYTES))
    epk = ephemeral.public_key().public_bytes_raw()
    key = _key(ephemeral.exchange(server), epk, public_key)
    return epk + ChaCha20Poly1305(key).encrypt(NONCE, share, aad)


@dataclass(frozen=True)
class ServerKey:
    """One server's X25519 key pair; the private half never leaves the object's holder."""

    _private: X25519PrivateKey = field(repr=False)

    @classmethod
    def generate(cls, *, rng: RandomSource) -> ServerKey:
        """A key pair from 32 bytes of ``rng`` (a server's own source)."""
        return cls(X25519PrivateKey.from_private_bytes(rng.random_bytes(KEY_BYTES)))

    @property
    def public(self) -> bytes:
        """The raw 32-byte public key, as the workers receive it."""
        return self._private.public_key().public_bytes_raw()

    def open(self, sealed: bytes, aad: bytes) -> bytes:
        """``open_sealed`` with this key."""
        return open_sealed(self, sealed, aad)


def open_sealed(key: ServerKey, sealed: bytes, aad: bytes) -> bytes:
    """The share sealed by ``seal`` to ``key``'s public key under ``aad``.

    Raises ``MalformedShareError`` (C8.3) when ``sealed`` is not bytes, is too short, or does
    not authenticate under this key and ``aad`` (another server's share, another round's, a
    modified one); the message says which, never the bytes.
    """
    if not isinstance(sealed, bytes) or len(sealed) < SEAL_OVERHEAD:
        raise MalformedShareError(
            "open_sealed",
            "sealed",
            f"bytes of length >= {SEAL_OVERHEAD}",
            "C8.3",
            f"{type(sealed).__name__}"
            + (f" of length {len(sealed)}" if isinstance(sealed, bytes) else ""),
        )
    epk = sealed[:KEY_BYTES]
    try:
        shared = key._private.exchange(X25519PublicKey.from_public_bytes(epk))
        return ChaCha20Poly1305(_key(shared, epk, key.public)).decrypt(
            NONCE, sealed[KEY_BYTES:], aad
        )
    except (InvalidTag, ValueError) as err:
        # ValueError: an all-zero shared secret (a low-order epk), which X25519 refuses.
        raise MalformedShareError(
            "open_sealed",
            "sealed",
            "a share sealed to this server's key for this run, round and node",
            "C8.3",
            "a ciphertext that does not authenticate",
        ) from err
