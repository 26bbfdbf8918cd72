"""The Kubernetes CEL libraries (`AS:pkg/cel/library/`) that cel-cpp does not have.

cel-cpp (through `cel-expr-python`) brings the standard library, the strings
extension and optionals. kube-apiserver adds its own functions; this module
declares them as one `CelExtension` whose implementations are plain Python:

- regex: `<string>.find(<regex>)`, `<string>.findAll(<regex>[, <limit>])` (RE2 syntax;
  Python's `re` accepts the RE2 subset the rules use);
- lists: `isSorted`, `sum`, `min`, `max`, `indexOf`, `lastIndexOf` on lists of
  ints, doubles and strings;
- ip/cidr: `isIP(<string>)`, `isCIDR(<string>)` (kube's strict parsing: no
  IPv4-mapped IPv6, no zones, no leading zeros);
- url: `isURL(<string>)` (absolute URI or absolute path, as Go's `url.ParseRequestURI`);
- quantity: `isQuantity(<string>)` (the resource.Quantity grammar);
- sets (cel-go's `ext.Sets`): `sets.contains`, `sets.equivalent`, `sets.intersects`.

The object-returning forms (`ip()`, `cidr()`, `url()`, `quantity()`) need
opaque CEL types that the Python binding cannot carry and are not declared: a
rule using them fails to compile with cel-cpp's "undeclared reference" error.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Sequence
from typing import Any

from cel_expr_python import cel

_QUANTITY = re.compile(
    r"^[+-]?(\d+(\.\d*)?|\.\d+)"
    r"(([KMGTPE]i)|[mkMGTPE]|[eE][+-]?\d+|n|u)?$"
)
_GO_RE_ONLY = re.compile(r"\\z")


def _regex(pattern: str) -> re.Pattern[str]:
    return re.compile(_GO_RE_ONLY.sub(r"\\Z", pattern))


def find(value: str, pattern: str) -> str:
    match = _regex(pattern).search(value)
    return match.group(0) if match else ""


def find_all(value: str, pattern: str, limit: int = -1) -> list[str]:
    found = [m.group(0) for m in _regex(pattern).finditer(value)]
    return found if limit < 0 else found[:limit]


def is_ip(value: str) -> bool:
    """`net/netip` parsing as kube's `isIP`: no zone, no IPv4-in-IPv6 form, no leading 0s."""
    if "%" in value:
        return False
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        return False
    return not (isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None
                and "." in value)


def is_cidr(value: str) -> bool:
    """`<ip>/<prefix length>` with `is_ip`'s strict address and a prefix that fits it."""
    address, sep, bits = value.partition("/")
    if not (sep and bits.isdigit() and is_ip(address)):
        return False
    return int(bits) <= (32 if "." in address else 128)


def is_url(value: str) -> bool:
    """Go's `url.ParseRequestURI`: an absolute URI or an absolute path (a `#` is
    part of the path), no control characters, no spaces in the authority."""
    if not value or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        return False
    if value.startswith("/"):
        return True
    scheme, colon, rest = value.partition(":")
    if not colon or re.fullmatch(r"[A-Za-z][A-Za-z0-9+.-]*", scheme) is None:
        return False
    authority = rest[2:].split("/", 1)[0] if rest.startswith("//") else ""
    return " " not in authority


def is_quantity(value: str) -> bool:
    return _QUANTITY.match(value) is not None


def is_sorted(items: Sequence[Any]) -> bool:
    return all(a <= b for a, b in zip(items, items[1:], strict=False))


def index_of(items: Sequence[Any], wanted: Any) -> int:
    return next((i for i, item in enumerate(items) if item == wanted), -1)


def last_index_of(items: Sequence[Any], wanted: Any) -> int:
    found = [i for i, item in enumerate(items) if item == wanted]
    return found[-1] if found else -1


def _extreme(pick: Callable[[Sequence[Any]], Any]) -> Callable[[Sequence[Any]], Any]:
    def extreme(items: Sequence[Any]) -> Any:
        if not items:
            raise ValueError("min called on empty list" if pick is min else
                             "max called on empty list")
        return pick(items)
    return extreme


T = cel.Type


def _overload(name: str, result: cel.Type, params: list[cel.Type], impl: Callable[..., Any],
              member: bool) -> cel.Overload:
    return cel.Overload(name, result, params, is_member=member, impl=impl)


def _global(name: str, impl: Callable[..., Any], *params: cel.Type,
            result: cel.Type = T.BOOL) -> cel.FunctionDecl:
    return cel.FunctionDecl(name, [_overload(f"{name}_string", result, list(params), impl,
                                             False)])


def _list_function(name: str, result: cel.Type, impl: Callable[..., Any],
                   with_element: bool = False) -> cel.FunctionDecl:
    """cel-cpp dispatches on runtime kinds only (every list is one kind), so each list
    function has one overload over `list(dyn)` and Python handles the element types."""
    params = [T.List(T.DYN), T.DYN] if with_element else [T.List(T.DYN)]
    return cel.FunctionDecl(name, [_overload(f"list_{name}", result, params, impl, True)])


def _list_functions() -> list[cel.FunctionDecl]:
    return [
        _list_function("isSorted", T.BOOL, is_sorted),
        _list_function("sum", T.DYN, sum),
        _list_function("min", T.DYN, _extreme(min)),
        _list_function("max", T.DYN, _extreme(max)),
        _list_function("indexOf", T.INT, index_of, with_element=True),
        _list_function("lastIndexOf", T.INT, last_index_of, with_element=True),
    ]


def sets_contain(items: Sequence[Any], wanted: Sequence[Any]) -> bool:
    return all(w in items for w in wanted)


def sets_equivalent(first: Sequence[Any], second: Sequence[Any]) -> bool:
    return sets_contain(first, second) and sets_contain(second, first)


def sets_intersect(first: Sequence[Any], second: Sequence[Any]) -> bool:
    return any(item in first for item in second)


def _set_functions() -> list[cel.FunctionDecl]:
    lists = [T.List(T.DYN), T.List(T.DYN)]
    return [cel.FunctionDecl(f"sets.{name}", [_overload(f"sets_{name}", T.BOOL, lists, impl,
                                                        False)])
            for name, impl in (("contains", sets_contain), ("equivalent", sets_equivalent),
                               ("intersects", sets_intersect))]


def kubernetes_library() -> cel.CelExtension:
    """The extension with every function this module implements."""
    functions = [
        _global("isIP", is_ip, T.STRING),
        _global("isCIDR", is_cidr, T.STRING),
        _global("isURL", is_url, T.STRING),
        _global("isQuantity", is_quantity, T.STRING),
        cel.FunctionDecl("find", [_overload("string_find_string", T.STRING,
                                            [T.STRING, T.STRING], find, True)]),
        cel.FunctionDecl("findAll", [
            _overload("string_find_all_string", T.List(T.STRING), [T.STRING, T.STRING],
                      find_all, True),
            _overload("string_find_all_string_int", T.List(T.STRING),
                      [T.STRING, T.STRING, T.INT], find_all, True),
        ]),
        *_list_functions(),
        *_set_functions(),
    ]
    return cel.CelExtension("kubernetes", functions)
