"""Name, label and `ObjectMeta` validation, worded exactly as apimachinery's validators.

The `is_*` functions mirror `k8s.io/apimachinery/pkg/util/validation`: each takes a
value and returns the list of problem descriptions (empty when valid), so callers
wrap them in `FieldError`s at whatever field path they are validating.

`validate_object_meta` / `validate_object_meta_update` mirror
`ValidateObjectMetaAccessor(Update)`; `validate_labels` mirrors `metav1/validation`
(label selectors live in `_selector.py`). Kind strategies never call these: the
registry validates metadata for every kind (choosing the name rule from
`Strategy.name_validation`). Map iteration in Go is random; here keys are visited
in sorted order so that error lists are deterministic.

`GoValue` carries a pre-rendered Go `%#v` literal (e.g. `map[string]string{"a":"b"}`)
as a field error's bad value.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, required, too_long
from portico.apiserver.resources import _base
from portico.model.validation import is_qualified_name, is_valid_label_value

FIELD_IMMUTABLE = "field is immutable"
DNS1123_LABEL_MAX = 63
DNS1123_SUBDOMAIN_MAX = 253
TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024

_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_SUBDOMAIN_FMT = _LABEL_FMT + "(\\." + _LABEL_FMT + ")*"
_QNAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE_FMT = "(" + _QNAME_FMT + ")?"
_DNS1035_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_CONFIG_KEY_FMT = "[-._a-zA-Z0-9]+"
_WILDCARD_FMT = "\\*\\." + _SUBDOMAIN_FMT
_ENV_NAME_FMT = "[-._a-zA-Z][-._a-zA-Z0-9]*"

_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character"
)
_QNAME_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, "
    "'-', '_' or '.', and must start and end with an alphanumeric character"
)
_DNS1035_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', "
    "start with an alphabetic character, and end with an alphanumeric character"
)
_CONFIG_KEY_MSG = "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
_WILDCARD_MSG = (
    "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, "
    "which must consist of lower case alphanumeric characters, '-' or '.' and end with an "
    "alphanumeric character"
)
_ENV_NAME_MSG = (
    "a valid environment variable name must consist of alphabetic characters, digits, "
    "'_', '-', or '.', and must not start with a digit"
)


def _full(fmt: str) -> re.Pattern[str]:
    return re.compile("^" + fmt + "$")


_LABEL_RE = _full(_LABEL_FMT)
_SUBDOMAIN_RE = _full(_SUBDOMAIN_FMT)
_QNAME_RE = _full(_QNAME_FMT)
_LABEL_VALUE_RE = _full(_LABEL_VALUE_FMT)
_DNS1035_RE = _full(_DNS1035_FMT)
_CONFIG_KEY_RE = _full(_CONFIG_KEY_FMT)
_WILDCARD_RE = _full(_WILDCARD_FMT)
_ENV_NAME_RE = _full(_ENV_NAME_FMT)
_PORT_NAME_RE = re.compile("^[-a-z0-9]+$")
_QNAME_EXAMPLES = ("MyName", "my.name", "123-abc")


@dataclass(frozen=True)
class GoValue:
    """A bad value already rendered as Go prints it (`go_repr` falls back to `str`)."""

    text: str

    def __str__(self) -> str:
        return self.text


def go_string_map(value: dict[str, Any] | None) -> GoValue:
    """`%#v` of a `map[string]string`: keys sorted, `map[string]string{"a":"b", "c":"d"}`."""
    if value is None:
        return GoValue("map[string]string(nil)")
    body = ", ".join(f"{_quote(k)}:{_quote(str(v))}" for k, v in sorted(value.items()))
    return GoValue("map[string]string{" + body + "}")


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def max_len_error(length: int) -> str:
    return f"must be no more than {length} characters"


def regex_error(msg: str, fmt: str, *examples: str) -> str:
    """`RegexError`: note Go's doubled space between examples ("'a',  or 'b'")."""
    if not examples:
        return f"{msg} (regex used for validation is '{fmt}')"
    shown = " or ".join(f"'{e}', " for e in examples)
    return f"{msg} (e.g. {shown}regex used for validation is '{fmt}')"


def empty_error() -> str:
    return "must be non-empty"


def inclusive_range_error(lo: int, hi: int) -> str:
    return f"must be between {lo} and {hi}, inclusive"


