"""Ingress annotations -> `Options` (pure), with a warning for each one we cannot honour.

Accepted under two prefixes, with ingress-nginx's names and semantics
(docs/user-guide/nginx-configuration/annotations.md): `portico.dev/` (ours) and
`nginx.ingress.kubernetes.io/`. When both set the same key, `portico.dev/` wins.
Any other key under either prefix gets an `UnsupportedAnnotation` warning, and a
value we cannot parse an `InvalidAnnotation` warning (the annotation is then
ignored): never silence.

Supported keys and their HAProxy mapping (see render.py):
rewrite-target, use-regex, ssl-redirect, force-ssl-redirect, proxy-body-size
(nginx sizes: 8m, 512k, 0 = unlimited), proxy-connect/read/send-timeout
(seconds), affinity: cookie (+ session-cookie-name, default INGRESSCOOKIE),
whitelist-source-range (CIDRs), canary (+ canary-weight, canary-weight-total,
canary-by-header, canary-by-header-value, canary-by-header-pattern,
canary-by-cookie), limit-rps (+ limit-burst-multiplier, default 5), auth-type:
basic (+ auth-secret, auth-realm), backend-protocol: HTTP|HTTPS.

Canary values are checked as ingress-nginx (>= 1.12, annotation validation on)
checks them: header and cookie names and the header value use its "basic"
characters (letters, digits, `-._~/:`), the header pattern its regex
characters; a value that fails is ignored with a warning, as there. A header
name is looked up as nginx's `$http_<name>` is: `_` stands for `-`, and a name
with other punctuation can never match (nginx drops such request headers), so
it is refused. `canary-weight-total` below 100 counts as 100 (balancer.lua).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping
from dataclasses import replace

from portico.ingress import htpasswd, pcre
from portico.ingress.model import BasicAuth, Obj, Options, Reason

PREFIXES = ("portico.dev/", "nginx.ingress.kubernetes.io/")
DEFAULT_COOKIE = "INGRESSCOOKIE"
DEFAULT_REALM = "Authentication Required"
_SIZE = re.compile(r"^(\d+)([kKmMgG]?)$")
_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}
_TOKEN = re.compile(r"^[A-Za-z0-9!#$%&*+.^_`|~-]+$")  # RFC 7230 token (session cookie name)
# ingress-nginx's annotation validators (internal/ingress/annotations/parser/validators.go).
_BASIC = re.compile(r"^[-._~a-zA-Z0-9/:]+$")                  # BasicCharsRegex, non-empty
_REGEX_CHARS = re.compile(r"^[-._~a-zA-Z0-9/:^$\[\](){}*+?|&=\\]+$")  # IsValidRegex, non-empty
_HEADER_NAME = re.compile(r"^[A-Za-z0-9_-]+$")  # what nginx keeps of a request header name
MAX_PATTERN = 1024
SUPPORTED = frozenset({
    "rewrite-target", "use-regex", "ssl-redirect", "force-ssl-redirect", "proxy-body-size",
    "proxy-connect-timeout", "proxy-read-timeout", "proxy-send-timeout", "affinity",
    "session-cookie-name", "whitelist-source-range", "canary", "canary-weight",
    "canary-weight-total", "canary-by-header", "canary-by-header-value",
    "canary-by-header-pattern", "canary-by-cookie", "limit-rps",
    "limit-burst-multiplier", "auth-type", "auth-secret", "auth-realm", "backend-protocol",
})

Problem = tuple[Reason, str]
SecretLookup = Callable[[str, str], Obj | None]


class _Invalid(ValueError):
    pass


def collect(annotations: Mapping[str, str]) -> tuple[dict[str, str], list[Problem]]:
    """Our keys (prefix stripped; portico.dev/ wins) and UnsupportedAnnotation problems."""
    found: dict[str, str] = {}
    problems: list[Problem] = []
    for prefix in reversed(PREFIXES):  # nginx first, so portico.dev/ overwrites
        for key, value in sorted(annotations.items()):
            if not key.startswith(prefix):
                continue
            name = key[len(prefix):]
            if name in SUPPORTED:
                found[name] = str(value)
            else:
                problems.append((Reason.UNSUPPORTED_ANNOTATION,
                                 f"annotation {key} is not supported by this ingress controller "
                                 "and is ignored"))
    return found, problems


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise _Invalid("must be true or false")


def _int(value: str, low: int = 0, high: int = 2**31) -> int:
    try:
        number = int(value.strip().removesuffix("s"))
    except ValueError:
        raise _Invalid("must be a whole number") from None
    if not low <= number <= high:
        raise _Invalid(f"must be between {low} and {high}")
    return number


def parse_size(value: str) -> int | None:
    """nginx's size syntax: `8m`, `512k`, `1024`; `0` means no limit (None)."""
    m = _SIZE.match(value.strip())
    if not m:
        raise _Invalid("must be a size like 8m, 512k or 1024")
    size = int(m.group(1)) * _UNITS[m.group(2).lower()]
    return size or None


