"""Admission: ValidatingAdmissionPolicy enforcement for every write.

    admission = PolicyAdmission(store)
    warnings = admission.admit(AdmissionRequest(operation="CREATE", group="", version="v1",
                                                resource="configmaps", kind="ConfigMap",
                                                namespace="default", name="x",
                                                object=obj, old_object=None))

`admit` raises the denial as a `StatusError` (kube-apiserver's exact shape) and
returns the Warn action's warnings. The registry's writer calls it after
validation and before storing, for create, update and delete of every kind;
custom resources go through the same call.
"""

from portico.apiserver.admission._dispatch import PolicyAdmission, denial
from portico.apiserver.admission._policy import CompiledPolicy, Decision, compile_policy
from portico.apiserver.admission._request import AdmissionRequest, matches, rule_matches

__all__ = [
    "AdmissionRequest", "CompiledPolicy", "Decision", "PolicyAdmission", "compile_policy",
    "denial", "matches", "rule_matches",
]
