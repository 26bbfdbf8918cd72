"""Identity and access end to end, with the real kubectl: ServiceAccount tokens, RBAC, users.

One single-node cluster for the module. Pods print the token the node mounted for
them (`$PORTICO_SERVICEACCOUNT_DIR/token`); the tests then use it with kubectl, as
an in-cluster client would use it with the API.
"""

from __future__ import annotations

import base64
import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from portico.testing.sandbox import Cluster, wait_for
from tests.conftest import KUBECTL_VERSIONS, Kubectl, new_namespace
from tests.e2e.cluster_support import dump, pod, running_cluster

PRINT_TOKEN = ('cat "$PORTICO_SERVICEACCOUNT_DIR/token" 2>/dev/null && echo || echo none; '
               'sleep 3600')


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    yield from running_cluster(nodes=1)


@pytest.fixture(params=[pytest.param(v, id=f"kubectl-{v}") for v in KUBECTL_VERSIONS])
def k(cluster: Cluster, request: pytest.FixtureRequest) -> Iterator[Kubectl]:
    namespace = new_namespace(cluster, "tenant")
    # the controller-manager makes the namespace's default ServiceAccount soon after it,
    # as in any cluster; tests that mint its tokens start once it is there
    wait_for(lambda: cluster.kubectl("-n", namespace, "get", "serviceaccount",
                                     "default").returncode == 0, 10, interval=0.1,
             message=f"the default ServiceAccount of {namespace}")
    yield Kubectl(cluster, str(request.param), namespace)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


def token_kubeconfig(cluster: Cluster, token: str) -> Path:
    """A kubeconfig with the admin's server and CA, and only `token` as credential."""
    admin = yaml.safe_load(cluster.kubeconfig.read_text())
    path = cluster.workdir / f"token-{secrets.token_hex(3)}.kubeconfig"
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "clusters": admin["clusters"],
        "users": [{"name": "t", "user": {"token": token}}],
        "contexts": [{"name": "t", "context": {"cluster": admin["clusters"][0]["name"],
                                                "user": "t"}}],
        "current-context": "t"}))
    return path


def as_file(k: Kubectl, kubeconfig: Path, *args: str, namespace: str | None = None):
    return k.cluster.kubectl("--kubeconfig", str(kubeconfig), "-n", namespace or k.namespace,
                             *args, version=k.version)


def pod_token(k: Kubectl, name: str, spec_extra: dict | None = None) -> str:
    spec = {"terminationGracePeriodSeconds": 0, "containers": [
        {"name": "c", "image": "busybox", "command": ["sh", "-c", PRINT_TOKEN]}],
        **(spec_extra or {})}
    k.ok("apply", "-f", "-", input=dump(pod(name, spec)))
    return wait_for(lambda: k.ok("logs", name).strip() or None, 60, interval=0.2,
                    message=f"pod {name} to print its token")


