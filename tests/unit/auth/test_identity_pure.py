"""Pure parts of the identity controllers, admission and the agent's token refresh."""

from __future__ import annotations

from portico.agent._tokens import Issued, requires_refresh, token_sources
from portico.apiserver.resources._sa_admission import MOUNT_PATH, admit
from portico.controllers._identity import aggregated_rules


class _Ctx:
    def __init__(self, stored: dict[str, bytes]) -> None:
        self.stored = stored

    def get(self, key: str) -> bytes | None:
        return self.stored.get(key)

    def put(self, key: str, value: bytes) -> None: ...
    def delete(self, key: str) -> None: ...
    def keys(self, prefix: str) -> list[str]:
        return []


def _pod(**spec: object) -> dict:
    return {"metadata": {"name": "p", "namespace": "ns"},
            "spec": {"containers": [{"name": "c"}], **spec}}


def test_admission_adds_the_api_access_volume_unless_automount_is_off() -> None:
    pod = _pod(serviceAccountName="default")
    admit(_Ctx({}), pod)
    (volume,) = pod["spec"]["volumes"]
    assert volume["name"].startswith("kube-api-access-") and len(volume["name"]) == 21
    assert pod["spec"]["containers"][0]["volumeMounts"] == [
        {"name": volume["name"], "readOnly": True, "mountPath": MOUNT_PATH}]
    assert token_sources(pod)[0].expiration_seconds == 3607
    off = _pod(serviceAccountName="default", automountServiceAccountToken=False)
    admit(_Ctx({}), off)
    assert "volumes" not in off["spec"]
    quiet = _pod(serviceAccountName="quiet")
    admit(_Ctx({"/registry/core/serviceaccounts/ns/quiet":
                b'{"automountServiceAccountToken": false}'}), quiet)
    assert token_sources(quiet) == []


def test_admission_refuses_a_missing_named_account() -> None:
    import pytest

    from portico.apiserver.errors import StatusError

    with pytest.raises(StatusError) as caught:
        admit(_Ctx({}), _pod(serviceAccountName="ghost"))
    assert caught.value.message == ('pods "p" is forbidden: error looking up service account '
                                    'ns/ghost: serviceaccount "ghost" not found')


def test_tokens_are_refreshed_after_80_percent_of_their_life_or_a_day() -> None:
    hour = Issued("t", issued_at=0.0, expires_at=3600.0)
    assert not requires_refresh(hour, 2879.0)
    assert requires_refresh(hour, 2880.0)
    year = Issued("t", issued_at=0.0, expires_at=365 * 86400.0)
    assert requires_refresh(year, 86400.0)


def test_aggregation_collects_matching_rules_in_name_order_once() -> None:
    label = {"rbac.example.com/agg": "true"}
    target = {"metadata": {"name": "agg"}, "aggregationRule": {
        "clusterRoleSelectors": [{"matchLabels": label}]}}
    read = {"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}
    roles = [target,
             {"metadata": {"name": "b", "labels": label}, "rules": [read]},
             {"metadata": {"name": "a", "labels": label},
              "rules": [{"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}, read]},
             {"metadata": {"name": "c"}, "rules": [{"verbs": ["*"]}]}]
    assert aggregated_rules(target, roles) == [
        {"verbs": ["list"], "apiGroups": [""], "resources": ["pods"]}, read]


class _FakeTokenClient:
    """TokenRequest's answers: 404 until `ready`, then a new token each time."""

    def __init__(self, missing: int = 0) -> None:
        self.missing = missing
        self.calls = 0

    async def create(self, kind, body, namespace=None, name=None):  # type: ignore[no-untyped-def]
        from portico.client import ApiError, Status
        from portico.model.kinds import SERVICE_ACCOUNT_TOKEN

        assert (kind, name, namespace) == (SERVICE_ACCOUNT_TOKEN, "default", "ns")
        self.calls += 1
        if self.calls <= self.missing:
            raise ApiError(Status(404, "NotFound", "not found"))
        expires = "1970-01-01T01:16:40Z"  # 1000 + 3600 s
        return {**body, "status": {"token": f"t{self.calls}", "expirationTimestamp": expires}}


async def test_token_manager_caches_refreshes_and_waits_for_the_account() -> None:
    from portico.agent._tokens import TokenManager

    pod = _pod(serviceAccountName="default")
    pod["metadata"]["uid"] = "u1"
    admit(_Ctx({}), pod)
    now = [1000.0]
    client = _FakeTokenClient(missing=2)
    manager = TokenManager(client, clock=lambda: now[0])  # type: ignore[arg-type]
    source = token_sources(pod)[0]
    assert await manager.token(pod, source) == "t3"
    assert await manager.token(pod, source) == "t3"
    now[0] += 0.8 * 3600
    assert await manager.token(pod, source) == "t4"
    manager.forget("u1")
    assert await manager.token(pod, source) == "t5"