def _cidrs(value: str) -> tuple[str, ...]:
    out = []
    for item in (v.strip() for v in value.split(",")):
        if not item:
            continue
        try:
            out.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise _Invalid(f"{item!r} is not a CIDR") from None
    if not out:
        raise _Invalid("must list at least one CIDR")
    return tuple(out)


def _token(value: str) -> str:
    if not _TOKEN.match(value):
        raise _Invalid("must be a token (letters, digits, -_.)")
    return value


def _basic(value: str) -> str:
    if not _BASIC.match(value):
        raise _Invalid("must be letters, digits and -._~/: only")
    return value


def _canary_header(value: str) -> str:
    """The request header nginx's `$http_<value>` reads: `_` and `-` are the same there."""
    _basic(value)
    if not _HEADER_NAME.match(value):
        raise _Invalid("nginx never sees request headers whose name has characters other "
                       "than letters, digits, - and _")
    return value.replace("_", "-")


def _rewrite(value: str) -> str:
    if not value.startswith("/") or any(c in value for c in " '\"\t\r\n"):
        raise _Invalid("must be a path starting with / without spaces or quotes")
    return value


def _protocol(value: str) -> bool:
    upper = value.strip().upper()
    if upper not in ("HTTP", "HTTPS"):
        raise _Invalid("only HTTP and HTTPS are supported")
    return upper == "HTTPS"


_SIMPLE: dict[str, tuple[str, Callable[[str], object]]] = {
    "rewrite-target": ("rewrite_target", _rewrite),
    "use-regex": ("use_regex", _bool),
    "ssl-redirect": ("ssl_redirect", _bool),
    "force-ssl-redirect": ("force_ssl_redirect", _bool),
    "proxy-body-size": ("body_size", parse_size),
    "proxy-connect-timeout": ("connect_timeout", lambda v: _int(v, 1, 86400)),
    "proxy-read-timeout": ("read_timeout", lambda v: _int(v, 1, 86400)),
    "proxy-send-timeout": ("send_timeout", lambda v: _int(v, 1, 86400)),
    "whitelist-source-range": ("whitelist", _cidrs),
    "canary": ("canary", _bool),
    "canary-weight": ("canary_weight", lambda v: _int(v, 0, 1_000_000)),
    # balancer.lua: a total below 100 counts as 100
    "canary-weight-total": ("canary_weight_total", lambda v: _int(v, 100, 1_000_000)),
    "canary-by-header": ("canary_header", _canary_header),
    "canary-by-header-value": ("canary_header_value", _basic),
    "canary-by-cookie": ("canary_cookie", _basic),
    "limit-rps": ("limit_rps", lambda v: _int(v, 1, 1_000_000)),
    "limit-burst-multiplier": ("limit_burst_multiplier", lambda v: _int(v, 1, 1000)),
    "backend-protocol": ("backend_https", _protocol),
}


