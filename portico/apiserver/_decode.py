"""Request bodies to JSON values, bounded as kube-apiserver bounds them.

kube-apiserver reads at most 3 MiB of a body, then decodes it: YAML through
`sigs.k8s.io/yaml` (go-yaml v2 underneath, then JSON), JSON through a fork of
`encoding/json`. Both decoders stop hostile documents:

- **nesting**: go-yaml's scanner and Go's JSON scanner refuse more than 10,000
  levels ("yaml: exceeded max depth of 10000", "invalid character '[' exceeded
  max depth"). A body within the limit decodes whatever its depth: a deep value
  in an unknown field is then dropped, in a typed field it is a type error.
- **aliases**: go-yaml counts every node it decodes and every node it decodes
  under an alias; more than 100 aliased out of more than 1,000 decoded, beyond
  a ratio that falls from 99% (up to 400,000 nodes) to 10% (4,000,000), is
  "yaml: document contains excessive aliasing". A "billion laughs" body fails
  after about a hundred times its own size.

JSON is parsed by orjson, which stops at 1,024 levels; a deeper body is parsed
again as YAML (a superset of JSON) under the same 10,000 limit. YAML goes
through libyaml's event stream, one event at a time, with an explicit stack:
no Python recursion whatever the depth. libyaml's cost per event grows with the
depth, so the sum of depths over the events is budgeted too (a body made of many
nests each just under the limit would otherwise stall the event loop for
seconds); Portico refuses such a body as too deep. Aliases are counted as
go-yaml counts them, from each anchor's decoded size, and the expanded document
is bounded by the stored-object limit as well (`MAX_EXPANDED_BYTES`), so no body
expands past what could be stored.

Duplicate keys in a JSON object are found by a second, slower parse that records
the pairs of each object, only when `fieldValidation` asks for them and a cheap
count of key ends says some key may repeat (`_may_repeat_keys`); their paths
are worded as `sigs.k8s.io/json`'s strict errors (`duplicate field
"metadata.name"`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

import orjson
import yaml

MAX_DEPTH = 10_000
_DEPTH_WORK_BUDGET = 120_000_000  # sum of nesting depth over a YAML body's events
MAX_EXPANDED_BYTES = 3 * 1024 * 1024
_ALIAS_LOW, _ALIAS_HIGH = 400_000, 4_000_000
_MERGE_TAG = "tag:yaml.org,2002:merge"
_KEPT_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:binary",
                 "tag:yaml.org,2002:str"}
_SPACED_COLON = re.compile(rb'"[ \t\r\n]+:')
_RESOLVER = yaml.resolver.Resolver()
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class BodyError(Exception):
    """A body its decoder refuses; the text is the decoder's error."""


class TooDeep(BodyError):
    """Nested deeper than `MAX_DEPTH`; `opener` is the bracket that went too deep."""

    def __init__(self, message: str, opener: str) -> None:
        super().__init__(message)
        self.opener = opener


class ExpandsTooLarge(Exception):
    """The expanded document is larger than any object that could be stored."""


def allowed_alias_ratio(decoded: int) -> float:
    """go-yaml's share of decoded nodes that may come from alias expansion."""
    if decoded <= _ALIAS_LOW:
        return 0.99
    if decoded >= _ALIAS_HIGH:
        return 0.10
    return 0.99 - 0.89 * (decoded - _ALIAS_LOW) / (_ALIAS_HIGH - _ALIAS_LOW)


