"""Discovery with the real kubectl: api-resources, api-versions, version, explain."""

from __future__ import annotations

import json
import re

import pytest
from e2e_support import parse_table

from tests.conftest import Kubectl

# (NAME, APIVERSION) -> (SHORTNAMES, NAMESPACED, KIND), as kube-apiserver v1.33 reports them.
EXPECTED_RESOURCES = {
    ("configmaps", "v1"): ("cm", "true", "ConfigMap"),
    ("endpoints", "v1"): ("ep", "true", "Endpoints"),
    ("events", "v1"): ("ev", "true", "Event"),
    ("namespaces", "v1"): ("ns", "false", "Namespace"),
    ("nodes", "v1"): ("no", "false", "Node"),
    ("pods", "v1"): ("po", "true", "Pod"),
    ("secrets", "v1"): ("", "true", "Secret"),
    ("services", "v1"): ("svc", "true", "Service"),
    ("deployments", "apps/v1"): ("deploy", "true", "Deployment"),
    ("replicationcontrollers", "v1"): ("rc", "true", "ReplicationController"),
    ("statefulsets", "apps/v1"): ("sts", "true", "StatefulSet"),
    ("daemonsets", "apps/v1"): ("ds", "true", "DaemonSet"),
    ("controllerrevisions", "apps/v1"): ("", "true", "ControllerRevision"),
    ("jobs", "batch/v1"): ("", "true", "Job"),
    ("cronjobs", "batch/v1"): ("cj", "true", "CronJob"),
    ("endpointslices", "discovery.k8s.io/v1"): ("", "true", "EndpointSlice"),
    ("ingressclasses", "networking.k8s.io/v1"): ("", "false", "IngressClass"),
    ("ingresses", "networking.k8s.io/v1"): ("ing", "true", "Ingress"),
    ("networkpolicies", "networking.k8s.io/v1"): ("netpol", "true", "NetworkPolicy"),
    ("roles", "rbac.authorization.k8s.io/v1"): ("", "true", "Role"),
    ("clusterrolebindings", "rbac.authorization.k8s.io/v1"): ("", "false", "ClusterRoleBinding"),
    ("selfsubjectaccessreviews", "authorization.k8s.io/v1"): ("", "false",
                                                              "SelfSubjectAccessReview"),
    ("tokenreviews", "authentication.k8s.io/v1"): ("", "false", "TokenReview"),
}


def test_api_resources_columns(kubectl: Kubectl) -> None:
    names, rows = parse_table(kubectl.ok("api-resources"))
    assert names == ["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
    got = {
        (r["NAME"], r["APIVERSION"]): (r["SHORTNAMES"], r["NAMESPACED"], r["KIND"]) for r in rows
    }
    missing = {k: v for k, v in EXPECTED_RESOURCES.items() if got.get(k) != v}
    assert missing == {}, {k: got.get(k) for k in missing}


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param(["--namespaced=false", "-o", "name"], {"namespaces", "nodes"},
                     id="cluster-scoped"),
        pytest.param(["--api-group=apps", "-o", "name"], {"deployments.apps"}, id="apps-group"),
        pytest.param(["--api-group=networking.k8s.io", "-o", "name"],
                     {"ingresses.networking.k8s.io", "ingressclasses.networking.k8s.io",
                      "networkpolicies.networking.k8s.io"},
                     id="networking-group"),
    ],
)
def test_api_resources_filters(kubectl: Kubectl, args: list[str], expected: set[str]) -> None:
    names = set(kubectl.ok("api-resources", *args).split())
    assert expected <= names


def test_api_versions(kubectl: Kubectl) -> None:
    versions = kubectl.ok("api-versions").splitlines()
    assert versions == sorted(versions)
    assert {"v1", "apps/v1", "discovery.k8s.io/v1", "networking.k8s.io/v1"} <= set(versions)


def test_version(kubectl: Kubectl) -> None:
    minor = kubectl.version.split(".")[1]
    text = kubectl.ok("version")
    assert re.fullmatch(
        rf"Client Version: v1\.{minor}\.\d+\nKustomize Version: v\d+\.\d+\.\d+\n"
        r"Server Version: v1\.33\.\d+([-+][0-9A-Za-z.+-]+)?\n",  # e.g. v1.33.1+k3s1
        text,
    ), text


def test_version_json(kubectl: Kubectl) -> None:
    server = json.loads(kubectl.ok("version", "-o", "json"))["serverVersion"]
    assert (server["major"], server["minor"]) == ("1", "33")
    assert re.fullmatch(r"v1\.33\.\d+([-+][0-9A-Za-z.+-]+)?", server["gitVersion"])
    assert server["platform"] == "linux/amd64"


@pytest.mark.parametrize(
    "line",
    [
        pytest.param("  appProtocol\t<string>", id="appProtocol"),
        pytest.param("  name\t<string>", id="name"),
        pytest.param("  nodePort\t<integer>", id="nodePort"),
        pytest.param("  port\t<integer> -required-", id="port"),
        pytest.param("  targetPort\t<string>", id="targetPort"),
    ],
)
def test_explain_service_spec_ports_fields(kubectl: Kubectl, line: str) -> None:
    text = kubectl.ok("explain", "service.spec.ports")
    assert line in text.splitlines()


def test_explain_service_spec_ports_header(kubectl: Kubectl) -> None:
    text = kubectl.ok("explain", "service.spec.ports")
    # kubectl's plaintext template prints two blank lines after FIELD.
    assert text.startswith(
        "KIND:       Service\nVERSION:    v1\n\nFIELD: ports <[]ServicePort>\n\n\n"
        "DESCRIPTION:\n    The list of ports that are exposed by this service. More info:\n"
    ), text
    assert "\nFIELDS:\n" in text


@pytest.mark.parametrize(
    ("resource", "line"),
    [
        pytest.param("statefulset.spec", "  podManagementPolicy\t<string>", id="statefulset"),
        pytest.param("daemonset.spec", "  updateStrategy\t<DaemonSetUpdateStrategy>",
                     id="daemonset"),
        pytest.param("job.spec", "  backoffLimit\t<integer>", id="job"),
        pytest.param("cronjob.spec", "  schedule\t<string> -required-", id="cronjob"),
        pytest.param("rc.spec", "  selector\t<map[string]string>", id="rc"),
    ],
)
def test_explain_workload_kinds(kubectl: Kubectl, resource: str, line: str) -> None:
    assert line in kubectl.ok("explain", resource).splitlines()


def test_unknown_field_of_a_cronjob_fails_client_side_validation(kubectl: Kubectl) -> None:
    body = {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": "c"},
            "spec": {"schedule": "@daily", "scheduel": "x", "jobTemplate": {"spec": {
                "template": {"spec": {"restartPolicy": "Never", "containers": [
                    {"name": "c", "image": "busybox"}]}}}}}}
    stderr = kubectl.fail("create", "-f", "-", "--validate=strict", input=json.dumps(body))
    assert 'unknown field "spec.scheduel"' in stderr


def test_explain_unknown_field(kubectl: Kubectl) -> None:
    stderr = kubectl.fail("explain", "service.spec.portz")
    assert 'field "portz" does not exist' in stderr
