"""Property names as CEL sees them (`AS:pkg/cel/common/escaping.go`).

A property whose name is a CEL reserved word is reached as `__{name}__`; in any
other name `__` becomes `__underscores__`, `.` `__dot__`, `-` `__dash__` and `/`
`__slash__`. Names with any other character cannot be reached from CEL at all.
"""

from __future__ import annotations

import re

RESERVED = frozenset((
    "true", "false", "null", "in", "as", "break", "const", "continue", "else", "for",
    "function", "if", "import", "let", "loop", "package", "namespace", "return", "var",
    "void", "while",
))
_ACCESSIBLE = re.compile(r"^[a-zA-Z_.\-/][a-zA-Z0-9_.\-/]*$")
_ESCAPES = (("__", "__underscores__"), (".", "__dot__"), ("-", "__dash__"), ("/", "__slash__"))
_UNESCAPE = re.compile(r"__(underscores|dot|dash|slash)__")
_UNESCAPED = {"underscores": "__", "dot": ".", "dash": "-", "slash": "/"}


def escape(name: str) -> str | None:
    """The CEL field name of a property, or None when CEL cannot reach it."""
    if name in RESERVED:
        return f"__{name}__"
    if not _ACCESSIBLE.match(name):
        return None
    for plain, escaped in _ESCAPES:
        name = name.replace(plain, escaped)
    return name


def unescape(name: str) -> str:
    if name.startswith("__") and name.endswith("__") and name[2:-2] in RESERVED:
        return name[2:-2]
    return _UNESCAPE.sub(lambda m: _UNESCAPED[m.group(1)], name)


def needs_escape(name: str) -> bool:
    return escape(name) != name
