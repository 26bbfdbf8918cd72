"""One compiled `x-kubernetes-validations` entry and the CRD-time checks of its fields.

`check_entry` gives the errors kube-apiserver reports for the entry's own fields
(empty rule, message with line breaks, unknown reason, invalid fieldPath);
`compile_entry` compiles rule and messageExpression on cel-cpp and returns the
`Rule` or the compile errors, shaped as apiextensions validation shapes them
(the `Invalid value` is Go's `%#v` of the `ValidationRule` struct).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico.apiserver.apiextensions.cel._env import (
    RULE_VARIABLES,
    CompileError,
    Program,
    compile_expression,
)
from portico.apiserver.apiextensions.cel._fieldpath import FieldPathError, resolve_field_path
from portico.apiserver.apiextensions.cel._fields import undefined_field_errors
from portico.apiserver.apiextensions.cel._parse import Node, ParseError, parse, uses_variable
from portico.apiserver.errors import FieldError, invalid, not_supported, required

REASONS = ("FieldValueDuplicate", "FieldValueForbidden", "FieldValueInvalid",
           "FieldValueRequired")
_NEWLINE = re.compile(r"[\n\r]+")
Schema = Mapping[str, Any]


class GoValue:
    """A value already rendered as Go's `%#v` (printed bare in a field error)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def __str__(self) -> str:
        return self.text


