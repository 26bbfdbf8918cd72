"""Container environment: service links, downward API, ConfigMaps/Secrets, precedence."""

from __future__ import annotations

import base64

import pytest

from portico.agent._env import EnvError, EnvSources, container_env, expand, service_env


def svc(ns: str, name: str, ip: str, ports: list[dict[str, object]]) -> dict[str, object]:
    return {"metadata": {"namespace": ns, "name": name},
            "spec": {"clusterIP": ip, "ports": ports}}


KUBERNETES = svc("default", "kubernetes", "10.0.0.1", [{"name": "https", "port": 443}])
REDIS = svc("app", "redis-primary", "10.0.0.11",
            [{"name": "db", "port": 6379}, {"name": "m", "port": 9121, "protocol": "UDP"}])
HEADLESS = svc("app", "headless", "None", [{"port": 80}])


def pod(links: bool = True) -> dict[str, object]:
    return {"metadata": {"name": "p", "namespace": "app", "uid": "u-1", "labels": {"a": "b"}},
            "spec": {"nodeName": "node-1", "serviceAccountName": "default",
                     "enableServiceLinks": links},
            "status": {"podIP": "10.244.0.2"}}


def test_service_env_for_two_ports() -> None:
    assert service_env([REDIS]) == {
        "REDIS_PRIMARY_SERVICE_HOST": "10.0.0.11",
        "REDIS_PRIMARY_SERVICE_PORT": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_DB": "6379",
        "REDIS_PRIMARY_SERVICE_PORT_M": "9121",
        "REDIS_PRIMARY_PORT": "tcp://10.0.0.11:6379",
        "REDIS_PRIMARY_PORT_6379_TCP": "tcp://10.0.0.11:6379",
        "REDIS_PRIMARY_PORT_6379_TCP_PROTO": "tcp",
        "REDIS_PRIMARY_PORT_6379_TCP_PORT": "6379",
        "REDIS_PRIMARY_PORT_6379_TCP_ADDR": "10.0.0.11",
        "REDIS_PRIMARY_PORT_9121_UDP": "udp://10.0.0.11:9121",
        "REDIS_PRIMARY_PORT_9121_UDP_PROTO": "udp",
        "REDIS_PRIMARY_PORT_9121_UDP_PORT": "9121",
        "REDIS_PRIMARY_PORT_9121_UDP_ADDR": "10.0.0.11",
    }


@pytest.mark.parametrize(("links", "expected"), [
    pytest.param(True, {"KUBERNETES_SERVICE_HOST", "REDIS_PRIMARY_SERVICE_HOST"}, id="links"),
    pytest.param(False, {"KUBERNETES_SERVICE_HOST"}, id="no-links-keeps-kubernetes"),
])
def test_service_links_follow_enable_service_links(links: bool, expected: set[str]) -> None:
    env = container_env(pod(links), {"name": "c"},
                        EnvSources(services=[KUBERNETES, REDIS, HEADLESS]))
    assert {k for k in env if k.endswith("_SERVICE_HOST")} == expected


def test_env_values_precedence_and_sources() -> None:
    secret = {"data": {"pw": base64.b64encode(b"s3cret").decode()}}
    cm = {"data": {"MODE": "fast", "bad key": "x"}}
    ctr = {"name": "c", "envFrom": [{"configMapRef": {"name": "cfg"}, "prefix": "CM_"}],
           "env": [
               {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
               {"name": "IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
               {"name": "HOST", "valueFrom": {"fieldRef": {"fieldPath": "status.hostIP"}}},
               {"name": "LBL", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['a']"}}},
               {"name": "PW", "valueFrom": {"secretKeyRef": {"name": "s", "key": "pw"}}},
               {"name": "URL", "value": "http://$(POD):$(KUBERNETES_SERVICE_PORT)/$$(X)"},
               {"name": "KUBERNETES_SERVICE_HOST", "value": "override"}]}
    env = container_env(pod(), ctr, EnvSources(
        services=[KUBERNETES], configmaps={"cfg": cm}, secrets={"s": secret},
        node_ip="10.224.0.4", serviceaccount_dir="/sa"))
    assert {k: env[k] for k in ("CM_MODE", "POD", "IP", "HOST", "LBL", "PW", "URL",
                                "KUBERNETES_SERVICE_HOST", "KUBERNETES_SERVICE_PORT",
                                "HOSTNAME", "PORTICO_SERVICEACCOUNT_DIR")} == {
        "CM_MODE": "fast", "POD": "p", "IP": "10.244.0.2", "HOST": "10.224.0.4", "LBL": "b",
        "PW": "s3cret", "URL": "http://p:443/$(X)", "KUBERNETES_SERVICE_HOST": "override",
        "KUBERNETES_SERVICE_PORT": "443", "HOSTNAME": "p", "PORTICO_SERVICEACCOUNT_DIR": "/sa"}
    assert "CM_bad key" not in env


@pytest.mark.parametrize(("ctr", "message"), [
    pytest.param({"name": "c", "env": [{"name": "X", "valueFrom": {
        "configMapKeyRef": {"name": "missing", "key": "k"}}}]},
        'configmap "missing" not found', id="configmap-missing"),
    pytest.param({"name": "c", "env": [{"name": "X", "valueFrom": {
        "secretKeyRef": {"name": "s", "key": "nope"}}}]},
        "couldn't find key nope in Secret app/s", id="secret-key-missing"),
])
def test_env_errors_are_create_container_config_errors(ctr: dict[str, object],
                                                        message: str) -> None:
    with pytest.raises(EnvError) as info:
        container_env(pod(), ctr, EnvSources(secrets={"s": {"data": {}}}))
    assert (info.value.reason, info.value.message) == ("CreateContainerConfigError", message)


def test_optional_references_are_skipped() -> None:
    ctr = {"name": "c", "env": [{"name": "X", "valueFrom": {
        "configMapKeyRef": {"name": "missing", "key": "k", "optional": True}}}]}
    assert "X" not in container_env(pod(), ctr, EnvSources())


@pytest.mark.parametrize(("value", "expected"), [
    pytest.param("$(A)-$(B)", "1-$(B)", id="undefined-kept"),
    pytest.param("$$(A)", "$(A)", id="escaped"),
    pytest.param("plain", "plain", id="plain"),
])
def test_expand(value: str, expected: str) -> None:
    assert expand(value, {"A": "1"}) == expected
