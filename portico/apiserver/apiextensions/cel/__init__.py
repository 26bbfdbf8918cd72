"""CEL `x-kubernetes-validations` of CustomResourceDefinitions, on cel-cpp.

    rules, errors = compile_rules(schema, "spec.versions[0].schema.openAPIV3Schema")
    errors, warnings = rules.validate(new_object, old_object)  # old: MISSING_OLD on create

`compile_rules` runs when a CRD is written (compile errors, cost limits,
`oldSelf` placement, `fieldPath`s); the `CompiledRules` it returns is kept per
CRD version and evaluated on every write of a custom resource. The library is
cel-cpp through `cel-expr-python` (`_env`) plus the Kubernetes functions it
lacks (`_library`); the rest (type mapping, cost, error shapes) follows
`AE:pkg/apiserver/schema/cel/` and is described in each module.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from portico.apiserver.apiextensions.cel._compile import RuleNode, compile_tree
from portico.apiserver.apiextensions.cel._validate import MISSING_OLD, validate_tree
from portico.apiserver.errors import FieldError


class CompiledRules:
    """Every compiled rule of one schema, ready to validate objects."""

    def __init__(self, root: RuleNode) -> None:
        self._root = root

    @property
    def empty(self) -> bool:
        """No rules at all: validation can be skipped."""
        return self._root.empty()

    def validate(self, new: Any, old: Any = MISSING_OLD) -> tuple[list[FieldError], list[str]]:
        """Errors (kube's shapes and paths) and warnings (ratcheted failures)."""
        if self.empty:
            return [], []
        return validate_tree(self._root, new, old)


def compile_rules(schema: Mapping[str, Any], path: str) -> tuple[CompiledRules, list[FieldError]]:
    """Compile every rule of `schema`; the errors are the CRD's, at `path` and below."""
    root, errors = compile_tree(schema, path)
    return CompiledRules(root), errors


__all__ = ["MISSING_OLD", "CompiledRules", "compile_rules"]