def _auth(found: dict[str, str], namespace: str, secrets: SecretLookup) -> BasicAuth:
    if found["auth-type"].strip().lower() != "basic":
        raise _Invalid("only auth-type basic is supported")
    ref = found.get("auth-secret", "").strip()
    if not ref:
        raise _Invalid("auth-type basic needs auth-secret")
    secret_ns, _, secret_name = ref.rpartition("/")
    secret = secrets(secret_ns or namespace, secret_name)
    if secret is None:
        raise _Invalid(f"secret {secret_ns or namespace}/{secret_name} not found")
    import base64
    raw = (secret.get("data") or {}).get("auth")
    if raw is None:
        raise _Invalid(f"secret {secret_name} has no `auth` key")
    users, problems = htpasswd.parse(base64.b64decode(raw).decode("utf-8", "replace"))
    if problems:
        raise _Invalid(f"secret {secret_name}: " + "; ".join(problems))
    realm = found.get("auth-realm", DEFAULT_REALM).replace('"', "'")
    return BasicAuth(realm=realm, users=users)


def _header_pattern(value: str) -> tuple[dict[str, object], list[Problem]]:
    """The Options of canary-by-header-pattern, and what to report about it.

    A pattern PCRE cannot compile is kept, marked as failing: nginx fails the
    match of every request carrying the header and sends it to the main backend
    (balancer.lua), and so do we.
    """
    key = f"annotation canary-by-header-pattern={value!r}"
    if not _REGEX_CHARS.match(value) or len(value) > MAX_PATTERN:
        return {}, [(Reason.INVALID_ANNOTATION, f"{key} ignored: must be at most {MAX_PATTERN} "
                     "letters, digits, -._~/: and regex characters ^$[](){}*+?|&=\\")]
    if why := pcre.nginx_error(value):
        return ({"canary_header_pattern": value, "canary_header_pattern_fails": True},
                [(Reason.INVALID_ANNOTATION, f"{key}: PCRE cannot compile it ({why}); as in "
                  "ingress-nginx, a request carrying the header goes to the main backend")])
    if why := pcre.haproxy_error(value):
        return {}, [(Reason.INVALID_ANNOTATION, f"{key} ignored: HAProxy cannot match it ({why})")]
    return {"canary_header_pattern": value}, []


def parse(annotations: Mapping[str, str], namespace: str,
          secrets: SecretLookup) -> tuple[Options, list[Problem]]:
    """The Options of one Ingress and the problems to report on it."""
    found, problems = collect(annotations)
    changes: dict[str, object] = {}
    for key, (attr, convert) in _SIMPLE.items():
        if key in found:
            try:
                changes[attr] = convert(found[key])
            except _Invalid as exc:
                problems.append((Reason.INVALID_ANNOTATION, f"annotation {key}={found[key]!r} "
                                 f"ignored: {exc}"))
    if "canary-by-header-pattern" in found:
        pattern_changes, pattern_problems = _header_pattern(found["canary-by-header-pattern"])
        changes.update(pattern_changes)
        problems += pattern_problems
    if "affinity" in found:
        if found["affinity"].strip().lower() == "cookie":
            try:
                changes["affinity_cookie"] = _token(found.get("session-cookie-name",
                                                              DEFAULT_COOKIE))
            except _Invalid as exc:
                problems.append((Reason.INVALID_ANNOTATION,
                                 f"annotation session-cookie-name ignored: {exc}"))
                changes["affinity_cookie"] = DEFAULT_COOKIE
        else:
            problems.append((Reason.INVALID_ANNOTATION,
                             "annotation affinity ignored: only `cookie` is supported"))
    if "auth-type" in found:
        try:
            changes["auth"] = _auth(found, namespace, secrets)
        except _Invalid as exc:
            # An Ingress asking for authentication must not be served without it.
            changes["auth"] = BasicAuth(realm=DEFAULT_REALM, users=())
            problems.append((Reason.INVALID_ANNOTATION,
                             f"annotation auth-type: {exc}; every request is refused (401)"))
    if "rewrite-target" in found and "use-regex" not in found:
        changes["use_regex"] = True  # ingress-nginx: rewrite-target implies use-regex
    return replace(Options(), **changes), problems  # type: ignore[arg-type]
