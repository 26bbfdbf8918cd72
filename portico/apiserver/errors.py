"""Kubernetes `Status` errors, shaped and worded as apimachinery's `api/errors`.

Every failure the API server returns is a `StatusError`; the HTTP layer turns it
into a `Status` body with the same code, reason and message kube-apiserver gives.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any


class ErrorType(str, enum.Enum):
    """`field.ErrorType`: the reason in a `StatusCause` and the wording of the error body."""

    NOT_FOUND = "FieldValueNotFound"
    REQUIRED = "FieldValueRequired"
    DUPLICATE = "FieldValueDuplicate"
    INVALID = "FieldValueInvalid"
    NOT_SUPPORTED = "FieldValueNotSupported"
    FORBIDDEN = "FieldValueForbidden"
    TOO_LONG = "FieldValueTooLong"
    TOO_MANY = "FieldValueTooMany"
    INTERNAL = "InternalError"
    TYPE_INVALID = "FieldValueTypeInvalid"


_NO_VALUE = object()


def go_repr(value: Any) -> str:
    """Render a value the way Go's `%#v`/`%v` does in field errors.

    Strings are quoted, integers and booleans bare, string lists as `[]string{"a"}`.
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, int | float):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return "[]string{" + ", ".join(go_repr(v) for v in value) + "}"
    if isinstance(value, list) and all(isinstance(v, int) for v in value):
        return "[]int32{" + ", ".join(str(v) for v in value) + "}"
    return str(value)


def json_kind(value: Any) -> str:
    """The JSON kind of a decoded value as Go's `encoding/json` names it in a type error
    (`json: cannot unmarshal <kind> into Go value of type ...`)."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return "string"


@dataclass(frozen=True)
class FieldError:
    """One problem with one field (`field.Error`); `message()` is `field.Error.Error()`."""

    type: ErrorType
    field: str
    value: Any = _NO_VALUE
    detail: str = ""
    supported: tuple[str, ...] = ()

    def body(self) -> str:
        detail = self.detail
        match self.type:
            case ErrorType.REQUIRED:
                text = "Required value"
            case ErrorType.FORBIDDEN:
                text = "Forbidden"
            case ErrorType.INTERNAL:
                text = "Internal error"
            case ErrorType.TOO_LONG:
                text = "Too long"
            case ErrorType.TOO_MANY:
                text = "Too many"
                if self.value is not _NO_VALUE:
                    text += f": {go_repr(self.value)}"
            case ErrorType.NOT_SUPPORTED:
                text = f"Unsupported value: {go_repr(self.value)}"
                if self.supported:
                    quoted = ", ".join(go_repr(s) for s in self.supported)
                    detail = f"supported values: {quoted}"
            case ErrorType.DUPLICATE:
                text = f"Duplicate value: {go_repr(self.value)}"
            case ErrorType.NOT_FOUND:
                text = f"Not found: {go_repr(self.value)}"
            case _:
                text = "Invalid value"
                if self.value is not _NO_VALUE:
                    text += f": {go_repr(self.value)}"
        return f"{text}: {detail}" if detail else text

    def message(self) -> str:
        return f"{self.field}: {self.body()}"


def required(path: str, detail: str = "") -> FieldError:
    return FieldError(ErrorType.REQUIRED, path, detail=detail)


def invalid(path: str, value: Any, detail: str) -> FieldError:
    return FieldError(ErrorType.INVALID, path, value, detail)


def forbidden(path: str, detail: str) -> FieldError:
    return FieldError(ErrorType.FORBIDDEN, path, detail=detail)


def duplicate(path: str, value: Any) -> FieldError:
    return FieldError(ErrorType.DUPLICATE, path, value)


def not_supported(path: str, value: Any, supported: tuple[str, ...]) -> FieldError:
    return FieldError(ErrorType.NOT_SUPPORTED, path, value, supported=supported)


def too_many(path: str, count: int, limit: int) -> FieldError:
    """`field.TooMany`: a list with more than `limit` items."""
    noun = "item" if limit == 1 else "items"
    return FieldError(ErrorType.TOO_MANY, path, count, f"must have at most {limit} {noun}")


def too_long(path: str, limit: int) -> FieldError:
    return FieldError(ErrorType.TOO_LONG, path, detail=f"may not be more than {limit} bytes")


class StatusError(Exception):
    """An API failure carrying a complete `Status` object."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details

    def status(self) -> dict[str, Any]:
        return status_body("Failure", message=self.message, reason=self.reason,
                           details=self.details, code=self.code)


