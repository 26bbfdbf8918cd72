"""ValidatingAdmissionPolicy with the real kubectl: a policy and binding deny (or warn about)
ConfigMaps, in kube-apiserver's words; the Gateway API bundle's policy is accepted."""

from __future__ import annotations

import pathlib
import secrets
from collections.abc import Iterator

import pytest
import yaml
from e2e_support import AGE, assert_row, parse_table

from portico.testing.sandbox import WITHOUT_GATEWAY_API, Cluster
from tests.conftest import Kubectl

BUNDLE = (pathlib.Path(__file__).resolve().parents[2]
          / "../shared/conformance/gateway-api/standard-install.yaml")
MESSAGE = "the key forbidden is not allowed"
CLUSTER_ENV = WITHOUT_GATEWAY_API  # the bundle's policy is applied by hand below


def policy_documents(name: str, namespace: str, action: str) -> str:
    policy = {
        "apiVersion": "admissionregistration.k8s.io/v1", "kind": "ValidatingAdmissionPolicy",
        "metadata": {"name": name},
        "spec": {
            "failurePolicy": "Fail",
            "matchConstraints": {"resourceRules": [{
                "apiGroups": [""], "apiVersions": ["v1"], "operations": ["CREATE", "UPDATE"],
                "resources": ["configmaps"]}]},
            "matchConditions": [{"name": "this-namespace",
                                 "expression": f"request.namespace == '{namespace}'"}],
            "validations": [{"expression": "!has(object.data) || !('forbidden' in object.data)",
                             "message": MESSAGE}],
        },
    }
    binding = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "ValidatingAdmissionPolicyBinding", "metadata": {"name": f"{name}-binding"},
        "spec": {"policyName": name, "validationActions": [action]},
    }
    return yaml.safe_dump_all([policy, binding])


@pytest.fixture
def policy_name(cluster: Cluster) -> Iterator[str]:
    name = f"no-forbidden-{secrets.token_hex(3)}"
    yield name
    cluster.kubectl("delete", "validatingadmissionpolicybinding", f"{name}-binding",
                    "--ignore-not-found")
    cluster.kubectl("delete", "validatingadmissionpolicy", name, "--ignore-not-found")


def test_deny_action_refuses_a_configmap(kubectl: Kubectl, policy_name: str) -> None:
    created = kubectl.ok("create", "-f", "-",
                         input=policy_documents(policy_name, kubectl.namespace, "Deny"))
    assert created == (
        f"validatingadmissionpolicy.admissionregistration.k8s.io/{policy_name} created\n"
        f"validatingadmissionpolicybinding.admissionregistration.k8s.io/{policy_name}-binding "
        "created\n")
    denial = (f"ValidatingAdmissionPolicy '{policy_name}' with binding '{policy_name}-binding' "
              f"denied request: {MESSAGE}")
    stderr = kubectl.fail("create", "configmap", "bad", "--from-literal=forbidden=1")
    assert stderr == f'error: failed to create configmap: configmaps "bad" is forbidden: {denial}\n'
    # from a manifest, kubectl prints the 422's causes (one, with no field)
    bad = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "bad"},
           "data": {"forbidden": "1"}}
    stderr = kubectl.fail("create", "-f", "-", input=yaml.safe_dump(bad))
    assert stderr == f'The configmaps "bad" is invalid: : {denial}\n'
    assert kubectl("get", "configmap", "bad").returncode == 1
    assert kubectl.ok("create", "configmap", "good", "--from-literal=allowed=1") == (
        "configmap/good created\n")
    stderr = kubectl.fail("patch", "configmap", "good", "--type=merge",
                          "-p", '{"data": {"forbidden": "1"}}')
    assert stderr == f'The configmaps "good" is invalid: : {denial}\n'
    assert kubectl.json("get", "configmap", "good")["data"] == {"allowed": "1"}


def test_warn_action_admits_with_a_warning(kubectl: Kubectl, policy_name: str) -> None:
    kubectl.ok("create", "-f", "-", input=policy_documents(policy_name, kubectl.namespace,
                                                          "Warn"))
    result = kubectl("create", "configmap", "warned", "--from-literal=forbidden=1")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "configmap/warned created\n"
    assert result.stderr == (
        f"Warning: Validation failed for ValidatingAdmissionPolicy '{policy_name}' with "
        f"binding '{policy_name}-binding': {MESSAGE}\n")


def test_bad_policy_and_binding_are_refused(kubectl: Kubectl) -> None:
    body = yaml.safe_load_all(policy_documents("bad-policy", kubectl.namespace, "Deny"))
    policy, binding = list(body)
    policy["spec"]["validations"][0]["expression"] = "object.data =="
    stderr = kubectl.fail("create", "-f", "-", input=yaml.safe_dump(policy))
    assert stderr.startswith(
        'The ValidatingAdmissionPolicy "bad-policy" is invalid: '
        'spec.validations[0].expression: Invalid value: "object.data ==": compilation failed: '
        "ERROR: <input>:1:15: Syntax error: mismatched input '<EOF>'")
    binding["spec"]["validationActions"] = ["Deny", "Warn"]
    stderr = kubectl.fail("create", "-f", "-", input=yaml.safe_dump(binding))
    assert stderr == (
        'The ValidatingAdmissionPolicyBinding "bad-policy-binding" is invalid: '
        'spec.validationActions: Invalid value: []string{"Deny", "Warn"}: must not contain both '
        "Deny and Warn (repeating the same validation failure information in the API response "
        "and headers serves no purpose)\n")


@pytest.mark.skipif(not BUNDLE.exists(), reason="needs ../shared/conformance")
def test_gateway_bundle_policy_is_stored(cluster: Cluster, kubectl: Kubectl) -> None:
    docs = [d for d in yaml.safe_load_all(BUNDLE.read_text())
            if d and d["kind"].startswith("ValidatingAdmissionPolicy")]
    name = docs[0]["metadata"]["name"]
    try:
        kubectl.ok("apply", "--server-side", "-f", "-", input=yaml.safe_dump_all(docs))
        _, rows = parse_table(kubectl.ok("get", "validatingadmissionpolicies"))
        assert_row(next(r for r in rows if r["NAME"] == name),
                   {"NAME": name, "VALIDATIONS": "2", "PARAMKIND": "<unset>", "AGE": AGE})
        _, rows = parse_table(kubectl.ok("get", "validatingadmissionpolicybindings"))
        assert_row(next(r for r in rows if r["NAME"] == name),
                   {"NAME": name, "POLICYNAME": name, "PARAMREF": "<unset>", "AGE": AGE})
        stored = kubectl.json("get", "validatingadmissionpolicy", name)
        assert stored["spec"]["validations"] == docs[0]["spec"]["validations"]
        assert stored["spec"]["failurePolicy"] == "Fail"
        # the policy selects CRDs only: ConfigMaps are untouched
        assert kubectl.ok("create", "configmap", "plain", "--from-literal=a=1") == (
            "configmap/plain created\n")
    finally:
        cluster.kubectl("delete", "-f", "-", "--ignore-not-found",
                        input=yaml.safe_dump_all(docs))
