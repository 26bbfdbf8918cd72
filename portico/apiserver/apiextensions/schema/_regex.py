"""Patterns in RE2 semantics, with Go `regexp`'s error wording.

CRD patterns are Go regular expressions (RE2 syntax, unanchored search). google-re2 is
the same engine; only its error strings differ from Go's, so `compile_pattern` rewrites
them into `error parsing regexp: <code>: `<expr>`` as Go's `regexp.Compile` reports.

`Pattern.search` is on every request's path: it calls the compiled RE2 object directly
(the wrapper's `search` builds match objects and offset maps, four times slower) and
remembers recent answers per pattern, since the same values recur across objects.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False

# RE2 (C++) error code text -> Go regexp/syntax error code text
_GO_CODES = {
    "missing )": "missing closing )",
    "missing ]": "missing closing ]",
    "bad repetition operator": "invalid nested repetition operator",
    "trailing \\": "trailing backslash at end of expression",
    "invalid repetition size": "invalid repeat count",
    "bad character class range": "invalid character class range",
    "invalid character class": "invalid character class",
    "missing argument to repetition operator": "missing argument to repetition operator",
    "invalid escape sequence": "invalid escape sequence",
    "unexpected )": "unexpected )",
    "invalid named capture group": "invalid named capture",
    "invalid UTF-8": "invalid UTF-8",
}


_UNANCHORED = re2._Anchor.UNANCHORED
_NO_MATCH = (-1, -1)
_MEMO_LIMIT = 1024


@dataclass(frozen=True)
class Pattern:
    """A compiled pattern, or the Go error text when it does not compile."""

    source: str
    regex: Any
    error: str
    memo: dict[str, bool] = field(default_factory=dict, compare=False)

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in `text` (Go `MatchString`)."""
        found = self.memo.get(text)
        if found is None:
            if self.regex is None:
                return False
            data = text.encode()
            found = self.regex._regexp.Match(_UNANCHORED, data, 0, len(data))[0] != _NO_MATCH
            if len(self.memo) >= _MEMO_LIMIT:
                self.memo.clear()
            self.memo[text] = found
        return found


def _go_error(pattern: str, message: str) -> str:
    code, _, expr = message.partition(": ")
    if code == "trailing \\":
        expr = ""
    elif code in ("missing )", "unexpected )"):
        expr = pattern
    return f"error parsing regexp: {_GO_CODES.get(code, code)}: `{expr}`"


@functools.lru_cache(maxsize=4096)
def compile_pattern(pattern: str) -> Pattern:
    try:
        return Pattern(pattern, re2.compile(pattern, _OPTIONS), "")
    except re2.error as exc:
        text = exc.args[0] if exc.args else str(exc)
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        return Pattern(pattern, None, _go_error(pattern, str(text)))
