"""A small kopf operator for the end-to-end test (`kopf run tests/e2e/operators/kopf_robots.py`).

For every `Robot` (toys.example.com/v1) it creates a ConfigMap `<name>-parts`
owned by the robot (so the garbage collector removes it with the robot) and
reports the ConfigMap's name in the robot's status; deleting a robot runs the
delete handler (kopf holds its finalizer until then), which records the
deletion in the ConfigMap `robot-deletions`.
"""

from __future__ import annotations

from typing import Any

import kopf
from kubernetes import client, config
from kubernetes.client.rest import ApiException


def _core() -> client.CoreV1Api:
    config.load_kube_config()
    return client.CoreV1Api()


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.watching.server_timeout = 30
    settings.posting.level = 20


@kopf.on.create("toys.example.com", "v1", "robots")
def build(spec: dict[str, Any], name: str, namespace: str, **_: Any) -> dict[str, str]:
    configmap = {"apiVersion": "v1", "kind": "ConfigMap",
                 "metadata": {"name": f"{name}-parts"},
                 "data": {"color": str(spec.get("color", ""))}}
    kopf.adopt(configmap)
    _core().create_namespaced_config_map(namespace, configmap)
    return {"configmap": f"{name}-parts"}


@kopf.on.delete("toys.example.com", "v1", "robots")
def scrap(name: str, namespace: str, **_: Any) -> None:
    core = _core()
    body = {"metadata": {"name": "robot-deletions"}, "data": {name: "scrapped"}}
    try:
        core.patch_namespaced_config_map("robot-deletions", namespace, body)
    except ApiException as error:
        if error.status != 404:
            raise
        core.create_namespaced_config_map(namespace, body)
