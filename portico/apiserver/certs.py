"""The cluster's PKI: a CA, the API server's serving certificate and client credentials.

Generated once at first start into the data directory and reused after, so a
restarted cluster keeps its identity and existing kubeconfigs stay valid.
Keys are ECDSA P-256 (fast to make, accepted by kubectl and the Python client).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

_VALIDITY = datetime.timedelta(days=3650)


@dataclass(frozen=True)
class Pki:
    ca_cert: Path
    ca_key: Path
    serving_cert: Path
    serving_key: Path
    admin_cert: Path
    admin_key: Path


def _name(common_name: str, *organizations: str) -> x509.Name:
    """CN = the user, one O per group (as kube-apiserver's x509 authenticator reads them)."""
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in organizations if o]
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    return x509.Name(attrs)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    data = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))


def _load_key(path: Path) -> ec.EllipticCurvePrivateKey:
    key = serialization.load_pem_private_key(path.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def _issue(subject: x509.Name, key: ec.EllipticCurvePrivateKey, issuer: x509.Name,
           issuer_key: ec.EllipticCurvePrivateKey, *, ca: bool,
           usages: list[x509.ObjectIdentifier] | None = None,
           sans: list[x509.GeneralName] | None = None,
           validity: datetime.timedelta = _VALIDITY) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + validity)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                          content_commitment=False, key_encipherment=False,
                          data_encipherment=False, key_agreement=False, encipher_only=False,
                          decipher_only=False), critical=True)
    if usages:
        builder = builder.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def ensure_pki(directory: Path, hosts: list[str]) -> Pki:
    """Create the CA and certificates in `directory` unless they exist; return their paths."""
    directory.mkdir(parents=True, exist_ok=True)
    pki = load_pki(directory)
    if not pki.ca_cert.exists():
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca_name = _name("portico-ca")
        _write_key(pki.ca_key, ca_key)
        _write_cert(pki.ca_cert, _issue(ca_name, ca_key, ca_name, ca_key, ca=True))
    if not pki.serving_cert.exists() or not _covers(pki.serving_cert, hosts):
        _write_pair(pki.serving_cert, pki.serving_key, *_signed_by_ca(
            pki, _name("kube-apiserver"), ExtendedKeyUsageOID.SERVER_AUTH, hosts))
    if not pki.admin_cert.exists():
        _write_pair(pki.admin_cert, pki.admin_key, *_signed_by_ca(
            pki, _name("kubernetes-admin", "system:masters"), ExtendedKeyUsageOID.CLIENT_AUTH))
    return pki


def _covers(cert_path: Path, hosts: list[str]) -> bool:
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    try:
        names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    have = {str(v) for v in names.get_values_for_type(x509.IPAddress)}
    have |= set(names.get_values_for_type(x509.DNSName))
    return all(h in have for h in hosts)


def _subject_alt_names(hosts: list[str]) -> list[x509.GeneralName]:
    """An IP address SAN for each host that is one, a DNS name SAN for the others."""
    sans: list[x509.GeneralName] = []
    for host in hosts:
        try:
            sans.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            sans.append(x509.DNSName(host))
    return sans


def _signed_by_ca(pki: Pki, subject: x509.Name, usage: x509.ObjectIdentifier,
                  hosts: list[str] | None = None, validity: datetime.timedelta = _VALIDITY,
                  ) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """A new key and its certificate for `subject` (a serving certificate for `hosts`,
    or a client certificate), signed by the cluster CA."""
    ca_key = _load_key(pki.ca_key)
    ca_name = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()).subject
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(subject, key, ca_name, ca_key, ca=False, usages=[usage],
                  sans=_subject_alt_names(hosts or []), validity=validity)
    return cert, key


def _write_pair(cert_path: Path, key_path: Path, cert: x509.Certificate,
                key: ec.EllipticCurvePrivateKey) -> None:
    cert_path.parent.mkdir(parents=True, exist_ok=True)
    _write_key(key_path, key)
    _write_cert(cert_path, cert)


def issue_client_cert(pki: Pki, cert_path: Path, key_path: Path, common_name: str,
                      organization: str = "") -> None:
    """A client certificate signed by the cluster CA (node agents, the kubelet client)."""
    if cert_path.exists() and key_path.exists():
        return
    _write_pair(cert_path, key_path, *_signed_by_ca(
        pki, _name(common_name, organization), ExtendedKeyUsageOID.CLIENT_AUTH))


def user_credentials(pki: Pki, user: str, groups: tuple[str, ...],
                     validity: datetime.timedelta) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) of a user (CN) in groups (O), signed by the cluster CA."""
    cert, key = _signed_by_ca(pki, _name(user, *groups), ExtendedKeyUsageOID.CLIENT_AUTH,
                              validity=validity)
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def issue_serving_cert(pki: Pki, cert_path: Path, key_path: Path, common_name: str,
                       hosts: list[str]) -> None:
    """A serving certificate signed by the cluster CA for `hosts` (IPs or DNS names)."""
    if cert_path.exists() and key_path.exists() and _covers(cert_path, hosts):
        return
    _write_pair(cert_path, key_path, *_signed_by_ca(
        pki, _name(common_name), ExtendedKeyUsageOID.SERVER_AUTH, hosts))


def load_pki(directory: Path) -> Pki:
    """The paths of an existing PKI directory (made by `ensure_pki`)."""
    return Pki(*(directory / n for n in (
        "ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key")))
