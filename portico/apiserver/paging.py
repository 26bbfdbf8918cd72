"""List paging (`limit` / `continue`) tokens, byte-compatible with kube-apiserver's.

Theory of operation
-------------------
A continue token is upstream `storage.EncodeContinue`: unpadded URL-safe base64 of the
JSON `{"v":"meta.k8s.io/v1","rv":<revision>,"start":"<key>"}`, where `rv` is the
store revision the first page was served at and `start` is the storage key (relative
to the resource's key prefix) the next page starts from, inclusive. The next key after
the last returned key `k` is `k + "\\x00"`, so "keys >= start" equals "keys > k".

`decode_continue` is `storage.DecodeContinue` plus the list-option checks of the etcd3
store: garbage gives 400 BadRequest `invalid continue token: continue key is not
valid...` with Go's own inner error text; a start key that is not already a clean
path (`path.Clean`) is refused, so a token can never reach outside the prefix.

A token whose revision is no longer available must give 410 Expired with
`EXPIRED_CONTINUE_MESSAGE` and, like upstream, a fresh token at revision -1 ("continue
from the latest revision, inconsistently") in the Status' `metadata.continue`:
`expired_continue(start)` builds that error. A decoded revision of -1 means exactly that.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from portico.apiserver.errors import StatusError, bad_request, json_kind

__all__ = [
    "CONTINUE_EXPIRED_MESSAGE",
    "EXPIRED_CONTINUE_MESSAGE",
    "RESOURCE_VERSION_WITH_CONTINUE_MESSAGE",
    "ExpiredContinueError",
    "decode_continue",
    "encode_continue",
    "expired_continue",
]

TOKEN_VERSION = "meta.k8s.io/v1"

EXPIRED_CONTINUE_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter, or use the continue token "
    "in this response to retrieve the remainder of the results. Continuing with the "
    "provided token results in an inconsistent list - objects that were created, modified, "
    "or deleted between the time the first chunk was returned and now may show up in the list."
)
# upstream's wording when it cannot mint a replacement token
CONTINUE_EXPIRED_MESSAGE = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter."
)
RESOURCE_VERSION_WITH_CONTINUE_MESSAGE = (
    "specifying resource version is not allowed when using continue"
)

_INVALID = "continue key is not valid"
_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


class _TokenError(Exception):
    """An upstream `DecodeContinue` error; `str()` is its `Error()`."""


def _go_json_string(text: str) -> str:
    """A string as Go's `encoding/json` writes it (HTML-safe escapes included)."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif code < 0x20 or ch in "<>&" or code in (0x2028, 0x2029):
            out.append(f"\\u{code:04x}")
        elif 0xD800 <= code <= 0xDFFF:
            out.append("\ufffd")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _encode(start: str, revision: int) -> str:
    body = (f'{{"v":"{TOKEN_VERSION}","rv":{int(revision)},'
            f'"start":{_go_json_string(start)}}}')
    return base64.urlsafe_b64encode(body.encode("utf-8")).rstrip(b"=").decode("ascii")


def encode_continue(key_after: str, revision: int) -> str:
    """The token for the page after the one ending at storage key `key_after`."""
    return _encode(key_after + "\x00", revision)


def _b64_decode(token: str) -> bytes:
    """`base64.RawURLEncoding.DecodeString`, with Go's `illegal base64 data` errors."""
    raw = token.encode("utf-8", "surrogatepass")
    kept = 0
    for index, byte in enumerate(raw):
        if byte in b"\r\n":
            continue
        if byte not in _B64_ALPHABET:
            raise _TokenError(f"illegal base64 data at input byte {index}")
        kept += 1
    if kept % 4 == 1:
        raise _TokenError(f"illegal base64 data at input byte {len(raw) - 1}")
    data = bytes(b for b in raw if b not in b"\r\n")
    try:
        return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))
    except binascii.Error as err:  # pragma: no cover - excluded by the checks above
        raise _TokenError(f"illegal base64 data at input byte {len(raw) - 1}") from err


def _go_quote_char(ch: str) -> str:
    if ch == "'":
        return "'\\''"
    if ch == '"':
        return "'\"'"
    quoted = json.dumps(ch) if not ch.isprintable() else '"' + ch + '"'
    return "'" + quoted[1:-1] + "'"


class _Float(str):
    """A JSON number with a fraction or exponent, kept as written (Go quotes the literal)."""


def _json_kind(value: Any) -> str:
    """`json_kind`, a number kept as written (`_Float`) included."""
    return "number" if isinstance(value, _Float) else json_kind(value)


