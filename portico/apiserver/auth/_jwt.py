"""Compact JWS with ES256 over the cluster's service-account key (RFC 7515/7518).

The key is ECDSA P-256 (`D/pki/sa.key`, made once), its `kid` the unpadded
base64url SHA-256 of the DER public key, as kube-apiserver derives key IDs; the
public key is published as a JWK (`jwks()`), so anyone holding the JWKS can verify
tokens (OIDC discovery). `verify` checks the signature only; claims are the
caller's business.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

ALGORITHM = "ES256"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class InvalidToken(Exception):
    """Not a JWT this cluster signed."""


class SigningKey:
    def __init__(self, key: ec.EllipticCurvePrivateKey) -> None:
        self._key = key
        self.public = key.public_key()
        der = self.public.public_bytes(serialization.Encoding.DER,
                                       serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = _b64(hashlib.sha256(der).digest())
        self._header = _b64(orjson.dumps({"alg": ALGORITHM, "kid": self.kid}))

    @classmethod
    def load_or_create(cls, path: Path) -> SigningKey:
        if not path.exists():
            key = ec.generate_private_key(ec.SECP256R1())
            pem = key.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(pem)
        loaded = serialization.load_pem_private_key(path.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        return cls(loaded)

    def sign(self, claims: dict[str, Any]) -> str:
        signing_input = f"{self._header}.{_b64(orjson.dumps(claims))}"
        r, s = decode_dss_signature(self._key.sign(signing_input.encode(),
                                                   ec.ECDSA(hashes.SHA256())))
        return f"{signing_input}.{_b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"

    def verify(self, token: str) -> dict[str, Any]:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidToken("not a compact JWS")
        try:
            header = orjson.loads(_unb64(parts[0]))
            signature = _unb64(parts[2])
        except (ValueError, orjson.JSONDecodeError) as exc:
            raise InvalidToken(str(exc)) from exc
        if not isinstance(header, dict) or header.get("alg") != ALGORITHM or len(signature) != 64:
            raise InvalidToken("unexpected algorithm")
        der = encode_dss_signature(int.from_bytes(signature[:32], "big"),
                                   int.from_bytes(signature[32:], "big"))
        try:
            self.public.verify(der, f"{parts[0]}.{parts[1]}".encode(), ec.ECDSA(hashes.SHA256()))
            claims = orjson.loads(_unb64(parts[1]))
        except (InvalidSignature, ValueError, orjson.JSONDecodeError) as exc:
            raise InvalidToken("invalid signature") from exc
        if not isinstance(claims, dict):
            raise InvalidToken("claims are not an object")
        return claims

    def jwks(self) -> dict[str, Any]:
        numbers = self.public.public_numbers()
        return {"keys": [{"use": "sig", "kty": "EC", "kid": self.kid, "crv": "P-256",
                          "alg": ALGORITHM, "x": _b64(numbers.x.to_bytes(32, "big")),
                          "y": _b64(numbers.y.to_bytes(32, "big"))}]}
