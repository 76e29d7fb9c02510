"""Section 23's certificates (D23.3): what make_certificates issues and what
load_credentials accepts (C23.2)."""

from __future__ import annotations

import datetime
import ipaddress
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from sbrml.core.errors import ParameterError
from sbrml.net.tls import cert_name, load_credentials, make_certificates, party_of


@pytest.mark.spec("D23.3")
def test_party_names_and_certificate_names() -> None:
    assert [cert_name(p) for p in ("S0", "S1", "dealer", "W0", "W12")] == [
        "s0",
        "s1",
        "dealer",
        "w0",
        "w12",
    ]
    assert [party_of(n) for n in ("s0", "S1", "dealer", "w7", "W7")] == [
        "S0",
        "S1",
        "dealer",
        "W7",
        "W7",
    ]
    for name in ("S2", "W", "W01", "w-1", "ca", "", "s0 "):
        assert party_of(name) is None
        with pytest.raises(ParameterError, match=r"D23\.3"):
            cert_name(name)


@pytest.mark.spec("D23.3")
def test_make_certificates_issues_one_named_certificate_per_party(tmp_path: Path) -> None:
    now = datetime.datetime(2030, 1, 2, tzinfo=datetime.UTC)
    files = make_certificates(tmp_path, ["S0", "W3", "dealer"], now=now)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ca.pem",
        "dealer.key",
        "dealer.pem",
        "s0.key",
        "s0.pem",
        "w3.key",
        "w3.pem",
    ]  # no CA key: nobody can issue another party afterwards
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.pem").read_bytes())
    for party, name in (("S0", "s0"), ("W3", "w3"), ("dealer", "dealer")):
        paths = files[party]
        assert stat.S_IMODE(paths.key.stat().st_mode) == 0o600
        cert = x509.load_pem_x509_certificate(paths.cert.read_bytes())
        cert.verify_directly_issued_by(ca)
        assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == name
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        assert san.get_values_for_type(x509.DNSName) == [name, "localhost"]
        assert san.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("127.0.0.1")]
        assert cert.not_valid_after_utc - now == datetime.timedelta(days=30)
        assert cert.not_valid_before_utc < now
        assert load_credentials(paths.ca, paths.cert, paths.key, party=party).party == party


@pytest.mark.spec("D23.3")
def test_make_certificates_refuses_unknown_or_repeated_parties(tmp_path: Path) -> None:
    for parties in (["S0", "S7"], ["S0", "s0"], []):
        with pytest.raises(ParameterError, match=r"D23\.3"):
            make_certificates(tmp_path, parties)


@pytest.mark.spec("C23.2")
def test_load_credentials_checks_the_party_and_the_files(tmp_path: Path) -> None:
    files = make_certificates(tmp_path, ["W0", "W1"])
    w0, w1 = files["W0"], files["W1"]
    with pytest.raises(ParameterError, match=r"naming W0.*\(C23\.2\); got common name 'w1'"):
        load_credentials(w1.ca, w1.cert, w1.key, party="W0")
    with pytest.raises(ParameterError, match=r"cert: .*\(D23\.4\)"):
        load_credentials(w0.ca, tmp_path / "absent.pem", w0.key)
    with pytest.raises(ParameterError, match=r"\(D23\.4\)"):
        load_credentials(w0.ca, w0.key, w0.key)  # a key where the certificate belongs