_LABEL_ERROR = regex_error(_LABEL_MSG, _LABEL_FMT, "my-name", "123-abc")
_SUBDOMAIN_ERROR = regex_error(_SUBDOMAIN_MSG, _SUBDOMAIN_FMT, "example.com")
_DNS1035_ERROR = regex_error(_DNS1035_MSG, _DNS1035_FMT, "my-name", "abc-123")
_WILDCARD_ERROR = regex_error(_WILDCARD_MSG, _WILDCARD_FMT, "*.example.com")
_CONFIG_KEY_ERROR = regex_error(
    _CONFIG_KEY_MSG, _CONFIG_KEY_FMT, "key.name", "KEY_NAME", "key-name"
)


def _name_format_errors(value: str, max_len: int, pattern: re.Pattern[str],
                        mismatch: str) -> list[str]:
    """A DNS-style name's checks: at most `max_len` characters, then `mismatch` (the
    format error) unless it matches `pattern`."""
    errs = [max_len_error(max_len)] if len(value) > max_len else []
    if not pattern.match(value):
        errs.append(mismatch)
    return errs


def is_dns1123_label(value: str) -> list[str]:
    errs = _name_format_errors(value, DNS1123_LABEL_MAX, _LABEL_RE, _LABEL_ERROR)
    if errs and errs[-1] == _LABEL_ERROR and _SUBDOMAIN_RE.match(value):
        errs[-1] = "must not contain dots"  # a valid subdomain: only its dots are wrong
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    return _name_format_errors(value, DNS1123_SUBDOMAIN_MAX, _SUBDOMAIN_RE, _SUBDOMAIN_ERROR)


def is_dns1035_label(value: str) -> list[str]:
    return _name_format_errors(value, DNS1123_LABEL_MAX, _DNS1035_RE, _DNS1035_ERROR)


def is_wildcard_dns1123_subdomain(value: str) -> list[str]:
    return _name_format_errors(value, DNS1123_SUBDOMAIN_MAX, _WILDCARD_RE, _WILDCARD_ERROR)


def is_valid_port_num(port: int) -> list[str]:
    return [] if 1 <= port <= 65535 else [inclusive_range_error(1, 65535)]


def is_valid_port_name(port: str) -> list[str]:
    errs: list[str] = []
    if len(port) > 15:
        errs.append(max_len_error(15))
    if not _PORT_NAME_RE.match(port):
        errs.append("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)")
    if not re.search("[a-z]", port):
        errs.append("must contain at least one letter (a-z)")
    if "--" in port:
        errs.append("must not contain consecutive hyphens")
    if port and (port[0] == "-" or port[-1] == "-"):
        errs.append("must not begin or end with a hyphen")
    return errs


def is_valid_ip(value: str) -> list[str]:
    """`IsValidIP` (legacy parser: no zones, leading zeros rejected like netip)."""
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return ["must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)"]
    return []


def is_config_map_key(value: str) -> list[str]:
    errs = _name_format_errors(value, DNS1123_SUBDOMAIN_MAX, _CONFIG_KEY_RE, _CONFIG_KEY_ERROR)
    return [*errs, *_chdir_prefix(value)]


def is_env_var_name(value: str) -> list[str]:
    errs: list[str] = []
    if not _ENV_NAME_RE.match(value):
        examples = ("my.env-name", "MY_ENV.NAME", "MyEnvName1")
        errs.append(regex_error(_ENV_NAME_MSG, _ENV_NAME_FMT, *examples))
    errs.extend(_chdir_prefix(value))
    return errs


def _chdir_prefix(value: str) -> list[str]:
    if value == ".":
        return ["must not be '.'"]
    if value == "..":
        return ["must not be '..'"]
    if value.startswith(".."):
        return ["must not start with '..'"]
    return []


def _mask_trailing_dash(name: str) -> str:
    """`maskTrailingDash`: a generateName prefix may end with '-'."""
    if len(name) > 1 and name.endswith("-"):
        return name[:-2] + "a"
    return name


