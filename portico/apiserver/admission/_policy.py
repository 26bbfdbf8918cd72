"""A ValidatingAdmissionPolicy's CEL, compiled once and evaluated per request.

`compile_policy(spec)` compiles `matchConditions`, `variables` and `validations`
(expression and messageExpression) in the policy environment (`object`,
`oldObject`, `request`, `params`, `namespaceObject`, `variables`) and returns the
errors kube-apiserver's validation gives a bad policy.

`CompiledPolicy.evaluate(data)` runs a matching request through it: the match
conditions first (all must be true, else the policy does not apply), then the
variables in order (each sees the ones before it as `variables.<name>`), then
every validation. It returns the failed validations as `Decision`s: a false
expression gives its `message`, its `messageExpression`'s value, or
`failed expression: <expression>`; an evaluation error gives
`expression '<expression>' resulted in error: <error>` (denied when the
failurePolicy is Fail, ignored when Ignore).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from portico.apiserver.apiextensions.cel._env import (
    POLICY_VARIABLES,
    CompileError,
    Program,
    compile_expression,
    environment,
)
from portico.apiserver.errors import FieldError, invalid, not_supported, required

VARIABLES = tuple((name, "dyn") for name in POLICY_VARIABLES)
REASONS = ("Forbidden", "Invalid", "RequestEntityTooLarge", "Unauthorized")
_NEWLINE = re.compile(r"[\n\r]+")
_IDENTIFIER = re.compile(r"^[_a-zA-Z][_a-zA-Z0-9]*$")


@dataclass(frozen=True)
class Decision:
    message: str
    reason: str  # "" means Invalid


@dataclass(frozen=True)
class Validation:
    program: Program
    message: str
    message_program: Program | None
    reason: str


@dataclass(frozen=True)
class CompiledPolicy:
    match_conditions: tuple[tuple[str, Program], ...]
    variables: tuple[tuple[str, Program], ...]
    validations: tuple[Validation, ...]
    fail_closed: bool

    def evaluate(self, data: dict[str, Any]) -> list[Decision]:
        """Failed validations of one request (empty: admitted)."""
        activation = _activation(data, {})
        for _, condition in self.match_conditions:
            result, err = condition.run(activation)
            if err:
                return self._error(condition, err)
            if result is not True:
                return []
        if self.variables:
            values: dict[str, Any] = {}
            for name, program in self.variables:
                values[name], _ = program.run(_activation(data, values))
            activation = _activation(data, values)
        decisions: list[Decision] = []
        for validation in self.validations:
            result, err = validation.program.run(activation)
            if err:
                decisions.extend(self._error(validation.program, err))
            elif result is not True:
                decisions.append(Decision(_message(validation, activation), validation.reason))
        return decisions

    def _error(self, program: Program, err: str) -> list[Decision]:
        if not self.fail_closed:
            return []
        return [Decision(f"expression '{program.source}' resulted in error: {err}", "")]


def _activation(data: dict[str, Any], values: dict[str, Any]) -> Any:
    return environment(VARIABLES).Activation({**data, "variables": values})


def _message(validation: Validation, activation: Any) -> str:
    if validation.message_program is not None:
        text, err = validation.message_program.run(activation)
        if not err and isinstance(text, str) and text.strip() and "\n" not in text:
            return text
    if validation.message:
        return validation.message
    return f"failed expression: {validation.program.source.strip()}"


def _compile(source: str, at: str, errs: list[FieldError]) -> Program | None:
    try:
        return compile_expression(source, VARIABLES)
    except CompileError as exc:
        errs.append(invalid(at, source, f"compilation failed: {exc}"))
        return None


def _validation(entry: Mapping[str, Any], at: str, errs: list[FieldError]) -> Validation | None:
    expression = str(entry.get("expression") or "")
    message = str(entry.get("message") or "")
    message_expression = str(entry.get("messageExpression") or "")
    program = None
    if not expression.strip():
        errs.append(required(f"{at}.expression", "expression is not specified"))
    else:
        program = _compile(expression, f"{at}.expression", errs)
    message_program = None
    if message_expression and not message_expression.strip():
        errs.append(invalid(f"{at}.messageExpression", message_expression,
                            "must be non-empty if specified"))
    elif message_expression:
        message_program = _compile(message_expression, f"{at}.messageExpression", errs)
    if message and not message.strip():
        errs.append(invalid(f"{at}.message", message, "message must be non-empty if specified"))
    elif _NEWLINE.search(message.strip()):
        errs.append(invalid(f"{at}.message", message, "message must not contain line breaks"))
    reason = entry.get("reason")
    if reason is not None and reason not in REASONS:
        errs.append(not_supported(f"{at}.reason", reason, REASONS))
    if program is None:
        return None
    return Validation(program, message.strip(), message_program, str(reason or ""))


def _named(entries: Any, at: str, errs: list[FieldError],
           check_name: bool) -> tuple[tuple[str, Program], ...]:
    out: list[tuple[str, Program]] = []
    for i, entry in enumerate(entries or []):
        name, expression = str(entry.get("name") or ""), str(entry.get("expression") or "")
        if not name.strip():
            errs.append(required(f"{at}[{i}].name", "name is not specified" if check_name
                                 else ""))
        elif check_name and not _IDENTIFIER.match(name):
            errs.append(invalid(f"{at}[{i}].name", name, "name is not a valid CEL identifier"))
        if not expression.strip():
            errs.append(required(f"{at}[{i}].expression",
                                 "expression is not specified" if check_name else ""))
            continue
        program = _compile(expression, f"{at}[{i}].expression", errs)
        if program is not None:
            out.append((name, program))
    return tuple(out)


def compile_policy(spec: Mapping[str, Any], path: str = "spec",
                   ) -> tuple[CompiledPolicy, list[FieldError]]:
    """Compile a policy's expressions; the errors are the policy's validation errors."""
    errs: list[FieldError] = []
    conditions = _named(spec.get("matchConditions"), f"{path}.matchConditions", errs, False)
    variables = _named(spec.get("variables"), f"{path}.variables", errs, True)
    validations = []
    for i, entry in enumerate(spec.get("validations") or []):
        compiled = _validation(entry, f"{path}.validations[{i}]", errs)
        if compiled is not None:
            validations.append(compiled)
    fail_closed = (spec.get("failurePolicy") or "Fail") == "Fail"
    return CompiledPolicy(conditions, variables, tuple(validations), fail_closed), errs
