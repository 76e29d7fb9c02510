"""Per-party certificates for the deployment's mutual TLS (D23.3, C23.2).

``make_certificates`` issues, for trying a deployment out, a CA and one key and certificate
per party with ``cryptography`` (EC P-256, which gRPC's TLS accepts everywhere); an operator
may supply their own files instead. A party's certificate names it in lower case (``s0``,
``s1``, ``dealer``, ``w<i>``) as its common name and as a DNS name; messages name it as
D7.1 does (``S0``, ``S1``, ``dealer``, ``W<i>``). ``server_credentials`` and
``channel_credentials`` turn loaded files into gRPC credentials (the ``net`` extra).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from sbrml.core.errors import ParameterError, shown
from sbrml.extras import require

__all__ = [
    "VALID_DAYS",
    "Credentials",
    "PartyFiles",
    "cert_name",
    "channel_credentials",
    "load_credentials",
    "make_certificates",
    "party_of",
    "server_credentials",
]

VALID_DAYS = 30
_PARTY = re.compile(r"s[01]|dealer|w(?:0|[1-9][0-9]{0,8})", re.IGNORECASE)


def party_of(name: str) -> str | None:
    """D23.3: the party a name denotes, in D7.1's spelling (``S0``, ``S1``, ``dealer``,
    ``W<i>``), whatever its case (``s0``, ``w3`` as certificates spell them); None if the
    name denotes no party."""
    if not isinstance(name, str) or not _PARTY.fullmatch(name):
        return None
    low = name.lower()
    return low if low == "dealer" else low.upper()


def cert_name(party: str) -> str:
    """D23.3: the name a party's certificate carries (``s0``, ``w3``): ``party`` in lower
    case; ParameterError (D23.3) unless it is ``S0``, ``S1``, ``dealer`` or ``W<i>``."""
    canonical = party_of(party)
    if canonical is None:
        raise ParameterError(
            "cert_name", "party", "one of S0, S1, dealer, W<i> (D7.1)", "D23.3", shown(party)
        )
    return canonical.lower()


@dataclass(frozen=True)
class PartyFiles:
    """The three files a party needs: the CA certificate, its certificate and its key."""

    ca: Path
    cert: Path
    key: Path


def _write(path: Path, data: bytes, mode: int) -> None:
    # The key is created with its final mode, never readable by others even for a moment;
    # an existing file is truncated and its mode set again.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.fchmod(fd, mode)
        os.write(fd, data)
    finally:
        os.close(fd)


def _pem_key(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def make_certificates(
    directory: str | os.PathLike[str],
    parties: Iterable[str],
    *,
    days: int = VALID_DAYS,
    now: datetime.datetime | None = None,
) -> dict[str, PartyFiles]:
    """D23.3: issue a CA and one certificate per party into ``directory``, for trying out.

    Writes ``ca.pem``, and per party ``<name>.pem`` and ``<name>.key`` (mode 0600) with
    ``<name> = cert_name(party)``: EC P-256 keys, the party's name as common name, DNS names
    ``<name>`` and ``localhost`` and IP 127.0.0.1, usable as TLS server and client, valid
    ``days`` days from ``now`` (default: the current time; five minutes earlier, for clock
    skew). The CA's key is not kept: no one can issue another certificate for the
    deployment afterwards. Returns party -> its files. ParameterError (D23.3) for a party
    name that is not S0, S1, dealer or W<i>, or a repeated one.
    """
    wanted = list(parties)
    names = [cert_name(p) for p in wanted]
    if len(set(names)) != len(names) or not names:
        raise ParameterError(
            "make_certificates",
            "parties",
            "distinct party names, at least one",
            "D23.3",
            shown(wanted),
        )
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ParameterError("make_certificates", "days", "an int >= 1", "D23.3", shown(days))
    start = (now or datetime.datetime.now(datetime.UTC)) - datetime.timedelta(minutes=5)
    end = start + datetime.timedelta(days=days, minutes=5)
    out = Path(directory)
    out.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sbrml deployment CA")])
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    ca_path = out / "ca.pem"
    _write(ca_path, ca_cert.public_bytes(serialization.Encoding.PEM), 0o644)
    ski = ca_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    files: dict[str, PartyFiles] = {}
    for name in names:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
            .issuer_name(ca_name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(
                x509.SubjectAlternativeName(
                    [
                        x509.DNSName(name),
                        x509.DNSName("localhost"),
                        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                    ]
                ),
                critical=False,
            )
            .add_extension(
                x509.ExtendedKeyUsage(
                    [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
                ),
                critical=False,
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), False
            )
            .sign(ca_key, hashes.SHA256())
        )
        paths = PartyFiles(ca_path, out / f"{name}.pem", out / f"{name}.key")
        _write(paths.key, _pem_key(key), 0o600)
        _write(paths.cert, cert.public_bytes(serialization.Encoding.PEM), 0o644)
        files[str(party_of(name))] = paths
    return files


@dataclass(frozen=True)
class Credentials:
    """A party's TLS material as PEM bytes: the CA's certificate, its own certificate and
    key, and the party its certificate names (D7.1 spelling)."""

    party: str
    ca: bytes
    cert: bytes
    key: bytes = field(repr=False)


def _read(parameter: str, path: str | os.PathLike[str]) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ParameterError(
            "load_credentials", parameter, "a readable PEM file", "D23.4", f"{path}: {error}"
        ) from None


def load_credentials(
    ca: str | os.PathLike[str],
    cert: str | os.PathLike[str],
    key: str | os.PathLike[str],
    *,
    party: str | None = None,
) -> Credentials:
    """D23.3: read a party's three PEM files; the party is the one its certificate's common
    name names. ParameterError (D23.4) for a file that cannot be read or parsed; (C23.2)
    for a certificate that names no party, or another party than ``party`` when given."""
    raw = _read("ca", ca), _read("cert", cert), _read("key", key)
    try:
        x509.load_pem_x509_certificate(raw[0])
        mine = x509.load_pem_x509_certificate(raw[1])
        serialization.load_pem_private_key(raw[2], password=None)
    except (ValueError, TypeError) as error:
        raise ParameterError(
            "load_credentials",
            "ca/cert/key",
            "PEM certificates and an unencrypted PEM key",
            "D23.4",
            f"{error}",
        ) from None
    common = mine.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    name = str(common[0].value) if common else ""
    named = party_of(name)
    if named is None or name != name.lower() or (party is not None and named != party_of(party)):
        raise ParameterError(
            "load_credentials",
            "cert",
            f"a certificate naming {party if party is not None else 'a party'} in lower case",
            "C23.2",
            f"common name {shown(name)}",
        )
    return Credentials(named, *raw)


def server_credentials(credentials: Credentials) -> Any:
    """D23.3, C23.2: gRPC server credentials that present ``credentials`` and require every
    client to present a certificate issued by the CA (mutual TLS)."""
    grpc = _grpc()
    return grpc.ssl_server_credentials(
        [(credentials.key, credentials.cert)],
        root_certificates=credentials.ca,
        require_client_auth=True,
    )


def channel_credentials(credentials: Credentials) -> Any:
    """D23.3: gRPC client credentials presenting ``credentials`` and trusting only the CA."""
    grpc = _grpc()
    return grpc.ssl_channel_credentials(
        root_certificates=credentials.ca,
        private_key=credentials.key,
        certificate_chain=credentials.cert,
    )


def _grpc() -> Any:
    require("net", "sbrml.net.tls")
    import grpc

    return grpc
