"""ServiceAccount JWTs (signature, audience, expiry, binding) and the Node authorizer."""

from __future__ import annotations

import base64
from pathlib import Path

import orjson
import pytest

from portico.apiserver.auth._attributes import Attributes
from portico.apiserver.auth._jwt import InvalidToken, SigningKey
from portico.apiserver.auth._node import PODS_PREFIX, NodeAuthorizer, PodGraph
from portico.apiserver.auth._tokens import Binding, TokenIssuer
from portico.apiserver.auth._user import UserInfo
from portico.apiserver.registry._objects import decode
from portico.store import SqliteStore

SA = {"metadata": {"name": "app", "namespace": "ns", "uid": "sa-uid"}}
POD = {"metadata": {"name": "p", "namespace": "ns", "uid": "pod-uid"},
       "spec": {"nodeName": "node-1", "serviceAccountName": "app",
                "volumes": [{"name": "v", "projected": {"sources": [
                    {"configMap": {"name": "kube-root-ca.crt"}}]}}],
                "containers": [{"name": "c", "env": [{"name": "P", "valueFrom": {
                    "secretKeyRef": {"name": "db", "key": "k"}}}]}]}}


@pytest.fixture
def objects() -> dict[tuple[str, str], dict]:
    return {("serviceaccounts", "app"): SA, ("pods", "p"): POD}


@pytest.fixture
def issuer(tmp_path: Path, objects: dict) -> TokenIssuer:
    return TokenIssuer(SigningKey.load_or_create(tmp_path / "sa.key"),
                       lambda plural, _ns, name: objects.get((plural, name)))


def test_a_bound_token_names_its_account_and_dies_with_its_pod(issuer: TokenIssuer,
                                                               objects: dict) -> None:
    token, _ = issuer.issue(SA, [], 3600, Binding("Pod", "p", "pod-uid", "node-1", "n-uid"))
    user = issuer.authenticate(token)
    assert (user.name, user.groups) == ("system:serviceaccount:ns:app", (
        "system:serviceaccounts", "system:serviceaccounts:ns", "system:authenticated"))
    assert user.extra["authentication.kubernetes.io/pod-name"] == ("p",)
    del objects[("pods", "p")]
    with pytest.raises(InvalidToken):
        issuer.authenticate(token)


def test_audience_expiry_and_signature_are_checked(issuer: TokenIssuer, tmp_path: Path) -> None:
    vault, _ = issuer.issue(SA, ["vault"], 3600)
    with pytest.raises(InvalidToken):
        issuer.authenticate(vault)
    assert issuer.authenticate(vault, ("vault",)).name == "system:serviceaccount:ns:app"
    other = SigningKey.load_or_create(tmp_path / "other.key")
    forged = other.sign(orjson.loads(base64.urlsafe_b64decode(vault.split(".")[1] + "==")))
    with pytest.raises(InvalidToken):
        issuer.authenticate(forged, ("vault",))
    expired, _ = issuer.issue(SA, [], -1)
    with pytest.raises(InvalidToken, match="expired"):
        issuer.authenticate(expired)


def test_jwks_publishes_the_verifying_key(issuer: TokenIssuer) -> None:
    (key,) = issuer.key.jwks()["keys"]
    assert (key["kty"], key["crv"], key["alg"], key["kid"]) == ("EC", "P-256", "ES256",
                                                               issuer.key.kid)


NODE = UserInfo("system:node:node-1", ("system:nodes", "system:authenticated"))
OTHER_NODE = UserInfo("system:node:node-2", ("system:nodes", "system:authenticated"))


def _get(resource: str, name: str, sub: str = "", verb: str = "get",
         group: str = "", namespace: str = "ns") -> Attributes:
    return Attributes(verb, True, api_group=group, resource=resource, subresource=sub,
                      namespace=namespace, name=name)


@pytest.mark.parametrize(("user", "attrs", "verdict"), [
    pytest.param(NODE, _get("secrets", "db"), True, id="secret-of-its-pod"),
    pytest.param(NODE, _get("configmaps", "kube-root-ca.crt"), True, id="projected-configmap"),
    pytest.param(OTHER_NODE, _get("secrets", "db"), None, id="not-its-pod"),
    pytest.param(NODE, _get("secrets", "other"), None, id="unreferenced"),
    pytest.param(NODE, _get("secrets", "", verb="list"), None, id="no-collections"),
    pytest.param(NODE, _get("serviceaccounts", "app", "token", "create"), True, id="token"),
    pytest.param(OTHER_NODE, _get("serviceaccounts", "app", "token", "create"), None,
                 id="token-not-its-pod"),
    pytest.param(NODE, _get("leases", "node-1", verb="update", group="coordination.k8s.io",
                            namespace="kube-node-lease"), True, id="own-lease"),
    pytest.param(NODE, _get("leases", "node-2", verb="update", group="coordination.k8s.io",
                            namespace="kube-node-lease"), None, id="other-lease"),
    pytest.param(NODE, _get("pods", "", sub="status", verb="patch"), True, id="node-rules"),
    pytest.param(UserInfo("alice"), _get("secrets", "db"), None, id="not-a-node"),
])
def test_node_authorizer(user: UserInfo, attrs: Attributes, verdict: bool | None,
                         tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "db.sqlite")
    with store.txn() as txn:
        txn.create(f"{PODS_PREFIX}ns/p", orjson.dumps(POD))
    assert NodeAuthorizer(PodGraph(store, decode)).decide(user, attrs)[0] is verdict


def test_node_graph_follows_the_pods(tmp_path: Path) -> None:
    """Pods stored before the graph, bound, moved and deleted after it, and pods of
    another namespace: each decision sees the pods as they are at that moment."""
    store = SqliteStore(tmp_path / "db.sqlite")
    key = f"{PODS_PREFIX}ns/p"
    unbound = {**POD, "spec": {**POD["spec"], "nodeName": ""}}
    with store.txn() as txn:
        txn.create(key, orjson.dumps(unbound))
        txn.create(f"{PODS_PREFIX}other/p", orjson.dumps(POD))
    authorizer = NodeAuthorizer(PodGraph(store, decode))
    token, secret = (_get("serviceaccounts", "app", "token", "create"), _get("secrets", "db"))

    def allowed(user: UserInfo = NODE) -> tuple[bool | None, bool | None]:
        return authorizer.decide(user, token)[0], authorizer.decide(user, secret)[0]

    assert allowed() == (None, None)  # not bound yet; the other namespace's pod counts not
    with store.txn() as txn:
        txn.update(key, orjson.dumps(POD))
    assert allowed() == (True, True)
    with store.txn() as txn:
        txn.update(key, orjson.dumps({**POD, "spec": {**POD["spec"], "nodeName": "node-2"}}))
    assert allowed() == (None, None)
    assert allowed(OTHER_NODE) == (True, True)
    with store.txn() as txn:
        txn.delete(key)
    assert allowed(OTHER_NODE) == (None, None)
