"""`LabelSelector` validation, matching and formatting (`metav1` and `metav1/validation`).

Selectors here are the JSON dicts of a `LabelSelector`
(`{"matchLabels": {...}, "matchExpressions": [{key, operator, values}]}`).
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, required
from portico.apiserver.resources._meta import validate_labels
from portico.model.selectors import is_qualified_name, is_valid_label_value

_SELECTOR_OPS = ("In", "NotIn", "Exists", "DoesNotExist")


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """`metav1validation.ValidateLabelSelector` (strict label values)."""
    if not selector:
        return []
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator", "")
        values = expr.get("values") or []
        if op in ("In", "NotIn"):
            if not values:
                errs.append(required(
                    f"{at}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                ))
        elif op in ("Exists", "DoesNotExist"):
            if values:
                errs.append(forbidden(
                    f"{at}.values",
                    "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
                ))
        else:
            errs.append(invalid(f"{at}.operator", op, "not a valid selector operator"))
        key = expr.get("key", "")
        errs.extend(invalid(f"{at}.key", key, m) for m in is_qualified_name(key))
        for j, value in enumerate(values):
            errs.extend(invalid(f"{at}.values[{j}]", value, m) for m in is_valid_label_value(value))
    return errs


def selector_matches(selector: Any, labels: dict[str, str] | None) -> bool:
    """Whether a `LabelSelector` matches a label set (an empty selector matches everything)."""
    labels = labels or {}
    selector = selector or {}
    for key, value in (selector.get("matchLabels") or {}).items():
        if labels.get(key) != value:
            return False
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = expr.get("values") or []
        ok = {
            "In": key in labels and labels[key] in values,
            "NotIn": not (key in labels and labels[key] in values),
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }.get(op, False)
        if not ok:
            return False
    return True


def selector_string(selector: Any) -> str:
    """`metav1.FormatLabelSelector`: `app=web,tier in (a,b)`, `<none>` when empty."""
    selector = selector or {}
    parts = [(k, f"{k}={v}") for k, v in (selector.get("matchLabels") or {}).items()]
    for expr in selector.get("matchExpressions") or []:
        key, op = expr.get("key", ""), expr.get("operator", "")
        values = ",".join(sorted(expr.get("values") or []))
        text = {
            "In": f"{key} in ({values})",
            "NotIn": f"{key} notin ({values})",
            "Exists": key,
            "DoesNotExist": f"!{key}",
        }.get(op)
        if text is not None:
            parts.append((key, text))
    joined = ",".join(text for _, text in sorted(parts))
    return joined or "<none>"
