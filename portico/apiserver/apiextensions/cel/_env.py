"""The CEL environment kube-apiserver compiles rules in, on cel-cpp (`cel-expr-python`).

One `Env` per set of variable names is built once and shared: compiling is the
expensive part (a Go-free native parse and type-check, ~50 µs), evaluating a
compiled `Expression` costs microseconds. Values cross into CEL as plain JSON
data (dicts, lists, str, int, float, bool, None); the typed forms kube gives
some formats (timestamp, duration, bytes) are made by `_values`.

cel-cpp words its errors differently from cel-go, whose text users see from
kube-apiserver; `compile_error_text` and `runtime_error_text` translate the
common ones (`no such key: x`, `no such overload`, `index out of bounds`,
`division by zero`) and strip cel-cpp's status-code decorations otherwise.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

from cel_expr_python import cel
from cel_expr_python.ext import (
    ext_bindings,
    ext_optional,
    ext_strings,
)

from portico.apiserver.apiextensions.cel._library import kubernetes_library

RULE_VARIABLES = ("self", "oldSelf")
POLICY_VARIABLES = ("object", "oldObject", "request", "params", "namespaceObject", "variables")

_STATUS_PREFIX = re.compile(r"^[A-Z_]+: ")
_STATUS_SUFFIX = re.compile(r" \[[A-Z_]+\]$")
_RUNTIME_FORMS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r'^Key not found in map : "?(.*?)"?$'), r"no such key: \1"),
    (re.compile(r"^No matching overloads found.*$"), "no such overload"),
    (re.compile(r"^Index error: index=(-?\d+) size=\d+$"), r"index out of bounds: \1"),
    (re.compile(r"^divide by zero$"), "division by zero"),
    (re.compile(r"^modulus by zero$"), "modulus by zero"),
)


class CompileError(Exception):
    """A rule that does not compile; `str()` is cel's issue text."""


def _strip_status(text: str) -> str:
    return _STATUS_SUFFIX.sub("", _STATUS_PREFIX.sub("", text.strip()))


def compile_error_text(exc: Exception) -> str:
    return _strip_status(str(exc))


def runtime_error_text(message: str) -> str:
    text = _strip_status(message)
    for pattern, replacement in _RUNTIME_FORMS:
        if pattern.match(text):
            return pattern.sub(replacement, text)
    return text


@functools.cache
def environment(variables: tuple[tuple[str, str], ...]) -> cel.Env:
    """A shared environment declaring `variables` (name, type signature) pairs."""
    declared = {name: _TYPES[signature] for name, signature in variables}
    return cel.NewEnv(
        variables=declared,
        extensions=[ext_strings.ExtStrings(), ext_optional.ExtOptional(),
                    ext_bindings.ExtBindings(), kubernetes_library()],
    )


_TYPES: dict[str, cel.Type] = {
    "dyn": cel.Type.DYN,
    "timestamp": cel.Type.TIMESTAMP,
    "duration": cel.Type.DURATION,
    "bytes": cel.Type.BYTES,
    "bool": cel.Type.BOOL,
}


@dataclass(frozen=True)
class Program:
    """A compiled expression and whether it reads `oldSelf`/`oldObject`."""

    expression: cel.Expression
    source: str
    result_type: str
    variables: tuple[tuple[str, str], ...]

    def activation(self, data: dict[str, object]) -> cel.Activation:
        """Bind `data` once; every program of the same variables can run on it."""
        return environment(self.variables).Activation(data)

    def run(self, activation: cel.Activation) -> tuple[object, str]:
        """(value, "") on success, (None, kube's error text) on a runtime error."""
        value = self.expression.eval(activation)
        if value.type() == cel.Type.ERROR:
            return None, runtime_error_text(str(value.value()))
        return value.plain_value(), ""


def compile_expression(source: str, variables: tuple[tuple[str, str], ...]) -> Program:
    """Compile `source`; raises `CompileError` with cel's text."""
    try:
        expression = environment(variables).compile(source)
    except RuntimeError as exc:
        raise CompileError(compile_error_text(exc)) from None
    return Program(expression, source, expression.return_type().name(), variables)
