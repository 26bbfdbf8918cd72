"""Per-namespace identity objects and aggregated ClusterRoles, as kube-controller-manager.

- ServiceAccount controller: every active namespace has the ServiceAccount
  `default` (made again if deleted);
- root CA publisher: every active namespace has the ConfigMap `kube-root-ca.crt`
  holding the cluster CA as `ca.crt` (put back if changed);
- tokens controller: a Secret of type `kubernetes.io/service-account-token` naming an
  existing ServiceAccount (annotation `kubernetes.io/service-account.name`) gets a
  legacy token (no expiry), `ca.crt` and `namespace`, and the account's uid, as
  upstream fills in only the Secrets users ask for (signed with the API server's
  ServiceAccount key, as kube-controller-manager's `--service-account-private-key-file`);
- ClusterRole aggregation controller: a ClusterRole with an `aggregationRule`
  gets, as its rules, the rules of every other ClusterRole its selectors match
  (in name order, without repeats); its own rules are replaced.
Each is a level-triggered sync over the full state, run by a coalescing runner
whenever namespaces, ServiceAccounts, ConfigMaps, Secrets or ClusterRoles change.
"""

from __future__ import annotations

import base64
import contextlib
import logging
from pathlib import Path

from portico.apiserver.auth import SigningKey, legacy_claims
from portico.client import Api, ApiError, Obj, PatchType
from portico.model.kinds import CLUSTER_ROLE, CONFIG_MAP, NAMESPACE, SECRET, SERVICE_ACCOUNT, Kind
from portico.model.selectors import SelectorError, selector_from_label_selector_object

log = logging.getLogger("portico.controllers.identity")
ROOT_CA = "kube-root-ca.crt"
TOKEN_TYPE = "kubernetes.io/service-account-token"
SA_NAME = "kubernetes.io/service-account.name"
SA_UID = "kubernetes.io/service-account.uid"
ROOT_CA_DESCRIPTION = (
    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal "
    "endpoints such as the internal service IP or kubernetes.default.svc. No other usage is "
    "guaranteed across distributions of Kubernetes clusters.")


def aggregated_rules(role: Obj, roles: list[Obj]) -> list[Obj]:
    """The rules an aggregated ClusterRole should have (pure)."""
    rules: list[Obj] = []
    name = role["metadata"]["name"]
    for selector_obj in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or []:
        try:
            selector = selector_from_label_selector_object(selector_obj)
        except SelectorError:
            continue
        for other in sorted(roles, key=lambda r: r["metadata"]["name"]):
            if other["metadata"]["name"] == name:
                continue
            if selector.matches(other["metadata"].get("labels") or {}):
                rules.extend(r for r in other.get("rules") or [] if r not in rules)
    return rules


class IdentityController:
    def __init__(self, client: Api, ca_pem: str, key_path: Path | None = None) -> None:
        self.client = client
        self.ca_pem = ca_pem
        self.key_path = key_path

    async def sync(self) -> bool:
        await self._namespaces()
        await self._legacy_tokens()
        await self._aggregate()
        return False

    async def _legacy_tokens(self) -> None:
        if self.key_path is None or not self.key_path.exists():
            return
        secrets = await self.client.list(SECRET, fields={"type": TOKEN_TYPE})
        wanted = [s for s in secrets.items if not (s.get("data") or {}).get("token")]
        for secret in wanted:
            meta = secret["metadata"]
            try:
                sa = await self.client.get(SERVICE_ACCOUNT, meta.get("annotations", {}).get(
                    SA_NAME, ""), namespace=meta["namespace"])
            except ApiError:
                continue
            token = SigningKey.load_or_create(self.key_path).sign(
                legacy_claims(sa, meta["name"]))
            data = {"token": token, "ca.crt": self.ca_pem, "namespace": meta["namespace"]}
            with contextlib.suppress(ApiError):
                await self.client.patch(SECRET, meta["name"], {
                    "metadata": {"annotations": {SA_UID: sa["metadata"]["uid"]}},
                    "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}},
                    namespace=meta["namespace"], patch_type=PatchType.STRATEGIC)

    async def _namespaces(self) -> None:
        active = [ns["metadata"]["name"] for ns in (await self.client.list(NAMESPACE)).items
                  if ns["metadata"].get("name") and not ns["metadata"].get("deletionTimestamp")]
        accounts = {(sa["metadata"].get("namespace"), sa["metadata"].get("name"))
                    for sa in (await self.client.list(SERVICE_ACCOUNT)).items}
        roots = {cm["metadata"].get("namespace"): cm for cm in (await self.client.list(
            CONFIG_MAP, fields={"metadata.name": ROOT_CA})).items}
        for ns in active:
            if (ns, "default") not in accounts:
                await self._create(SERVICE_ACCOUNT, {
                    "apiVersion": "v1", "kind": "ServiceAccount",
                    "metadata": {"name": "default", "namespace": ns}})
            root = roots.get(ns)
            wanted = {"ca.crt": self.ca_pem}
            if root is None:
                await self._create(CONFIG_MAP, {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": ROOT_CA, "namespace": ns, "annotations": {
                        "kubernetes.io/description": ROOT_CA_DESCRIPTION}},
                    "data": wanted})
            elif root.get("data") != wanted:
                with contextlib.suppress(ApiError):
                    await self.client.patch(CONFIG_MAP, ROOT_CA, {"data": wanted}, namespace=ns,
                                            patch_type=PatchType.STRATEGIC)

    async def _create(self, kind: Kind, obj: Obj) -> None:
        try:
            await self.client.create(kind, obj)
        except ApiError as error:
            if error.status.code not in (403, 404, 409):  # 409: made meanwhile; 403/404: ns ends
                raise

    async def _aggregate(self) -> None:
        roles = (await self.client.list(CLUSTER_ROLE)).items
        for role in roles:
            if not role.get("aggregationRule"):
                continue
            rules = aggregated_rules(role, roles)
            if rules != (role.get("rules") or []):
                with contextlib.suppress(ApiError):
                    await self.client.patch(CLUSTER_ROLE, role["metadata"]["name"],
                                            {"rules": rules}, patch_type=PatchType.STRATEGIC)
                log.info("clusterrole %s: %d aggregated rules", role["metadata"]["name"],
                         len(rules))