# Field order of metav1.StatusDetails and metav1.StatusCause (every field `omitempty`).
_DETAIL_FIELDS = ("name", "group", "kind", "uid", "causes", "retryAfterSeconds")
_CAUSE_FIELDS = ("reason", "message", "field")


def _present(value: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    return {f: value[f] for f in fields if value.get(f)}


def status_body(status: str, *, message: str = "", reason: str = "",
                details: dict[str, Any] | None = None, code: int = 0) -> dict[str, Any]:
    """A `metav1.Status` as kube-apiserver serializes it: the Go struct's field order
    (kind, apiVersion, metadata, status, message, reason, details, code), every
    empty field left out as `omitempty` does (`metadata` is a struct and `details` a
    pointer: there even when empty)."""
    body: dict[str, Any] = {"kind": "Status", "apiVersion": "v1", "metadata": {},
                            "status": status, "message": message, "reason": reason}
    if details is not None:
        shown = _present(details, _DETAIL_FIELDS)
        if "causes" in shown:
            shown["causes"] = [_present(c, _CAUSE_FIELDS) for c in shown["causes"]]
        body["details"] = shown
    body["code"] = code
    return {k: v for k, v in body.items() if v or k in ("metadata", "details")}


def _details(resource: str, name: str, group: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {"name": name} if name else {}
    if group:
        out["group"] = group
    out["kind"] = resource
    return out


def qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        404, "NotFound", f'{qualified(resource, group)} "{name}" not found',
        _details(resource, name, group),
    )


def already_exists(resource: str, name: str, group: str = "") -> StatusError:
    return StatusError(
        409, "AlreadyExists", f'{qualified(resource, group)} "{name}" already exists',
        _details(resource, name, group),
    )


def conflict(resource: str, name: str, group: str = "", why: str = "") -> StatusError:
    why = why or (
        "the object has been modified; please apply your changes to the latest version "
        "and try again"
    )
    return StatusError(
        409, "Conflict",
        f'Operation cannot be fulfilled on {qualified(resource, group)} "{name}": {why}',
        _details(resource, name, group),
    )


def invalid_object(kind: str, name: str, errors: list[FieldError], group: str = "") -> StatusError:
    """422 Invalid, as `errors.NewInvalid`: one cause per field error."""
    messages = [e.message() for e in errors]
    joined = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = _details(kind, name, group)
    details["causes"] = [
        {"reason": e.type.value, "message": e.body(), "field": e.field} for e in errors
    ]
    return StatusError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {joined}', details)


def bad_request(message: str) -> StatusError:
    return StatusError(400, "BadRequest", message)


def method_not_allowed(message: str = "the server does not allow this method on the requested resource") -> StatusError:  # noqa: E501
    return StatusError(405, "MethodNotAllowed", message)


def unsupported_media_type(content_type: str) -> StatusError:
    return StatusError(
        415, "UnsupportedMediaType", f'the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf; content type "{content_type}" is not supported'  # noqa: E501
    )


def gone(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def internal(message: str) -> StatusError:
    """`errors.NewInternalError`: the cause's message is repeated in `details.causes`."""
    return StatusError(500, "InternalError", f"Internal error occurred: {message}",
                       {"causes": [{"message": message}]})


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def request_too_large() -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")