def test_pod_token_is_a_bound_jwt_mounted_by_the_api_access_volume(k: Kubectl) -> None:
    token = pod_token(k, "jwt")
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    live = k.json("get", "pod", "jwt")
    assert claims["sub"] == f"system:serviceaccount:{k.namespace}:default"
    assert claims["aud"] == ["https://kubernetes.default.svc.cluster.local"]
    assert claims["exp"] - claims["iat"] == 3607
    assert claims["kubernetes.io"]["pod"] == {"name": "jwt", "uid": live["metadata"]["uid"]}
    volumes = [v for v in live["spec"]["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(volumes) == 1
    assert live["spec"]["containers"][0]["volumeMounts"] == [{
        "name": volumes[0]["name"], "readOnly": True,
        "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount"}]


def test_pod_token_denied_across_namespaces_until_a_rolebinding(k: Kubectl) -> None:
    victim = new_namespace(k.cluster, "victim")
    try:
        k.cluster.kubectl("-n", victim, "create", "secret", "generic", "db-pass",
                          "--from-literal=password=s3cret")
        config = token_kubeconfig(k.cluster, pod_token(k, "reader"))
        denied = as_file(k, config, "get", "secret", "db-pass", namespace=victim)
        assert (denied.returncode, denied.stderr.strip()) == (1, (
            f'Error from server (Forbidden): secrets "db-pass" is forbidden: User '
            f'"system:serviceaccount:{k.namespace}:default" cannot get resource "secrets" in '
            f'API group "" in the namespace "{victim}"'))
        k.cluster.kubectl("-n", victim, "create", "role", "read-db", "--verb=get",
                          "--resource=secrets", "--resource-name=db-pass")
        k.cluster.kubectl("-n", victim, "create", "rolebinding", "tenant-reads-db",
                          "--role=read-db", f"--serviceaccount={k.namespace}:default")
        allowed = as_file(k, config, "get", "secret", "db-pass", "-o",
                          "jsonpath={.data.password}", namespace=victim)
        assert (allowed.returncode, base64.b64decode(allowed.stdout)) == (0, b"s3cret")
        listing = as_file(k, config, "get", "secrets", namespace=victim)
        assert "cannot list resource" in listing.stderr
    finally:
        k.cluster.kubectl("delete", "namespace", victim, "--wait=false")


def test_automount_false_gives_no_token(k: Kubectl) -> None:
    assert pod_token(k, "no-token", {"automountServiceAccountToken": False}) == "none"
    k.ok("create", "serviceaccount", "quiet")
    k.ok("patch", "serviceaccount", "quiet", "-p", '{"automountServiceAccountToken": false}')
    assert pod_token(k, "quiet-sa", {"serviceAccountName": "quiet"}) == "none"
    for name in ("no-token", "quiet-sa"):
        volumes = k.json("get", "pod", name)["spec"].get("volumes") or []
        assert not [v for v in volumes if v["name"].startswith("kube-api-access-")]


def test_a_deleted_pods_token_stops_working(k: Kubectl) -> None:
    config = token_kubeconfig(k.cluster, pod_token(k, "short-lived"))
    whoami = as_file(k, config, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == f"system:serviceaccount:{k.namespace}:default"
    k.ok("delete", "pod", "short-lived", "--wait=true")
    after = as_file(k, config, "auth", "whoami")
    assert (after.returncode, after.stderr.strip()) == (
        1, "error: You must be logged in to the server (Unauthorized)")


def test_create_token_with_duration_and_audience(k: Kubectl) -> None:
    token = k.ok("create", "token", "default", "--duration=15m", "--audience=vault").strip()
    claims = json.loads(base64.urlsafe_b64decode(token.split(".")[1] + "=="))
    assert (claims["aud"], claims["exp"] - claims["iat"]) == (["vault"], 900)
    refused = as_file(k, token_kubeconfig(k.cluster, token), "auth", "whoami")
    assert refused.returncode == 1  # not meant for the API server
    too_short = k.fail("create", "token", "default", "--duration=1m")
    assert "may not specify a duration less than 10 minutes" in too_short


def test_minted_user_can_i_list_whoami_and_forbidden(k: Kubectl) -> None:
    user = k.cluster.workdir / f"alice-{k.version}.kubeconfig"
    minted = k.cluster.sandbox.run([k.cluster.portico, "kubeconfig", "alice", "--group", "devs",
                                    "--data-dir", str(k.cluster.data_dir)], check=True)
    user.write_text(minted.stdout)
    whoami = as_file(k, user, "auth", "whoami", "-o", "json")
    assert json.loads(whoami.stdout)["status"]["userInfo"] == {
        "username": "alice", "groups": ["devs", "system:authenticated"]}
    denied = as_file(k, user, "get", "pods")
    assert denied.stderr.strip() == (
        f'Error from server (Forbidden): pods is forbidden: User "alice" cannot list resource '
        f'"pods" in API group "" in the namespace "{k.namespace}"')
    k.ok("create", "rolebinding", "devs-view", "--clusterrole=view", "--group=devs")
    listing = as_file(k, user, "auth", "can-i", "--list")
    rows = {line.split()[0]: line for line in listing.stdout.splitlines()[1:]}
    assert "[get list watch]" in rows["pods"]
    assert "selfsubjectaccessreviews.authorization.k8s.io" in rows
    assert "secrets" not in rows
    assert k.ok("auth", "can-i", "get", "pods", "--as=alice", "--as-group=devs").strip() == "yes"
    assert k("auth", "can-i", "get", "secrets", "--as=alice").stdout.strip() == "no"
    impersonating = as_file(k, user, "get", "pods", "--as=bob")
    assert 'User "alice" cannot impersonate resource "users" in API group ""' in \
        impersonating.stderr


def test_aggregated_cluster_roles(k: Kubectl) -> None:
    suffix = f"{k.version.replace('.', '')}-{secrets.token_hex(2)}"
    label = f"rbac.example.com/aggregate-to-monitoring-{suffix}"
    k.ok("apply", "-f", "-", input=yaml.safe_dump_all([
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": f"monitoring-{suffix}"},
         "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {label: "true"}}]}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": f"endpoints-reader-{suffix}", "labels": {label: "true"}},
         "rules": [{"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
         "metadata": {"name": f"widgets-viewer-{suffix}",
                      "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
         "rules": [{"apiGroups": ["example.com"], "resources": [f"widgets{suffix}"],
                    "verbs": ["get"]}]}]))
    wait_for(lambda: k.json("get", "clusterrole", f"monitoring-{suffix}").get("rules") == [
        {"apiGroups": [""], "resources": ["endpoints"], "verbs": ["get", "list"]}], 30,
        interval=0.2, message="the aggregated rules")
    wait_for(lambda: any(f"widgets{suffix}" in r.get("resources", []) for r in
                         k.json("get", "clusterrole", "view")["rules"]), 30, interval=0.2,
             message="view to aggregate the labelled role")
    for name in ("monitoring", "endpoints-reader", "widgets-viewer"):
        k.ok("delete", "clusterrole", f"{name}-{suffix}")


def test_escalation_and_bind_are_checked(k: Kubectl) -> None:
    k.ok("create", "serviceaccount", "deployer")
    k.ok("create", "role", "rbac-editor", "--verb=create,get",
         "--resource=roles,rolebindings")
    k.ok("create", "rolebinding", "deployer-rbac", "--role=rbac-editor",
         f"--serviceaccount={k.namespace}:deployer")
    config = token_kubeconfig(k.cluster, k.ok("create", "token", "deployer").strip())
    grant = as_file(k, config, "create", "role", "secret-reader", "--verb=get",
                    "--resource=secrets")
    assert grant.stderr.strip() == (
        f'Error from server (Forbidden): roles.rbac.authorization.k8s.io "secret-reader" is '
        f'forbidden: user "system:serviceaccount:{k.namespace}:deployer" (groups=['
        f'"system:serviceaccounts" "system:serviceaccounts:{k.namespace}" '
        f'"system:authenticated"]) is attempting to grant RBAC permissions not currently held:'
        '\n{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}')
    bind = as_file(k, config, "create", "rolebinding", "self-admin", "--clusterrole=admin",
                   f"--serviceaccount={k.namespace}:deployer")
    assert "is attempting to grant RBAC permissions not currently held" in bind.stderr


CREATE_FROM_YAML = """
from kubernetes import utils
created = utils.create_from_yaml(api, yaml_file=PATH, namespace=NAMESPACE)
print(sorted(o.kind for group in created for o in group))
rbac = client.RbacAuthorizationV1Api(api)
print([r.metadata.name for r in rbac.list_namespaced_role(NAMESPACE).items])
print([b.role_ref.name for b in rbac.list_namespaced_role_binding(NAMESPACE).items])
"""


def test_roles_and_bindings_from_yaml_with_the_python_client(k: Kubectl) -> None:
    if k.version != KUBECTL_VERSIONS[-1]:
        pytest.skip("the Python client does not depend on kubectl's version")
    manifest = k.cluster.workdir / "rbac.yaml"
    manifest.write_text(dump(
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "app"}},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
         "metadata": {"name": "config-reader"},
         "rules": [{"apiGroups": [""], "resources": ["configmaps"],
                    "verbs": ["get", "list", "watch"]}]},
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
         "metadata": {"name": "app-reads-config"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                     "name": "config-reader"},
         "subjects": [{"kind": "ServiceAccount", "name": "app"}]}))
    out = k.cluster.python_client(f"PATH = {str(manifest)!r}\nNAMESPACE = {k.namespace!r}\n"
                                  + CREATE_FROM_YAML)
    assert out.splitlines() == ["['Role', 'RoleBinding', 'ServiceAccount']",
                                "['config-reader']", "['config-reader']"]
    assert k.ok("auth", "can-i", "list", "configmaps",
                f"--as=system:serviceaccount:{k.namespace}:app").strip() == "yes"


