"""Issue 3: a SIGKILL in the middle of concurrent Service creates and deletes loses no port.

Against a real `portico up --nodes 0` of its own: 8 client threads (the official
Python client, inside the sandbox) create two-port NodePort Services and delete
every third one they made; `kill9()` strikes once 40 creates were acknowledged.
After `start()`: every acknowledged create is still there and every acknowledged
delete is gone, no two Services share a ClusterIP or nodePort, the allocation
records in the store are exactly what the Services hold, the API refuses the
nodePorts of surviving Services (`provided port is already allocated`) and hands
out the nodePorts and ClusterIPs of deleted ones again.
"""

from __future__ import annotations

import json
import sqlite3
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from portico.testing.sandbox import Cluster, end_process, wait_for

BURST = """
import json, sys, threading
from kubernetes import client, config
config.load_kube_config(config_file=KUBECONFIG)
lock = threading.Lock()

def say(*fields):
    with lock:
        print(json.dumps(fields), flush=True)

def worker(w):
    core = client.CoreV1Api(client.ApiClient())
    for i in range(100000):
        name = f"b{w}-{i}"
        body = {"metadata": {"name": name}, "spec": {"type": "NodePort", "ports": [
            {"name": "a", "port": 80}, {"name": "b", "port": 443}]}}
        try:
            out = core.create_namespaced_service("default", body)
            say("created", name, [p.node_port for p in out.spec.ports], out.spec.cluster_ip)
            if i % 3 == 2:
                say("deleting", f"b{w}-{i - 1}")
                core.delete_namespaced_service(f"b{w}-{i - 1}", "default")
                say("deleted", f"b{w}-{i - 1}")
        except Exception:
            return

threads = [threading.Thread(target=worker, args=(w,)) for w in range(8)]
for t in threads:
    t.start()
for t in threads:
    t.join()
"""

PROBE = """
import json
results = []
for name, spec in json.loads(PROBES):
    try:
        core.create_namespaced_service("default", {"metadata": {"name": name}, "spec": spec})
        core.delete_namespaced_service(name, "default")
        results.append([name, 201, ""])
    except ApiException as err:
        results.append([name, err.status, json.loads(err.body)["message"]])
print(json.dumps(results))
"""

LIST = """
import json
print(json.dumps(api.sanitize_for_serialization(core.list_service_for_all_namespaces())))
"""


@pytest.fixture
def crashed() -> Iterator[Cluster]:
    with Cluster(nodes=0) as running:
        yield running


def read_records(cluster: Cluster) -> tuple[dict[str, str], dict[str, str]]:
    """The allocation keys in the store (read-only; the database is in WAL mode)."""
    db = sqlite3.connect(f"file:{cluster.data_dir / 'state.db'}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT key, value FROM kv WHERE key >= '/registry/ranges/' "
                          "AND key < '/registry/ranges0'").fetchall()
    finally:
        db.close()
    ips = {k.rsplit("/", 1)[1]: bytes(v).decode() for k, v in rows if "/serviceips/" in k}
    ports = {k.rsplit("/", 1)[1]: bytes(v).decode() for k, v in rows if "/servicenodeports/" in k}
    return ips, ports


def held(items: list[dict[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    ips: dict[str, str] = {}
    ports: dict[str, str] = {}
    for obj in items:
        owner = f"{obj['metadata']['namespace']}/{obj['metadata']['name']}"
        spec = obj["spec"]
        for ip in spec.get("clusterIPs") or []:
            assert ips.setdefault(ip, owner) == owner, f"{ip}: {ips[ip]} and {owner}"
        for number in {p["nodePort"] for p in spec.get("ports") or [] if p.get("nodePort")}:
            assert ports.setdefault(str(number), owner) == owner, \
                f"{number}: {ports[str(number)]} and {owner}"
    return ips, ports


def burst_until_killed(cluster: Cluster) -> list[list[Any]]:
    out_path = cluster.workdir / "burst.out"
    prelude = f"KUBECONFIG = {str(cluster.kubeconfig)!r}\n"
    with out_path.open("w") as out:
        burst = cluster.sandbox.popen([sys.executable, "-c", prelude + BURST],
                                      env=cluster.kube_env(), stdout=out)
        try:
            wait_for(lambda: out_path.read_text().count('"created"') >= 40, 60,
                     message="40 acknowledged creates")
            assert cluster.kill9() == -9
            burst.wait(timeout=60)
        finally:
            end_process(burst, grace=5)
    return [json.loads(line) for line in out_path.read_text().splitlines()]


def test_kill9_during_service_churn_keeps_allocations_exact(crashed: Cluster) -> None:
    events = burst_until_killed(crashed)
    created = {e[1]: (e[2], e[3]) for e in events if e[0] == "created"}
    deleted = {e[1] for e in events if e[0] == "deleted"}
    # a delete in flight when the server died may or may not have been applied
    unknown = {e[1] for e in events if e[0] == "deleting"} - deleted
    crashed.start()
    items = json.loads(crashed.python_client(LIST))["items"]
    names = {o["metadata"]["name"] for o in items if o["metadata"]["namespace"] == "default"}
    assert sorted(set(created) - deleted - unknown - names) == []
    assert sorted(deleted & names) == []
    ips, ports = held(items)
    assert read_records(crashed) == (ips, ports)
    survivors = sorted(set(created) - deleted - unknown)[:6]
    freed = [name for name in sorted(deleted)
             if not {str(p) for p in created[name][0]} & set(ports)
             and created[name][1] not in ips][:6]
    assert survivors and freed
    probes = []
    for name in survivors:
        probes.append([f"taken-{name}", {"type": "NodePort", "ports": [
            {"port": 80, "nodePort": created[name][0][1]}]}])
    for name in freed:
        probes.append([f"free-{name}", {"type": "NodePort", "clusterIP": created[name][1],
                                        "ports": [{"name": "a", "port": 80,
                                                   "nodePort": created[name][0][0]},
                                                  {"name": "b", "port": 443,
                                                   "nodePort": created[name][0][1]}]}])
    code = f"PROBES = {json.dumps(json.dumps(probes))}\n" + PROBE
    results = json.loads(crashed.python_client(code))
    assert results == [
        [f"taken-{name}", 422, f'Service "taken-{name}" is invalid: spec.ports[0].nodePort: '
         f"Invalid value: {created[name][0][1]}: provided port is already allocated"]
        for name in survivors] + [[f"free-{name}", 201, ""] for name in freed]
    crashed.stop()
    log = crashed.log_path.read_text()
    assert "more than one Service" not in log
