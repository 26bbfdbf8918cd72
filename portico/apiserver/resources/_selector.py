"""`LabelSelector` validation (`metav1/validation.ValidateLabelSelector`).

Selectors here are the JSON dicts of a `LabelSelector`
(`{"matchLabels": {...}, "matchExpressions": [{key, operator, values}]}`); matching
and formatting are `portico.model.selectors`'.
"""

from __future__ import annotations

from typing import Any

from portico.apiserver.errors import FieldError, forbidden, invalid, required
from portico.apiserver.resources._meta import validate_labels
from portico.model.validation import is_qualified_name, is_valid_label_value
from portico.model.vocabulary import LabelSelectorOperator


def validate_label_selector(selector: Any, path: str) -> list[FieldError]:
    """`metav1validation.ValidateLabelSelector` (strict label values)."""
    if not selector:
        return []
    errs = validate_labels(selector.get("matchLabels"), f"{path}.matchLabels")
    for i, expr in enumerate(selector.get("matchExpressions") or []):
        at = f"{path}.matchExpressions[{i}]"
        op = expr.get("operator", "")
        values = expr.get("values") or []
        if op in (LabelSelectorOperator.IN, LabelSelectorOperator.NOT_IN):
            if not values:
                errs.append(required(
                    f"{at}.values", "must be specified when `operator` is 'In' or 'NotIn'"
                ))
        elif op in (LabelSelectorOperator.EXISTS, LabelSelectorOperator.DOES_NOT_EXIST):
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
