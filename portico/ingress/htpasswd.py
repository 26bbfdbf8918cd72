"""htpasswd files -> users HAProxy can check (pure).

HAProxy 2.6 checks `userlist` passwords with crypt(3) from the machine's
libcrypt (libxcrypt on Debian 12). Checked on this machine: `$1$` (MD5-crypt),
`$5$`/`$6$` (SHA-crypt), `$2a$`/`$2b$`/`$2y$` (bcrypt) and 13-character DES work;
Apache's `$apr1$` (htpasswd's default) and `{SHA}` are not crypt(3) formats and
always fail there. So each line is classified by scheme:

- `crypt`: goes into a `userlist` as `user NAME password HASH`;
- `sha` (`{SHA}base64(sha1(pw))`): checked with converters
  (`http_auth_pass,sha1,base64` compared with the stored value);
- `apr1`: checked by a small Lua fetch shipped with the controller (`auth.lua`),
  an MD5 implementation of Apache's algorithm; HAProxy, not Python, runs it.

Lines HAProxy could not check (plain text, unknown prefixes) are reported, not
silently accepted.
"""

from __future__ import annotations

import re

from portico.ingress.model import User

SCHEME_CRYPT = "crypt"
SCHEME_SHA = "sha"
SCHEME_APR1 = "apr1"

_CRYPT_PREFIXES = ("$1$", "$5$", "$6$", "$2a$", "$2b$", "$2y$")
_DES = re.compile(r"^[./0-9A-Za-z]{13}$")
_NAME = re.compile(r"^[^\s:'\"\\]+$")
_HASH = re.compile(r"^[!-~]+$")  # printable, no spaces or quotes issues handled below


def classify(password_hash: str) -> str | None:
    """The scheme of one htpasswd hash, or None when HAProxy cannot check it."""
    if password_hash.startswith("$apr1$"):
        return SCHEME_APR1
    if password_hash.startswith("{SHA}"):
        return SCHEME_SHA
    if password_hash.startswith(_CRYPT_PREFIXES) or _DES.match(password_hash):
        return SCHEME_CRYPT
    return None


def parse(text: str) -> tuple[tuple[User, ...], tuple[str, ...]]:
    """(users, problems): one `User` per usable line, one message per unusable line."""
    users: list[User] = []
    problems: list[str] = []
    seen: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, sep, password_hash = line.partition(":")
        if not sep or not _NAME.match(name) or not _HASH.match(password_hash) \
                or "'" in password_hash:
            problems.append(f"line {number}: not a `user:hash` line")
            continue
        scheme = classify(password_hash)
        if scheme is None:
            problems.append(f"line {number}: user {name!r}: unsupported hash format "
                            "(use bcrypt, SHA-crypt, MD5-crypt, $apr1$ or {SHA})")
            continue
        if name in seen:
            continue  # Apache uses the first line of a user
        seen.add(name)
        users.append(User(name=name, hash=password_hash, scheme=scheme))
    return tuple(users), tuple(problems)