def go_quote(text: str) -> str:
    """Go's `strconv.Quote` for the characters rules contain."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'


def rule_struct(entry: Mapping[str, Any]) -> GoValue:
    """`%#v` of an `apiextensions.ValidationRule`."""
    reason = ("(*apiextensions.FieldValueErrorReason)(nil)" if entry.get("reason") is None
              else "(*apiextensions.FieldValueErrorReason)(0xc000a3c5d0)")
    optional = ("(*bool)(nil)" if entry.get("optionalOldSelf") is None
                else "(*bool)(0xc000a3c5d8)")
    return GoValue(
        f"apiextensions.ValidationRule{{Rule:{go_quote(str(entry.get('rule', '')))}, "
        f"Message:{go_quote(str(entry.get('message', '')))}, "
        f"MessageExpression:{go_quote(str(entry.get('messageExpression', '')))}, "
        f"Reason:{reason}, FieldPath:{go_quote(str(entry.get('fieldPath', '')))}, "
        f"OptionalOldSelf:{optional}}}")


@dataclass(frozen=True)
class Rule:
    entry: Mapping[str, Any]
    program: Program
    message_program: Program | None
    uses_old_self: bool
    optional_old_self: bool
    field_path: str  # relative field.Path to append ("" for the rule's own node)
    path: str  # the rule's path in the CRD, for cost errors
    cost: int = 1  # estimated cost of one evaluation, charged to the runtime budget
    trees: tuple[Node, ...] = ()  # parsed rule and messageExpression, for runtime costs

    @property
    def error_string(self) -> str:
        """`ruleErrorString`."""
        message = str(self.entry.get("message") or "")
        return message.strip() if message else str(self.entry.get("rule", "")).strip()

    @property
    def default_message(self) -> str:
        """`ruleMessageOrDefault`."""
        message = str(self.entry.get("message") or "")
        return message.strip() if message else f"failed rule: {self.error_string}"

    @property
    def reason(self) -> str:
        return str(self.entry.get("reason") or "FieldValueInvalid")


def check_entry(entry: Mapping[str, Any], schema: Schema, at: str) -> list[FieldError]:
    """The per-field checks of one entry (`ValidateCustomResourceDefinitionOpenAPISchema`)."""
    errs: list[FieldError] = []
    rule, message = str(entry.get("rule") or ""), str(entry.get("message") or "")
    if not rule.strip():
        errs.append(required(f"{at}.rule", "rule is not specified"))
    elif message and not message.strip():
        errs.append(invalid(f"{at}.message", message, "message must be non-empty if specified"))
    elif _NEWLINE.search(message.strip()):
        errs.append(invalid(f"{at}.message", GoValue(go_quote(message)),
                            "message must not contain line breaks"))
    elif _NEWLINE.search(rule.strip()) and not message.strip():
        errs.append(required(f"{at}.message",
                             "message must be specified if rule contains line breaks"))
    expression = str(entry.get("messageExpression") or "")
    if "messageExpression" in entry and expression and not expression.strip():
        errs.append(required(f"{at}.messageExpression",
                             "messageExpression must be non-empty if specified"))
    reason = entry.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(not_supported(f"{at}.reason", reason, REASONS))
    errs.extend(_field_path_errors(str(entry.get("fieldPath") or ""), schema, at))
    return errs


def _field_path_errors(field_path: str, schema: Schema, at: str) -> list[FieldError]:
    if not field_path:
        return []
    if not field_path.strip():
        return [invalid(f"{at}.fieldPath", field_path, "fieldPath must be non-empty if specified")]
    if _NEWLINE.search(field_path):
        return [invalid(f"{at}.fieldPath", GoValue(go_quote(field_path)),
                        "fieldPath must not contain line breaks")]
    try:
        resolve_field_path(field_path, schema)
    except FieldPathError:
        return [invalid(f"{at}.fieldPath", field_path, "fieldPath must be a valid path")]
    return []


OLD_VALUE, OLD_PRESENT = "oldSelfValue__", "oldSelfPresent__"


def _variables(schema_type: str) -> tuple[tuple[str, str], ...]:
    return tuple((name, schema_type) for name in RULE_VARIABLES)


def _optional_old_self(source: str, schema_type: str) -> Program:
    """A rule with `optionalOldSelf: true` sees `oldSelf` as an optional: it runs as
    `cel.bind(oldSelf, <present> ? optional.of(<old>) : optional.none(), <rule>)`."""
    wrapped = (f"cel.bind(oldSelf, {OLD_PRESENT} ? optional.of({OLD_VALUE}) : "
               f"optional.none(), {source})")
    variables = (("self", schema_type), (OLD_VALUE, schema_type), (OLD_PRESENT, "bool"))
    return compile_expression(wrapped, variables)


def _compile_rule(source: str, variables: tuple[tuple[str, str], ...], schema: Schema,
                  resource_root: bool) -> tuple[Program, bool]:
    """cel-cpp's compilation plus the schema's field check; (program, uses oldSelf)."""
    program = compile_expression(source, variables)
    try:
        tree = parse(source)
    except ParseError:
        return program, "oldSelf" in source
    undefined = undefined_field_errors(tree, source, schema, resource_root)
    if undefined:
        raise CompileError(undefined)
    return program, uses_variable(tree, "oldSelf")


def compile_entry(entry: Mapping[str, Any], schema: Schema, at: str, self_type: str,
                  resource_root: bool = False) -> tuple[Rule | None, list[FieldError]]:
    """Compile one entry's rule (and messageExpression) on cel-cpp."""
    variables = _variables(self_type)
    source = str(entry["rule"])
    try:
        program, old_self = _compile_rule(source, variables, schema, resource_root)
    except CompileError as exc:
        return None, [invalid(f"{at}.rule", rule_struct(entry), f"compilation failed: {exc}")]
    errs: list[FieldError] = []
    if program.result_type not in ("BOOL", "DYN"):
        errs.append(invalid(f"{at}.rule", rule_struct(entry),
                            "cel expression must evaluate to a bool"))
    message_program = None
    if str(entry.get("messageExpression") or "").strip():
        try:
            message_program = compile_expression(str(entry["messageExpression"]), variables)
        except CompileError as exc:
            errs.append(invalid(f"{at}.messageExpression", rule_struct(entry),
                                f"messageExpression compilation failed: {exc}"))
        else:
            if message_program.result_type not in ("STRING", "DYN"):
                errs.append(invalid(f"{at}.messageExpression", rule_struct(entry),
                                    "messageExpression must evaluate to a string"))
    field_path = ""
    if entry.get("fieldPath"):
        field_path = resolve_field_path(str(entry["fieldPath"]), schema)
    if errs:
        return None, errs
    if old_self and entry.get("optionalOldSelf"):
        program = _optional_old_self(source, self_type)
    rule = Rule(entry, program, message_program, old_self, bool(entry.get("optionalOldSelf")),
                field_path, f"{at}.rule")
    return rule, []

