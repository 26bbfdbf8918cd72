"""Custom resource data as CEL sees it (kube's schema-to-CEL type mapping).

A `Shape` is built once per schema node when rules are compiled and turns a
JSON value into the CEL value of that node:

- property names are escaped (`_names`), unreachable ones hidden;
- at the resource root and in embedded resources only `apiVersion`, `kind`,
  `metadata.name` and `metadata.generateName` are visible of the object's meta;
- `number` values become doubles (JSON `3` is an int in Python);
- a `self` that is itself a `date-time`/`date` string becomes a timestamp, a
  `duration` string a duration and a `byte` string bytes. Below the rule's own
  node these stay strings: the Python binding of cel-cpp cannot carry typed
  values inside dynamic maps and lists.

A Shape with nothing to change (`plain`) hands the value through untouched, so
the common case (ordinary property names, no numbers) costs nothing per call.
"""

from __future__ import annotations

import base64
import datetime
import re
from collections.abc import Callable, Mapping
from typing import Any

from portico.apiserver.apiextensions.cel._names import escape

Schema = Mapping[str, Any]
_META_VISIBLE = ("name", "generateName")
_DURATION_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)")
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
                   "h": 3600.0}


def parse_duration(text: str) -> datetime.timedelta:
    """Go's `time.ParseDuration` (the form kube's duration format uses)."""
    sign, body = (-1, text[1:]) if text.startswith("-") else (1, text.lstrip("+"))
    if body == "0":
        return datetime.timedelta(0)
    pos, seconds = 0, 0.0
    for match in _DURATION_PART.finditer(body):
        if match.start() != pos:
            raise ValueError(f"invalid duration {text!r}")
        seconds += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if pos != len(body) or not body:
        raise ValueError(f"invalid duration {text!r}")
    return datetime.timedelta(seconds=sign * seconds)


def parse_timestamp(text: str) -> datetime.datetime:
    value = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


_SCALARS: dict[str, Callable[[str], Any]] = {
    "date-time": parse_timestamp,
    "date": parse_timestamp,
    "duration": parse_duration,
    "byte": base64.b64decode,
}


def variable_type(schema: Schema) -> str:
    """The declared CEL type of `self` for a rule on this node."""
    if schema.get("type") != "string":
        return "dyn"
    return {"date-time": "timestamp", "date": "timestamp", "duration": "duration",
            "byte": "bytes"}.get(str(schema.get("format", "")), "dyn")


class Shape:
    """How to turn JSON data of one schema node into CEL data."""

    def __init__(self, schema: Schema, *, resource_root: bool = False) -> None:
        self.kind = str(schema.get("type", ""))
        self.number = self.kind == "number"
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        self.resource_root = resource_root or embedded
        self.names: dict[str, str | None] = {}
        self.children: dict[str, Shape] = {}
        for name, child in (schema.get("properties") or {}).items():
            self.names[name] = escape(name)
            self.children[name] = Shape(child)
        items, extra = schema.get("items"), schema.get("additionalProperties")
        self.items = Shape(items) if isinstance(items, Mapping) else None
        self.extra = Shape(extra) if isinstance(extra, Mapping) else None
        self.plain = self._is_plain()

    def _is_plain(self) -> bool:
        if self.number or self.resource_root:
            return False
        if any(escaped != name for name, escaped in self.names.items()):
            return False
        nested = [*self.children.values(), *(s for s in (self.items, self.extra) if s)]
        return all(child.plain for child in nested)

    def convert(self, value: Any) -> Any:
        if self.plain or value is None:
            return value
        if self.number and isinstance(value, int) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, list):
            return [self.items.convert(v) for v in value] if self.items else value
        if isinstance(value, dict):
            return self._convert_object(value)
        return value

    def _convert_object(self, value: dict[str, Any]) -> dict[str, Any]:
        if self.extra is not None and not self.children:
            return {k: self.extra.convert(v) for k, v in value.items()}
        out: dict[str, Any] = {}
        for name, item in value.items():
            if name in self.children:
                escaped = self.names[name]
                if escaped is not None:
                    out[escaped] = self.children[name].convert(item)
            elif self.resource_root and name in ("apiVersion", "kind"):
                out[name] = item
        if self.resource_root and isinstance(value.get("metadata"), dict):
            meta = value["metadata"]
            out["metadata"] = {k: meta[k] for k in _META_VISIBLE if k in meta}
        return out


def convert_self(shape: Shape, schema: Schema, value: Any) -> Any:
    """`self` for a rule on this node (a typed scalar where the format says so)."""
    scalar = _SCALARS.get(str(schema.get("format", ""))) if schema.get("type") == "string" else None
    if scalar is not None and isinstance(value, str):
        try:
            return scalar(value)
        except ValueError:
            return value
    return shape.convert(value)