def _reject_constant(name: str) -> Any:
    raise ValueError(name)


def _json_decode(data: bytes) -> Any:
    """`json.Unmarshal` into `interface{}`, with Go's syntax-error wording (approximate)."""
    text = data.decode("utf-8", "replace")
    if not text.strip():
        raise _TokenError("unexpected end of JSON input")
    try:
        return json.loads(text, parse_constant=_reject_constant, parse_float=_Float)
    except ValueError as err:
        pos = getattr(err, "pos", None)
        if pos is None:
            pos = len(text) - len(text.lstrip())
        if pos >= len(text.rstrip()):
            raise _TokenError("unexpected end of JSON input") from None
        raise _TokenError(
            f"invalid character {_go_quote_char(text[pos])} looking for beginning of value"
        ) from None


def _field_error(name: str, value: Any, go_type: str) -> _TokenError:
    shown = _json_kind(value)
    if shown == "number":
        shown = f"number {value}"
    return _TokenError(
        f"json: cannot unmarshal {shown} into Go struct field continueToken.{name} "
        f"of type {go_type}"
    )


def _unmarshal(data: bytes) -> tuple[str, int, str]:
    """`json.Unmarshal` into `continueToken{v, rv, start}` (keys match case-insensitively)."""
    decoded = _json_decode(data)
    if decoded is None:
        return "", 0, ""
    if not isinstance(decoded, dict):
        raise _TokenError(f"json: cannot unmarshal {_json_kind(decoded)} into Go value "
                          "of type storage.continueToken")
    fields: dict[str, Any] = {"v": "", "rv": 0, "start": ""}
    for key, value in decoded.items():
        name = key.lower()
        if name not in fields or value is None:
            continue
        if name == "rv":
            is_int = isinstance(value, int) and not isinstance(value, bool)
            if not is_int or not -(2**63) <= value < 2**63:
                raise _field_error("rv", value, "int64")
            fields[name] = value
        elif not isinstance(value, str) or isinstance(value, _Float):
            raise _field_error(name, value, "string")
        else:
            fields[name] = value
    return fields["v"], fields["rv"], fields["start"]


def _clean_rooted(path: str) -> str:
    """Go `path.Clean` for a path starting with '/'."""
    parts: list[str] = []
    for segment in path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if parts:
                parts.pop()
            continue
        parts.append(segment)
    return "/" + "/".join(parts)


def _decode(token: str) -> tuple[str, int]:
    try:
        data = _b64_decode(token)
        version, revision, start = _unmarshal(data)
    except _TokenError as err:
        raise _TokenError(f"{_INVALID}: {err}") from None
    if version != TOKEN_VERSION:
        raise _TokenError(
            f"{_INVALID}: server does not recognize this encoded version {version}")
    if revision == 0:
        raise _TokenError(
            f"{_INVALID}: incorrect encoded start resourceVersion (version {TOKEN_VERSION})")
    if not start:
        raise _TokenError(f"{_INVALID}: encoded start key empty (version {TOKEN_VERSION})")
    key = start if start.startswith("/") else "/" + start
    cleaned = _clean_rooted(key)
    if cleaned != key:
        raise _TokenError(f"{_INVALID}: {start}")
    return cleaned[1:], revision


def decode_continue(token: str, resource_version: str = "") -> tuple[str, int]:
    """(inclusive start key, revision) of a token; 400 BadRequest as upstream when invalid.

    A revision of -1 means "continue at the latest revision". `resource_version` is the
    request's `resourceVersion` parameter, which may only be empty or "0" with `continue`.
    """
    try:
        start, revision = _decode(token)
    except _TokenError as err:
        raise bad_request(f"invalid continue token: {err}") from None
    if resource_version not in ("", "0"):
        raise bad_request(RESOURCE_VERSION_WITH_CONTINUE_MESSAGE)
    return start, revision


class ExpiredContinueError(StatusError):
    """410 Expired for a compacted continue token, carrying the replacement token."""

    def __init__(self, continue_token: str) -> None:
        super().__init__(410, "Expired", EXPIRED_CONTINUE_MESSAGE)
        self.continue_token = continue_token

    def status(self) -> dict[str, Any]:
        body = super().status()
        body["metadata"] = {"continue": self.continue_token}
        return body


def expired_continue(start: str) -> ExpiredContinueError:
    """The 410 for a token (decoded start key `start`) whose revision was compacted."""
    return ExpiredContinueError(_encode(start, -1))
