"""TLS material: Secrets -> PEM files HAProxy loads, and the self-signed default certificate.

A `kubernetes.io/tls` Secret holds `tls.crt` (a chain) and `tls.key`, base64
in `data`. HAProxy wants one PEM file with the certificate(s) and the key, and
no blank lines (the runtime API's `<<` payload ends at the first empty line).
`pem_from_secret` returns that text or raises `ValueError` with the reason, so
the controller can report it on the Ingress.

The default certificate is served for names no Ingress has a certificate for,
as ingress-nginx's "Kubernetes Ingress Controller Fake Certificate". It is
generated once per controller process with `cryptography` (EC P-256, one year).
"""

from __future__ import annotations

import base64
import datetime

from portico.ingress.model import Obj

TLS_TYPE = "kubernetes.io/tls"
FAKE_CN = "Kubernetes Ingress Controller Fake Certificate"


def _field(secret: Obj, key: str) -> str:
    raw = (secret.get("data") or {}).get(key)
    if raw is None:
        text = (secret.get("stringData") or {}).get(key)
        if text is None:
            raise ValueError(f"has no {key}")
        return str(text)
    return base64.b64decode(raw).decode("ascii", "replace")


def _clean(pem: str) -> str:
    return "\n".join(line.strip() for line in pem.splitlines() if line.strip())


def pem_from_secret(secret: Obj) -> str:
    """Certificate chain + key as one PEM text with no blank lines, ending in a newline."""
    kind = secret.get("type")
    if kind not in (TLS_TYPE, None, "Opaque"):
        raise ValueError(f"is of type {kind}, not {TLS_TYPE}")
    crt, key = _clean(_field(secret, "tls.crt")), _clean(_field(secret, "tls.key"))
    if "-----BEGIN CERTIFICATE-----" not in crt:
        raise ValueError("tls.crt holds no PEM certificate")
    if "PRIVATE KEY-----" not in key:
        raise ValueError("tls.key holds no PEM private key")
    _check_pair(crt, key)
    return f"{crt}\n{key}\n"


def _check_pair(crt: str, key: str) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    try:
        cert = x509.load_pem_x509_certificate(crt.encode())
        private = serialization.load_pem_private_key(key.encode(), password=None)
    except ValueError as exc:
        raise ValueError(f"cannot be parsed ({exc})") from None
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    encoding = serialization.Encoding.DER
    if cert.public_key().public_bytes(encoding, public) != \
            private.public_key().public_bytes(encoding, public):
        raise ValueError("tls.key does not match tls.crt")


def self_signed(common_name: str = FAKE_CN, hosts: tuple[str, ...] = (),
                days: int = 365) -> tuple[str, str]:
    """A fresh self-signed (certificate PEM, key PEM) for `common_name` (+ SAN `hosts`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name),
                      x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Portico")])
    now = datetime.datetime.now(datetime.UTC)
    builder = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
               .public_key(key.public_key()).serial_number(x509.random_serial_number())
               .not_valid_before(now - datetime.timedelta(minutes=5))
               .not_valid_after(now + datetime.timedelta(days=days)))
    if hosts:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), critical=False)
    cert = builder.sign(key, hashes.SHA256())
    crt_pem = cert.public_bytes(serialization.Encoding.PEM).decode()
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return crt_pem, key_pem