def name_errors(value: str, prefix: bool, name_validator: str = "subdomain") -> list[str]:
    """`NameIsDNSSubdomain` / `NameIsDNSLabel` / `NameIsDNS1035Label` /
    `ValidatePathSegmentName` ("path": RBAC's names, like `system:basic-user`)."""
    if name_validator == "path":
        return path_segment_errors(value, prefix)
    if prefix:
        value = _mask_trailing_dash(value)
    if name_validator == "label":
        return is_dns1123_label(value)
    if name_validator == "dns1035":
        return is_dns1035_label(value)
    return is_dns1123_subdomain(value)


def path_segment_errors(value: str, prefix: bool) -> list[str]:
    if not prefix and value in (".", ".."):
        return [f"may not be '{value}'"]
    return [f"may not contain '{c}'" for c in "/%" if c in value]


def validate_labels(labels: Any, path: str) -> list[FieldError]:
    """`ValidateLabels`: every error sits on the map's own path, not on the key."""
    errs: list[FieldError] = []
    for key in sorted(labels or {}):
        errs.extend(invalid(path, key, m) for m in is_qualified_name(key))
        value = str(labels[key])
        errs.extend(invalid(path, value, m) for m in is_valid_label_value(value))
    return errs


def validate_annotations(annotations: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    total = 0
    for key in sorted(annotations or {}):
        errs.extend(invalid(path, key, m) for m in is_qualified_name(key.lower()))
        total += len(key) + len(str(annotations[key]))
    if total > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(path, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_finalizers(finalizers: Any, path: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for i, fin in enumerate(finalizers or []):
        errs.extend(invalid(f"{path}[{i}]", fin, m) for m in is_qualified_name(fin))
    return errs


def validate_nonnegative(value: Any, path: str) -> list[FieldError]:
    """`ValidateNonnegativeField`."""
    if isinstance(value, int) and value < 0:
        return [invalid(path, value, "must be greater than or equal to 0")]
    return []


def validate_immutable(new: Any, old: Any, path: str) -> list[FieldError]:
    """`ValidateImmutableField`: reports the new value."""
    if new != old:
        shown = new if new is not None else GoValue("null")
        if isinstance(new, dict):
            shown = go_string_map(new)
        return [invalid(path, shown, FIELD_IMMUTABLE)]
    return []


def validate_object_meta(
    obj: _base.Object, namespaced: bool, name_validator: str = "subdomain"
) -> list[FieldError]:
    """`ValidateObjectMetaAccessor` at `metadata`."""
    meta = obj.get("metadata") or {}
    errs: list[FieldError] = []
    generate_name = meta.get("generateName") or ""
    if generate_name:
        errs.extend(
            invalid("metadata.generateName", generate_name, m)
            for m in name_errors(generate_name, True, name_validator)
        )
    name = meta.get("name") or ""
    if not name:
        errs.append(required("metadata.name", "name or generateName is required"))
    else:
        msgs = name_errors(name, False, name_validator)
        errs.extend(invalid("metadata.name", name, m) for m in msgs)
    namespace = meta.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required("metadata.namespace"))
        else:
            msgs = is_dns1123_label(namespace)
            errs.extend(invalid("metadata.namespace", namespace, m) for m in msgs)
    elif namespace:
        errs.append(forbidden("metadata.namespace", "not allowed on this type"))
    errs.extend(validate_nonnegative(meta.get("generation"), "metadata.generation"))
    errs.extend(validate_labels(meta.get("labels"), "metadata.labels"))
    errs.extend(validate_annotations(meta.get("annotations"), "metadata.annotations"))
    errs.extend(validate_finalizers(meta.get("finalizers"), "metadata.finalizers"))
    return errs


def validate_object_meta_update(new: _base.Object, old: _base.Object) -> list[FieldError]:
    """`ValidateObjectMetaAccessorUpdate` at `metadata`: immutability and generation only.

    The registry runs `validate_object_meta` on every update as well, so labels and
    annotations are checked there (once); resourceVersion is the store's job.
    """
    nm = new.get("metadata") or {}
    om = old.get("metadata") or {}
    errs: list[FieldError] = []
    if old_gen := om.get("generation"):
        gen = nm.get("generation") or 0
        if gen < old_gen:
            errs.append(invalid("metadata.generation", gen, "must not be decremented"))
    for key in (
        "name", "namespace", "uid", "creationTimestamp", "deletionTimestamp",
        "deletionGracePeriodSeconds",
    ):
        errs.extend(validate_immutable(nm.get(key), om.get(key), f"metadata.{key}"))
    return errs