def test_every_namespace_gets_its_default_account_and_root_ca(k: Kubectl) -> None:
    wait_for(lambda: k("get", "serviceaccount", "default").returncode == 0, 10,
             interval=0.1, message="the default ServiceAccount")
    ca = wait_for(lambda: (k("get", "configmap", "kube-root-ca.crt", "-o",
                             "jsonpath={.data.ca\\.crt}").stdout or None), 10, interval=0.1,
                  message="kube-root-ca.crt")
    assert ca.strip() == (k.cluster.data_dir / "pki" / "ca.crt").read_text().strip()
    k.ok("delete", "serviceaccount", "default")
    wait_for(lambda: k("get", "serviceaccount", "default").returncode == 0, 10,
             interval=0.1, message="the default ServiceAccount to come back")


def test_oidc_discovery_verifies_tokens(k: Kubectl) -> None:
    config = token_kubeconfig(k.cluster, k.ok("create", "token", "default").strip())
    discovery = json.loads(as_file(k, config, "get", "--raw",
                                   "/.well-known/openid-configuration").stdout)
    assert discovery["issuer"] == "https://kubernetes.default.svc.cluster.local"
    assert discovery["jwks_uri"].endswith("/openid/v1/jwks")
    keys = json.loads(as_file(k, config, "get", "--raw", "/openid/v1/jwks").stdout)["keys"]
    assert [(key["kty"], key["alg"], key["use"]) for key in keys] == [("EC", "ES256", "sig")]


