"""RFC 6902 JSON patch (`application/json-patch+json`), as gopkg.in/evanphx/json-patch.v4.

Operations run in order on a copy of the document; the first failure aborts
the patch. Failures are 422 (`unprocessable`) carrying the library's own error
text, e.g. `add operation does not apply: doc is missing path: "/a/b": missing value`.
Quirks kept from the library: `replace` on a missing object key adds it, and
negative list indices count from the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from portico.apiserver.errors import StatusError, bad_request, json_kind
from portico.apiserver.patch._common import deep_copy, same, unprocessable

MAX_OPERATIONS = 10000
_MISSING = "missing value"
_BAD_INDEX = "invalid index referenced"


class _Failure(Exception):
    """A json-patch library error; `str()` is its Go error text."""


Container = dict[str, Any] | list[Any]


def _decode_key(part: str) -> str:
    return part.replace("~1", "/").replace("~0", "~")


def _atoi(key: str) -> int:
    body = key[1:] if key[:1] in "+-" and len(key) > 1 else key
    if not body.isdigit() or not body.isascii():
        raise _Failure(f'strconv.Atoi: parsing "{key}": invalid syntax')
    return int(key)


def _get(con: Container, key: str) -> Any:
    if isinstance(con, dict):
        return con.get(key)
    idx = _atoi(key)
    if idx >= len(con) or idx < 0:
        raise _Failure(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    return con[idx]


def _find(doc: Container, path: str) -> tuple[Container | None, str]:
    split = path.split("/")
    if len(split) < 2:
        return None, ""
    node: Any = doc
    for part in split[1:-1]:
        try:
            node = _get(node, _decode_key(part))
        except _Failure:
            return None, ""
        if not isinstance(node, dict | list):
            return None, ""
    return node, _decode_key(split[-1])


def _add(con: Container, key: str, value: Any) -> None:
    if isinstance(con, dict):
        con[key] = value
        return
    if key == "-":
        con.append(value)
        return
    try:
        idx = _atoi(key)
    except _Failure as err:
        raise _Failure(f"value was not a proper array index: '{key}': {err}") from None
    size = len(con) + 1
    if idx >= size or idx < -size:
        raise _Failure(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    con.insert(idx + size if idx < 0 else idx, value)


def _remove(con: Container, key: str) -> Any:
    if isinstance(con, dict):
        if key not in con:
            raise _Failure(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        return con.pop(key)
    idx = _atoi(key)
    if idx >= len(con) or idx < -len(con):
        raise _Failure(f"Unable to access invalid index: {idx}: {_BAD_INDEX}")
    return con.pop(idx)


def _field(op: dict[str, Any], name: str, what: str) -> str:
    value = op.get(name)
    if value is None:
        raise _Failure(f"{what}: {_MISSING}")
    if not isinstance(value, str):
        raise _Failure(f"json: cannot unmarshal {json_kind(value)} into Go value of type string")
    return value


def _path(op: dict[str, Any], verb: str) -> str:
    try:
        return _field(op, "path", "operation missing path field")
    except _Failure as err:
        if verb in ("add", "remove", "copy"):
            raise _Failure(f"{verb} operation failed to decode path: {_MISSING}") from None
        raise _Failure(f"{verb} operation failed to decode path: {err}") from None


def _from(op: dict[str, Any], verb: str) -> str:
    with _wrapped(f"{verb} operation failed to decode from"):
        return _field(op, "from", "operation, missing from field")


@contextmanager
def _wrapped(prefix: str) -> Iterator[None]:
    """A failure inside the block, prefixed with `prefix` (the library's `errors.Wrapf`)."""
    try:
        yield
    except _Failure as err:
        raise _Failure(f"{prefix}: {err}") from None


def _locate(doc: Container, path: str, does_not_apply: str) -> tuple[Container, str]:
    """`findObject`: the container of `path`'s last step and that step, or the
    operation's `does_not_apply` failure where the container is missing."""
    con, key = _find(doc, path)
    if con is None:
        raise _Failure(f"{does_not_apply}: {_MISSING}")
    return con, key


def _op_add(doc: Container, op: dict[str, Any]) -> None:
    path = _path(op, "add")
    con, key = _locate(doc, path, f'add operation does not apply: doc is missing path: "{path}"')
    with _wrapped(f"error in add for path: '{path}'"):
        _add(con, key, deep_copy(op.get("value")))


def _op_remove(doc: Container, op: dict[str, Any]) -> None:
    path = _path(op, "remove")
    con, key = _locate(
        doc, path, f'remove operation does not apply: doc is missing path: "{path}"'
    )
    with _wrapped(f"error in remove for path: '{path}'"):
        _remove(con, key)


def _op_replace(doc: Container, op: dict[str, Any]) -> None:
    path = _path(op, "replace")
    con, key = _locate(doc, path, f"replace operation does not apply: doc is missing path: {path}")
    if isinstance(con, dict):
        con[key] = deep_copy(op.get("value"))
        return
    try:
        idx = _atoi(key)
        _get(con, key)
    except _Failure:
        raise _Failure(
            f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
        ) from None
    con[idx] = deep_copy(op.get("value"))


def _locate_from(doc: Container, op: dict[str, Any], verb: str) -> tuple[str, Container, str]:
    """A move's or copy's `from`, located."""
    source = _from(op, verb)
    con, key = _locate(
        doc, source, f"{verb} operation does not apply: doc is missing from path: {source}"
    )
    return source, con, key


def _locate_destination(doc: Container, op: dict[str, Any],
                        verb: str) -> tuple[str, Container, str]:
    """A move's or copy's `path`, located."""
    path = _path(op, verb)
    con, key = _locate(
        doc, path, f"{verb} operation does not apply: doc is missing destination path: {path}"
    )
    return path, con, key


def _op_move(doc: Container, op: dict[str, Any]) -> None:
    _, con, key = _locate_from(doc, op, "move")
    with _wrapped(f"error in move for path: '{key}'"):
        value = _get(con, key)
        _remove(con, key)
    path, con, key = _locate_destination(doc, op, "move")
    with _wrapped(f"error in move for path: '{path}'"):
        _add(con, key, value)


def _op_copy(doc: Container, op: dict[str, Any]) -> None:
    source, con, key = _locate_from(doc, op, "copy")
    with _wrapped(f"error in copy for from: '{source}'"):
        value = _get(con, key)
    _, con, key = _locate_destination(doc, op, "copy")
    with _wrapped("error while adding value during copy"):
        _add(con, key, deep_copy(value))


def _op_test(doc: Container, op: dict[str, Any]) -> None:
    path = _path(op, "test")
    con, key = _locate(doc, path, f"test operation does not apply: is missing path: {path}")
    with _wrapped(f"error in test for path: '{path}'"):
        value = _get(con, key)
    if not same(value, op.get("value")):
        raise _Failure(f"testing value {path} failed: test failed")


_OPERATIONS = {
    "add": _op_add,
    "remove": _op_remove,
    "replace": _op_replace,
    "move": _op_move,
    "copy": _op_copy,
    "test": _op_test,
}


def _decode(operations: Any) -> list[dict[str, Any]]:
    if not isinstance(operations, list):
        raise bad_request(
            f"json: cannot unmarshal {json_kind(operations)} into Go value of type jsonpatch.Patch"
        )
    for op in operations:
        if op is not None and not isinstance(op, dict):
            raise bad_request(
                f"json: cannot unmarshal {json_kind(op)} into Go value of type jsonpatch.Operation"
            )
    if len(operations) > MAX_OPERATIONS:
        raise StatusError(
            413,
            "RequestEntityTooLarge",
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(operations)}",
        )
    return [op or {} for op in operations]


def json_patch(original: dict[str, Any], operations: Any) -> Any:
    """Apply an RFC 6902 operation list to a copy of `original`; 422 on the first failure."""
    ops = _decode(operations)
    doc: Container = deep_copy(original)
    for op in ops:
        kind = op.get("op")
        handler = _OPERATIONS.get(kind) if isinstance(kind, str) else None
        try:
            if handler is None:
                label = kind if isinstance(kind, str) else "unknown"
                raise _Failure(f"Unexpected kind: {label}")
            handler(doc, op)
        except _Failure as err:
            raise unprocessable(str(err)) from None
    return doc
