"""The JSONPath subset CRDs use in `additionalPrinterColumns` and `scale` paths.

kube-apiserver compiles a column's `jsonPath` with client-go's `util/jsonpath`
(wrapped in `{...}`); what CRDs write in practice is a chain of steps:
`.spec.replicas`, `.status.addresses[*].value`, `.spec.hostnames[0]`,
`.metadata.labels['app.kubernetes.io/name']` and filters such as
`.status.conditions[?(@.type=="Ready")].status`. `compile_path` parses that
chain once (a `SyntaxError` for anything else, which CRD validation reports);
`Path.find` returns every value it reaches, in document order.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

_FILTER = re.compile(
    r"""\?\(@((?:\.[\w-]+)+)\s*(==|!=)\s*(?:"([^"]*)"|'([^']*)'|(-?\d+)|(true|false))\)""")
_NAME = re.compile(r"[\w-]+|\*")
_QUOTED = re.compile(r"""'([^']*)'|"([^"]*)\"""")


@dataclass(frozen=True)
class Step:
    """A field (`name`), every element (`name="*"`), an index or a filter on list items."""

    name: str = ""
    index: int | None = None
    filter_path: tuple[str, ...] = ()
    filter_op: str = ""
    filter_value: Any = None


@dataclass(frozen=True)
class Path:
    text: str
    steps: tuple[Step, ...]

    def find(self, obj: Any) -> list[Any]:
        values = [obj]
        for step in self.steps:
            values = [out for value in values for out in _apply(step, value)]
        return values


def _apply(step: Step, value: Any) -> Iterator[Any]:
    if step.filter_op:
        for item in _elements(value):
            got = _walk(item, step.filter_path)
            if (got == step.filter_value) == (step.filter_op == "=="):
                yield item
    elif step.index is not None:
        if isinstance(value, list) and -len(value) <= step.index < len(value):
            yield value[step.index]
    elif step.name == "*":
        yield from _elements(value)
    elif isinstance(value, dict) and step.name in value:
        yield value[step.name]


def _elements(value: Any) -> list[Any]:
    if isinstance(value, list):
        return value
    if isinstance(value, dict):
        return list(value.values())
    return []


def _walk(value: Any, names: tuple[str, ...]) -> Any:
    for name in names:
        if not isinstance(value, dict) or name not in value:
            return None
        value = value[name]
    return value


def _bracket(inner: str, text: str) -> Step:
    if inner == "*":
        return Step(name="*")
    if re.fullmatch(r"-?\d+", inner):
        return Step(index=int(inner))
    quoted = _QUOTED.fullmatch(inner)
    if quoted:
        return Step(name=quoted.group(1) if quoted.group(1) is not None else quoted.group(2))
    match = _FILTER.fullmatch(inner)
    if match is None:
        raise SyntaxError(f"unrecognized JSONPath {text!r}")
    path = tuple(match.group(1).split(".")[1:])
    literal: Any
    if match.group(3) is not None or match.group(4) is not None:
        literal = match.group(3) if match.group(3) is not None else match.group(4)
    elif match.group(5) is not None:
        literal = int(match.group(5))
    else:
        literal = match.group(6) == "true"
    return Step(filter_path=path, filter_op=match.group(2), filter_value=literal)


def compile_path(text: str) -> Path:
    """Parse `.a.b[0]['c'][?(@.type=="X")].d`; `{...}` around it is allowed."""
    body = text.strip()
    if body.startswith("{") and body.endswith("}"):
        body = body[1:-1]
    if not body.startswith((".", "[")):
        raise SyntaxError(f"unrecognized JSONPath {text!r}")
    steps: list[Step] = []
    pos = 0
    while pos < len(body):
        if body[pos] == ".":
            match = _NAME.match(body, pos + 1)
            if match is None:
                raise SyntaxError(f"unrecognized JSONPath {text!r}")
            steps.append(Step(name=match.group(0)))
            pos = match.end()
        elif body[pos] == "[":
            end = body.find("]", pos)
            if end < 0:
                raise SyntaxError(f"unrecognized JSONPath {text!r}")
            steps.append(_bracket(body[pos + 1:end].strip(), text))
            pos = end + 1
        else:
            raise SyntaxError(f"unrecognized JSONPath {text!r}")
    return Path(text, tuple(steps))