def test_a_legacy_secret_token_only_when_asked_for(k: Kubectl) -> None:
    k.ok("create", "serviceaccount", "legacy")
    assert k.json("get", "serviceaccount", "legacy").get("secrets") is None
    k.ok("apply", "-f", "-", input=dump({
        "apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
        "metadata": {"name": "legacy-token",
                     "annotations": {"kubernetes.io/service-account.name": "legacy"}}}))
    secret = wait_for(lambda: (s := k.json("get", "secret", "legacy-token")).get("data", {}).get(
        "token") and s, 30, interval=0.2, message="the tokens controller")
    assert base64.b64decode(secret["data"]["namespace"]).decode() == k.namespace
    config = token_kubeconfig(k.cluster, base64.b64decode(secret["data"]["token"]).decode())
    whoami = as_file(k, config, "auth", "whoami", "-o", "jsonpath={.status.userInfo.username}")
    assert whoami.stdout == f"system:serviceaccount:{k.namespace}:legacy"
    k.ok("delete", "secret", "legacy-token")
    assert as_file(k, config, "auth", "whoami").returncode == 1


def test_exec_and_logs_are_checked_as_upstream(k: Kubectl) -> None:
    pod_token(k, "target")
    k.ok("create", "serviceaccount", "viewer")
    k.ok("create", "rolebinding", "viewer-view", "--clusterrole=view",
         f"--serviceaccount={k.namespace}:viewer")
    config = token_kubeconfig(k.cluster, k.ok("create", "token", "viewer").strip())
    assert as_file(k, config, "logs", "target").returncode == 0
    denied = as_file(k, config, "exec", "target", "--", "true")
    assert (f'pods "target" is forbidden: User "system:serviceaccount:{k.namespace}:viewer" '
            f'cannot create resource "pods/exec" in API group "" in the namespace '
            f'"{k.namespace}"') in denied.stderr
    forwarded = as_file(k, config, "port-forward", "pod/target", "18080:8080")
    assert 'cannot create resource "pods/portforward"' in forwarded.stderr