def _yaml_problem(exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    where = f"line {mark.line + 1}: " if mark is not None and mark.line else ""
    return f"yaml: {where}{problem}"


def _scalar(event: yaml.ScalarEvent) -> Any:
    tag = event.tag if event.tag not in (None, "!") else _RESOLVER.resolve(
        yaml.ScalarNode, event.value, event.implicit)
    if tag in _KEPT_AS_TEXT or tag == _MERGE_TAG:
        return event.value
    construct = _CONSTRUCTOR.yaml_constructors.get(tag)
    if construct is None:
        return event.value
    return construct(_CONSTRUCTOR, yaml.ScalarNode(tag, event.value, style=event.style))


def _key_text(key: Any) -> str:
    """A mapping key as `sigs.k8s.io/yaml` turns it into a JSON object key."""
    if isinstance(key, str):
        return key
    if isinstance(key, bool):
        return "true" if key else "false"
    if isinstance(key, int | float):
        return repr(key)
    raise BodyError(f"unsupported map key of type: {type(key).__name__}, key: {key!r}")


@dataclass
class _Frame:
    """An open mapping or sequence."""

    value: dict[str, Any] | list[Any]
    anchor: str | None
    flow: bool
    decoded_at_start: int
    key: str | None = None
    merge_next: bool = False
    merges: list[dict[str, Any]] = field(default_factory=list)


class _YamlBuilder:
    """Builds the first document of an event stream with go-yaml's bounds."""

    def __init__(self) -> None:
        self.stack: list[_Frame] = []
        self.depth = {True: 0, False: 0}  # open flow / block collections
        self.anchors: dict[str, tuple[Any, int]] = {}
        self.open_anchors: set[str] = set()
        self.decoded = 0
        self.aliased = 0
        self.expanded_bytes = 0
        self.work = 0
        self.shared = False
        self.root: Any = None

    def _count(self, decoded: int, aliased: int = 0) -> None:
        self.decoded += decoded
        self.aliased += aliased
        if (self.aliased > 100 and self.decoded > 1000
                and self.aliased / self.decoded > allowed_alias_ratio(self.decoded)):
            raise BodyError("yaml: document contains excessive aliasing")

    def _place(self, value: Any) -> None:
        if not self.stack:
            self.root = value
            return
        top = self.stack[-1]
        if isinstance(top.value, list):
            top.value.append(value)
        elif top.merge_next:
            top.merge_next = False
            top.merges.extend(_merge_sources(value))
        elif top.key is None:
            if isinstance(value, dict | list):
                raise BodyError("yaml: invalid map key: a collection")
            top.key = _key_text(value)
        else:
            top.value[top.key] = value
            top.key = None

    def _open(self, event: yaml.CollectionStartEvent,
              value: dict[str, Any] | list[Any]) -> None:
        flow = bool(event.flow_style)
        if self.depth[flow] >= MAX_DEPTH:
            line = event.start_mark.line if event.start_mark is not None else 0
            where = f"line {line + 1}: " if line else ""
            raise TooDeep(f"yaml: {where}exceeded max depth of {MAX_DEPTH}",
                          "{" if isinstance(value, dict) else "[")
        self._count(1)
        if event.anchor:
            self.open_anchors.add(event.anchor)
        self.depth[flow] += 1
        self.stack.append(_Frame(value, event.anchor, flow, self.decoded))

    def _close(self) -> None:
        frame = self.stack.pop()
        self.depth[frame.flow] -= 1
        if isinstance(frame.value, dict):
            for source in frame.merges:
                for key, item in source.items():
                    frame.value.setdefault(key, item)
        if frame.anchor:
            self.open_anchors.discard(frame.anchor)
            self.anchors[frame.anchor] = (frame.value, self.decoded - frame.decoded_at_start + 1)
        self._place(frame.value)

    def _scalar_event(self, event: yaml.ScalarEvent) -> None:
        self._count(1)
        self.expanded_bytes += len(event.value) + 2
        top = self.stack[-1] if self.stack else None
        if (top is not None and isinstance(top.value, dict) and top.key is None
                and not top.merge_next and event.value == "<<" and event.implicit[0]
                and _RESOLVER.resolve(yaml.ScalarNode, "<<", (True, False)) == _MERGE_TAG):
            top.merge_next = True
            return
        value = _scalar(event)
        if event.anchor:
            self.anchors[event.anchor] = (value, 1)
        self._place(value)

    def _alias(self, event: yaml.AliasEvent) -> None:
        name = event.anchor
        if name in self.open_anchors:
            raise BodyError(f"yaml: anchor '{name}' value contains itself")
        if name not in self.anchors:
            raise BodyError(f"yaml: unknown anchor '{name}' referenced")
        value, size = self.anchors[name]
        self._count(1 + size, size)
        self.expanded_bytes += _estimated_bytes(value)
        if self.expanded_bytes > MAX_EXPANDED_BYTES:
            raise ExpandsTooLarge
        self.shared = self.shared or isinstance(value, dict | list)
        self._place(value)

    def feed(self, event: yaml.Event) -> bool:
        """Take one event; True once the first document is complete."""
        self.work += len(self.stack)
        if self.work > _DEPTH_WORK_BUDGET:
            raise TooDeep(f"yaml: exceeded max depth of {MAX_DEPTH}", "[")
        if isinstance(event, yaml.ScalarEvent):
            self._scalar_event(event)
        elif isinstance(event, yaml.MappingStartEvent):
            self._open(event, {})
        elif isinstance(event, yaml.SequenceStartEvent):
            self._open(event, [])
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            self._close()
        elif isinstance(event, yaml.AliasEvent):
            self._alias(event)
        elif isinstance(event, yaml.DocumentStartEvent):
            self._count(1)
        return isinstance(event, yaml.DocumentEndEvent)


def _merge_sources(value: Any) -> list[dict[str, Any]]:
    if isinstance(value, dict):
        return [value]
    if isinstance(value, list) and all(isinstance(item, dict) for item in value):
        return list(value)
    raise BodyError("yaml: map merge requires map or sequence of maps as the value")


def _estimated_bytes(value: Any) -> int:
    """Roughly the JSON size of a (possibly shared) value, without recursion."""
    total, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            total += 2 + 4 * len(item) + sum(len(key) for key in item)
            pending.extend(item.values())
        elif isinstance(item, list):
            total += 2 + len(item)
            pending.extend(item)
        else:
            total += len(item) if isinstance(item, str) else 8
        if total > MAX_EXPANDED_BYTES:
            break
    return total


def unshare(value: Any) -> Any:
    """A copy in which no dict or list appears twice (aliases share them)."""
    root: list[Any] = [None]
    pending: list[tuple[Any, Any, Any]] = [(root, 0, value)]
    while pending:
        parent, slot, item = pending.pop()
        if isinstance(item, dict):
            copy: Any = dict(item)
            pending.extend((copy, key, sub) for key, sub in item.items())
        elif isinstance(item, list):
            copy = list(item)
            pending.extend((copy, index, sub) for index, sub in enumerate(item))
        else:
            copy = item
        parent[slot] = copy
    return root[0]


def load_yaml(raw: bytes) -> Any:
    """The first YAML document of `raw` as a JSON value.

    Raises `BodyError` with go-yaml's text, `ExpandsTooLarge` for alias expansion
    past anything storable."""
    builder = _YamlBuilder()
    try:
        for event in yaml.parse(raw, Loader=yaml.CSafeLoader):
            if builder.feed(event):
                break
    except yaml.YAMLError as exc:
        raise BodyError(_yaml_problem(exc)) from None
    return unshare(builder.root) if builder.shared else builder.root


def load_json(raw: bytes) -> Any:
    """A JSON body; `BodyError` (with Go's depth text) past `MAX_DEPTH`, or for bad syntax."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if "depth limit" not in str(exc):
            raise BodyError(str(exc)) from None
    try:
        return load_yaml(raw)
    except TooDeep as exc:
        raise TooDeep(f"invalid character '{exc.opener}' exceeded max depth",
                      exc.opener) from None


class _Pairs(dict[str, Any]):
    """A JSON object that remembers its keys that came more than once."""

    duplicates: list[str]


def _object_pairs(pairs: list[tuple[str, Any]]) -> _Pairs:
    obj = _Pairs(pairs)
    obj.duplicates = []
    if len(obj) < len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                obj.duplicates.append(key)
            seen.add(key)
    return obj


def _may_repeat_keys(raw: bytes, parsed: Any) -> bool:
    """False when `raw` surely has no repeated key: it has no more `":` pairs (key ends)
    than the parsed value written back (a repeated key was merged away), and no key
    spaced from its colon. A cheap test in C before the slow parse that finds them."""
    if _SPACED_COLON.search(raw):
        return True
    try:
        return raw.count(b'":') > orjson.dumps(parsed).count(b'":')
    except orjson.JSONEncodeError:  # deeper than orjson writes: let the slow parse tell
        return True


def duplicate_fields(raw: bytes, parsed: Any) -> list[str]:
    """Paths of repeated keys in a JSON body (`metadata.name`, `spec.ports[0].port`);
    `parsed` is the body as `load_json` returned it."""
    if not _may_repeat_keys(raw, parsed):
        return []
    try:
        parsed = json.loads(raw, object_pairs_hook=_object_pairs)
    except (ValueError, RecursionError):
        return []
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("", parsed)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, _Pairs):
            found.extend(f"{path}.{key}" if path else key for key in item.duplicates)
            pending.extend((f"{path}.{key}" if path else key, sub)
                           for key, sub in reversed(item.items()))
        elif isinstance(item, list):
            pending.extend((f"{path}[{index}]", sub)
                           for index, sub in reversed(list(enumerate(item))))
    return found


def nesting_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` holds objects or arrays more than `limit` levels deep (no recursion)."""
    pending: list[tuple[Any, int]] = [(value, 0)]
    while pending:
        item, depth = pending.pop()
        if isinstance(item, dict | list):
            if depth >= limit:
                return True
            children = item.values() if isinstance(item, dict) else item
            pending.extend((child, depth + 1) for child in children)
    return False


def summarize(raw: bytes, limit: int = 30) -> str:
    """apiserver's `summarizeData`: a JSON object's start as text, anything else in hex."""
    if not raw:
        return "<empty>"
    head = raw[:limit]
    more = " ..." if len(raw) > limit else ""
    if raw[:1] == b"{":
        return head.decode(errors="replace") + more
    return head.hex() + more
