"""Go's rendering of JSON values in field errors: `%v` for numbers, `%#v` for values.

kube-apiserver prints a field error's bad value with `%#v` unless it is a string or a
number, so a map reads `map[string]interface {}{"a":1}` and a list
`[]interface {}{"a", 1}`. Numbers print with Go's shortest float form, which switches
to exponent notation only below 1e-4 or from 1e21 on (Python's `repr` switches at
1e16). `go_value` wraps the rendering in `GoValue` so that `FieldError` prints it as is.
"""

from __future__ import annotations

from typing import Any

from portico.model.validation import go_quote


def go_float(value: float) -> str:
    """`strconv.FormatFloat(v, 'g', -1, 64)` as `%v` prints it (exponent if < 1e-4 or >= 1e21)."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    exp = int(exponent)
    if -4 <= exp < 21:
        return format(value, "f").rstrip("0").rstrip(".")
    return f"{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"


def go_number(value: int | float) -> str:
    """`%v` of an int64 or float64."""
    return str(value) if isinstance(value, int) else go_float(value)


def go_sharp(value: Any) -> str:
    """`%#v` of a JSON value held in an `interface{}` (nested nulls are `interface {}(nil)`)."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return go_number(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, dict):
        body = ", ".join(f"{go_quote(k)}:{go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + body + "}"
    if isinstance(value, list):
        return "[]interface {}{" + ", ".join(go_sharp(v) for v in value) + "}"
    return str(value)


def go_text(text: str) -> Any:
    """A field error value already rendered as Go prints it."""
    from portico.apiserver.resources._meta import GoValue

    return GoValue(text)


def go_value(value: Any) -> Any:
    """The bad value of a field error: strings, ints and booleans as they are, the rest rendered.

    A nil value becomes the string "null" (printed quoted), as `field.Error` does.

    `FieldError` prints strings quoted and ints bare; floats, maps, lists and null need
    Go's rendering, carried in a `GoValue` (imported here, not at module level, because
    the resources package imports this package's users).
    """
    if value is None:
        return "null"  # field.Error prints a nil bad value as the quoted string "null"
    if isinstance(value, str | bool | int):
        return value
    return go_text(go_float(value) if isinstance(value, float) else go_sharp(value))
