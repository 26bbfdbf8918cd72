"""ValidatingAdmissionPolicy enforcement: the admission step of every write.

`PolicyAdmission.admit(request)` reads the stored policies and bindings (each
compiled once per resourceVersion and cached), and for every policy whose
`matchConstraints` select the request and every binding of it whose
`matchResources` do too, evaluates the policy. Per binding's
`validationActions`, a failed validation denies (Deny), becomes a `Warning`
header (Warn: `Validation failed for ValidatingAdmissionPolicy 'P' with binding
'B': M`) or is only audited (Audit, which Portico does not log).

The first denial is raised as kube-apiserver's error: `admission.NewForbidden`'s
message (`<resource> "<name>" is forbidden: ValidatingAdmissionPolicy 'P' with
binding 'B' denied request: M`) with the validation's reason (Invalid, 422, by
default) and the message repeated as a cause. A binding whose policy does not
exist, or a policy that failed to compile, denies as a configuration error when
its failurePolicy is Fail.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from portico.apiserver import errors
from portico.apiserver.admission._policy import CompiledPolicy, Decision, compile_policy
from portico.apiserver.admission._request import AdmissionRequest, matches, request_variable
from portico.store import KeyValue, SqliteStore

POLICIES = "/registry/admissionregistration.k8s.io/validatingadmissionpolicies/"
BINDINGS = "/registry/admissionregistration.k8s.io/validatingadmissionpolicybindings/"
_CODES = {"Forbidden": 403, "Unauthorized": 401, "RequestEntityTooLarge": 413, "Invalid": 422}


@dataclass(frozen=True)
class _Policy:
    name: str
    spec: dict[str, Any]
    compiled: CompiledPolicy
    configuration_error: str


def _policy_from(kv: KeyValue) -> _Policy:
    obj = orjson.loads(kv.value)
    spec = obj.get("spec") or {}
    compiled, errs = compile_policy(spec)
    problem = "; ".join(e.message() for e in errs)
    return _Policy(obj["metadata"]["name"], spec, compiled, problem)


def denial(request: AdmissionRequest, policy: str, binding: str, decision: Decision,
           ) -> errors.StatusError:
    message = (f"ValidatingAdmissionPolicy '{policy}' with binding '{binding}' denied request: "
               f"{decision.message}")
    reason = decision.reason or "Invalid"
    resource = errors.qualified(request.resource, request.group)
    details: dict[str, Any] = {"name": request.name, "group": request.group,
                               "kind": request.resource, "causes": [{"message": message}]}
    subject = f'{resource} "{request.name}"' if request.name else resource
    return errors.StatusError(_CODES.get(reason, 422), reason,
                              f"{subject} is forbidden: {message}", details)


class PolicyAdmission:
    """The ValidatingAdmissionPolicy admission plugin over the store's policies."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self._compiled: dict[str, tuple[int, _Policy]] = {}

    def _policy(self, kv: KeyValue) -> _Policy:
        cached = self._compiled.get(kv.key)
        if cached is None or cached[0] != kv.mod_revision:
            cached = (kv.mod_revision, _policy_from(kv))
            self._compiled[kv.key] = cached
        return cached[1]

    def _namespace_labels(self, name: str) -> dict[str, str]:
        kv = self.store.get(f"/registry/core/namespaces/{name}")
        obj = orjson.loads(kv.value) if kv else {}
        return dict((obj.get("metadata") or {}).get("labels") or {})

    def _namespace_object(self, request: AdmissionRequest) -> Any:
        if not request.namespace:
            return None
        kv = self.store.get(f"/registry/core/namespaces/{request.namespace}")
        return orjson.loads(kv.value) if kv else None

    def admit(self, request: AdmissionRequest) -> list[str]:
        """Warnings for the response; raises the first denial as a `StatusError`."""
        bindings = self.store.range(BINDINGS)
        if not bindings:
            return []
        policies = {p.name: p for p in map(self._policy, self.store.range(POLICIES))}
        warnings: list[str] = []
        data: dict[str, Any] | None = None
        for kv in bindings:
            binding = orjson.loads(kv.value)
            spec = binding.get("spec") or {}
            policy = policies.get(spec.get("policyName", ""))
            if policy is None or not matches(policy.spec.get("matchConstraints"), request,
                                             self._namespace_labels):
                continue
            if not matches(spec.get("matchResources"), request, self._namespace_labels):
                continue
            if data is None:
                data = self._data(request)
            name = binding["metadata"]["name"]
            for decision in self._decisions(policy, data):
                self._act(request, policy.name, name, spec, decision, warnings)
        return warnings

    @staticmethod
    def _decisions(policy: _Policy, data: dict[str, Any]) -> list[Decision]:
        if policy.configuration_error:
            if not policy.compiled.fail_closed:
                return []
            return [Decision(f"failed to configure policy: {policy.configuration_error}", "")]
        return policy.compiled.evaluate(data)

    @staticmethod
    def _act(request: AdmissionRequest, policy: str, binding: str, spec: dict[str, Any],
             decision: Decision, warnings: list[str]) -> None:
        actions = spec.get("validationActions") or []
        if "Warn" in actions:
            warnings.append(f"Validation failed for ValidatingAdmissionPolicy '{policy}' with "
                            f"binding '{binding}': {decision.message}")
        if "Deny" in actions:
            raise denial(request, policy, binding, decision)

    def _data(self, request: AdmissionRequest) -> dict[str, Any]:
        return {"object": request.object, "oldObject": request.old_object,
                "request": request_variable(request), "params": None,
                "namespaceObject": self._namespace_object(request)}


