"""The harness itself: namespaces are isolated and cleaned up, clusters start and stop.

`Cluster` is exercised against `fake_portico.py` (a stand-in CLI serving plain
HTTP), so these tests do not depend on the real server.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.testing.sandbox import (
    Cluster,
    Sandbox,
    SandboxError,
    kubectl_binary,
    wait_for,
)

FAKE = Path(__file__).with_name("fake_portico.py")


def netns_names() -> list[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    return [line.split()[0] for line in out.splitlines() if line.strip()]


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        pytest.param(["ip", "-o", "route", "show"], "", id="no-ipv4-routes"),
        pytest.param(["ip", "-o", "-6", "route", "show"], "", id="no-ipv6-routes"),
    ],
)
def test_sandbox_has_no_routes(sandbox: Sandbox, argv: list[str], expected: str) -> None:
    assert sandbox.run(argv, check=True).stdout == expected


def test_sandbox_has_only_loopback_up(sandbox: Sandbox) -> None:
    links = sandbox.run(["ip", "-o", "link", "show"], check=True).stdout.splitlines()
    assert len(links) == 1
    assert links[0].split(":")[1].strip() == "lo"
    assert "UP" in links[0].split("<")[1].split(">")[0].split(",")


def test_sandbox_cannot_reach_host_namespace(sandbox: Sandbox) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        result = sandbox.run(
            ["curl", "-s", "--max-time", "5", f"http://127.0.0.1:{port}/"], timeout=15
        )
    assert result.returncode == 7  # curl: failed to connect (refused: nothing listens there)


def test_http_server_inside_sandbox_is_reachable_inside(sandbox: Sandbox) -> None:
    server = sandbox.popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "8765"])

    def fetch() -> str:
        result = sandbox.run(["curl", "-sf", "http://127.0.0.1:8765/"], timeout=10)
        return result.stdout if result.returncode == 0 else ""

    body = wait_for(fetch, 15, message="http.server in the sandbox")
    assert "Directory listing for /" in body
    assert server.poll() is None


def test_close_ends_processes_and_deletes_namespace() -> None:
    box = Sandbox().create()
    started = box.popen([sys.executable, "-m", "http.server", "--bind", "127.0.0.1", "8766"])
    # An orphan that our handle does not cover: only `ip netns pids` finds it.
    orphan = box.run(["sh", "-c", "sleep 300 >/dev/null 2>&1 & echo $!"], check=True)
    orphan_pid = int(orphan.stdout)
    assert box.name in netns_names()
    assert alive(orphan_pid)
    box.close()
    assert started.returncode is not None
    assert box.name not in netns_names()
    wait_for(lambda: not alive(orphan_pid), 5, message="the orphan to be reaped")


def test_run_timeout_raises_with_output(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError, match=r"timed out after 0.5s"):
        sandbox.run(["sh", "-c", "echo started; exec sleep 30"], timeout=0.5)


def test_run_check_raises_with_streams(sandbox: Sandbox) -> None:
    with pytest.raises(SandboxError) as info:
        sandbox.run(["sh", "-c", "echo out; echo err >&2; exit 4"], check=True)
    assert "exit code 4" in str(info.value)
    assert "stdout:\nout\n" in str(info.value)
    assert "stderr:\nerr\n" in str(info.value)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        pytest.param([0, "", None, "done"], "done", id="returns-first-truthy"),
        pytest.param([[1]], [1], id="returns-value-itself"),
    ],
)
def test_wait_for_returns_value(values: list[object], expected: object) -> None:
    feed = iter(values)
    assert wait_for(lambda: next(feed), 5, interval=0.001) == expected


def test_wait_for_times_out_naming_condition_and_last_error() -> None:
    def broken() -> bool:
        raise ValueError("boom")

    with pytest.raises(TimeoutError, match=r"waiting for the thing \(last error: ValueError"):
        wait_for(broken, 0.05, interval=0.01, message="the thing")


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=f"kubectl-{v}") for v in ("1.32", "1.33")]
)
def test_kubectl_binary_is_the_real_versioned_kubectl(version: str) -> None:
    out = subprocess.run(
        [kubectl_binary(version), "version", "--client", "-o", "json"],
        capture_output=True, text=True, check=True,
    ).stdout
    assert json.loads(out)["clientVersion"]["minor"] == version.split(".")[1]


@pytest.fixture
def fake_portico(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    script = tmp_path / "portico"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {FAKE} "$@"\n')
    script.chmod(0o755)
    monkeypatch.setenv("FAKE_PORTICO_RECORD", str(tmp_path / "down-record"))
    return script


@pytest.fixture
def fake_cluster(fake_portico: Path) -> Iterator[Cluster]:
    with Cluster(portico=fake_portico, ready_timeout=20) as running:
        yield running


def test_cluster_lifecycle(fake_cluster: Cluster, fake_portico: Path) -> None:
    c = fake_cluster
    assert c.name.startswith("pt") and len(c.name) == 8
    assert c.kubeconfig.exists()
    # a stopped run leaves its kubeconfig, so the fake `wait` may answer before the
    # new `up` has counted its start
    starts = c.data_dir / "starts"
    assert c.stop() == 0
    c.start()
    wait_for(lambda: starts.read_text() == "2", 10, message="the second start counted")
    assert c.kill9() == -9
    c.start()
    wait_for(lambda: starts.read_text() == "3", 10, message="the third start counted")
    assert "serving " + c.name in c.log_tail()
    c.close()
    assert (fake_portico.parent / "down-record").read_text() == c.name + "\n"
    assert c.sandbox.name not in netns_names()
    assert not c.workdir.exists()


@pytest.mark.parametrize(
    "version", [pytest.param(v, id=f"kubectl-{v}") for v in ("1.32", "1.33")]
)
def test_cluster_kubectl_runs_versioned_binary_inside(fake_cluster: Cluster, version: str) -> None:
    result = fake_cluster.kubectl("config", "view", "-o", "jsonpath={.clusters[0].cluster.server}",
                                  version=version)
    assert result.stdout == "http://127.0.0.1:6443"
    client = fake_cluster.kubectl("version", "--client", "-o", "json", version=version)
    assert json.loads(client.stdout)["clientVersion"]["minor"] == version.split(".")[1]


def test_cluster_python_client_is_configured(fake_cluster: Cluster) -> None:
    out = fake_cluster.python_client("print(api.configuration.host)")
    assert out == "http://127.0.0.1:6443\n"


def test_cluster_start_failure_cleans_up(
    fake_portico: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAKE_PORTICO_FAIL", "1")
    cluster = Cluster(portico=fake_portico, ready_timeout=20)
    with pytest.raises(SandboxError, match=r"(?s)portico up exited with 3:\n.*fake failure"):
        cluster.open()
    assert cluster.sandbox.name not in netns_names()
    assert not cluster.workdir.exists()
