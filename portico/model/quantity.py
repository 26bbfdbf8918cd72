"""Kubernetes resource quantities (`resource.Quantity`) as exact fractions (pure).

`parse_quantity("1Gi") == Fraction(2**30)`, `parse_quantity("250m") == Fraction(1, 4)`:
a number with a binary suffix (Ki..Ei), a decimal suffix (n, u, m, "", k, M..E) or
a decimal exponent (`1e3`).  Raises ValueError for anything else.
`format_cpu_milli` / `format_bytes` write usage values as metrics-server does
(`12m`, `3456Ki`).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction

_NUMBER = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(.*)")
_BINARY = {"Ki": 1, "Mi": 2, "Gi": 3, "Ti": 4, "Pi": 5, "Ei": 6}
_DECIMAL = {"n": -9, "u": -6, "m": -3, "": 0, "k": 3, "M": 6, "G": 9, "T": 12, "P": 15, "E": 18}
_EXPONENT = re.compile(r"[eE]([+-]?\d+)")


def parse_quantity(value: str | int | float) -> Fraction:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return Fraction(value)
    match = _NUMBER.fullmatch(str(value).strip())
    if match is None:
        raise ValueError(f"quantities must match the regular expression: {value!r}")
    number, suffix = Fraction(match.group(1)), match.group(2)
    if suffix in _BINARY:
        return number * Fraction(1024) ** _BINARY[suffix]
    if suffix in _DECIMAL:
        return number * Fraction(10) ** _DECIMAL[suffix]
    exponent = _EXPONENT.fullmatch(suffix)
    if exponent:
        return number * Fraction(10) ** int(exponent.group(1))
    raise ValueError(f"unable to parse quantity's suffix: {value!r}")


def milli_value(value: str | int | float) -> int:
    """The quantity in thousandths, rounded up (Quantity.MilliValue)."""
    return math.ceil(parse_quantity(value) * 1000)


def value(quantity: str | int | float) -> int:
    """The quantity as a whole number, rounded up (Quantity.Value: bytes for memory)."""
    return math.ceil(parse_quantity(quantity))


def format_cpu_milli(millis: int) -> str:
    return f"{millis}m"


def format_bytes(value: int) -> str:
    return f"{value // 1024}Ki"
