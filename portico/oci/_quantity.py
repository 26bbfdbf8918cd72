"""Kubernetes resource quantities as the runtime needs them (pure): CPU in
millicores, memory in bytes (`128Mi`, `1G`, `500m`, `1e3`), rounded up as kubelet does."""

from __future__ import annotations

import math
import re
from decimal import Decimal

_SUFFIX = {"": 1, "m": Decimal("0.001"), "k": 10**3, "M": 10**6, "G": 10**9, "T": 10**12,
           "P": 10**15, "E": 10**18, "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40,
           "Pi": 2**50, "Ei": 2**60}
_QUANTITY = re.compile(r"([+-]?[0-9.]+(?:[eE][+-]?[0-9]+)?)(|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)")


def parse(text: str) -> Decimal:
    match = _QUANTITY.fullmatch(text.strip())
    if not match:
        raise ValueError(f"quantities must match the regular expression: {text!r}")
    return Decimal(match.group(1)) * _SUFFIX[match.group(2)]


def milli_cpu(text: str) -> int:
    return math.ceil(parse(text) * 1000)


def memory_bytes(text: str) -> int:
    return math.ceil(parse(text))
