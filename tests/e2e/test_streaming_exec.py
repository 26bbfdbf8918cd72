"""End to end: kubectl exec / attach / run -it / cp and the Python client's exec, on a real node.

One `portico up --nodes 1` per module (see `streaming_support`); every command runs
inside the cluster's sandbox with the real kubectl 1.32 and 1.33.  The default path is
WebSocket `v5.channel.k8s.io`; `KUBECTL_REMOTE_COMMAND_WEBSOCKETS=false` forces the
SPDY/3.1 upgrade.  Both go API server -> (upgrade proxy) -> node agent.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.testing.sandbox import Cluster, wait_for
from tests.e2e.test_streaming_support import NAMESPACE, kubectl_env, run_in_pty, streaming_cluster

pytestmark = pytest.mark.e2e
VERSIONS = ("1.32", "1.33")
WEBSOCKET: dict[str, str] = {}
SPDY = {"KUBECTL_REMOTE_COMMAND_WEBSOCKETS": "false"}
TRANSPORTS = [pytest.param(WEBSOCKET, id="websocket"), pytest.param(SPDY, id="spdy")]


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    with streaming_cluster() as running:
        yield running


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
@pytest.mark.parametrize("code", [0, 3, 7])
def test_exec_exit_codes(cluster: Cluster, version: str, env: dict[str, str],
                         code: int) -> None:
    rc, out, err = kubectl_env(
        cluster, "exec", "p1", "--", "sh", "-c",
        f'echo out; echo "$GREETING" >&2; pwd; exit {code}', version=version, env=env)
    assert rc == code, err
    assert out == "out\n/\n"
    expected = "hello\n" + (f"command terminated with exit code {code}\n" if code else "")
    assert err == expected


def test_exec_joins_the_container_hostname_and_resolver(cluster: Cluster) -> None:
    """exec runs in the container's namespaces: the pod's hostname (a UTS namespace of
    its own) and its resolv.conf (a mount namespace of its own), as in a pod sandbox."""
    rc, out, err = kubectl_env(cluster, "exec", "p1", "--", "sh", "-c",
                               "hostname; grep -c 'nameserver 10.0.0.10' /etc/resolv.conf",
                               version="1.33", env=WEBSOCKET)
    assert (rc, out, err) == (0, "p1\n1\n", "")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_exec_stdin_through_cat(cluster: Cluster, version: str, env: dict[str, str]) -> None:
    text = "".join(f"line {i}\n" for i in range(2000))
    rc, out, err = kubectl_env(cluster, "exec", "-i", "p1", "-c", "c1", "--", "cat",
                               version=version, env=env, input=text)
    assert (rc, out, err) == (0, text, "")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_exec_errors(cluster: Cluster, version: str, env: dict[str, str]) -> None:
    rc, _, err = kubectl_env(cluster, "exec", "p1", "-c", "nope", "--", "true",
                             version=version, env=env)
    assert (rc, err) == (1, "Error from server (BadRequest): container nope is not valid "
                            "for pod p1\n")
    rc, _, err = kubectl_env(cluster, "exec", "p1", "--", "no-such-command",
                             version=version, env=env)
    assert rc == 127
    assert err == ('exec: "no-such-command": executable file not found in $PATH\n'
                   "command terminated with exit code 127\n")


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_exec_tty_follows_terminal_size(cluster: Cluster, version: str,
                                        env: dict[str, str]) -> None:
    rc, out = run_in_pty(cluster, ["exec", "-it", "p1", "--", "sh", "-c",
                                   "stty size; tty; exit 5"], version, rows=30, cols=100,
                         env=env)
    assert rc == 5, out
    assert "30 100\r\n" in out
    assert "/dev/pts/" in out
    assert "command terminated with exit code 5" in out


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_interactive_shell(cluster: Cluster, version: str, env: dict[str, str]) -> None:
    rc, out = run_in_pty(cluster, ["exec", "-it", "p1", "--", "sh"], version, rows=40,
                         cols=120, keys=b"stty size\recho $((6*7))\rexit 9\r", env=env)
    assert rc == 9, out
    assert "40 120" in out and "42" in out
    assert "can't access tty" not in out


@pytest.mark.parametrize("version", VERSIONS)
def test_run_it_rm_against_a_service(cluster: Cluster, version: str) -> None:
    ip = cluster.kubectl("-n", NAMESPACE, "get", "svc", "web", "-o",
                         "jsonpath={.spec.clusterIP}", check=True).stdout
    name = f"t{secrets.token_hex(3)}"
    rc, out = run_in_pty(cluster, ["run", "-it", "--rm", name, "--image=busybox",
                                   "--restart=Never", "--", "wget", "-qO-",
                                   f"http://{ip}/hostname"], version)
    assert rc == 0, out
    assert "web-" in out
    assert f'pod "{name}" deleted' in out
    name = f"t{secrets.token_hex(3)}"
    rc, out = run_in_pty(cluster, ["run", "-it", "--rm", name, "--image=busybox",
                                   "--restart=Never", "--", "sh", "-c",
                                   "read line; echo got $line; exit 4"], version,
                         keys=b"ping\r")
    assert rc == 4, out
    assert "got ping" in out
    assert f"pod {NAMESPACE}/{name} terminated (Error)" in out
    wait_for(lambda: name not in cluster.kubectl("-n", NAMESPACE, "get", "pods").stdout, 30,
             message=f"pod {name} removed")


@pytest.mark.parametrize("version", VERSIONS)
def test_attach_to_a_running_container(cluster: Cluster, version: str) -> None:
    # stdinOnce: the container's stdin closes when this session's does, so it exits.
    manifest = ("apiVersion: v1\nkind: Pod\nmetadata: {name: att-%s}\nspec:\n"
                "  restartPolicy: Never\n  containers:\n"
                "  - {name: a, image: busybox, stdin: true, stdinOnce: true, command: [sh, -c, "
                "'while read l; do echo echo:$l; done']}\n")
    name = f"att-{version.replace('.', '')}"
    cluster.kubectl("-n", NAMESPACE, "apply", "-f", "-",
                    input=manifest % version.replace(".", ""), check=True)
    cluster.kubectl("-n", NAMESPACE, "wait", "--for=condition=Ready", f"pod/{name}",
                    "--timeout=30s", check=True)
    rc, out, err = kubectl_env(cluster, "attach", "-i", name, version=version, env={},
                               input="one\ntwo\n")
    assert rc == 0, err
    assert out == "echo:one\necho:two\n"


@pytest.fixture
def scratch() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="portico-cp-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("env", TRANSPORTS)
def test_cp_round_trip(cluster: Cluster, version: str, env: dict[str, str],
                       scratch: Path) -> None:
    blob = os.urandom(1024 * 1024)
    (scratch / "in").mkdir()
    (scratch / "in" / "blob.bin").write_bytes(blob)
    (scratch / "in" / "sub").mkdir()
    (scratch / "in" / "sub" / "note.txt").write_text("directories too\n")
    (scratch / "pod").mkdir()
    rc, _, err = kubectl_env(cluster, "cp", str(scratch / "in"), f"p1:{scratch}/pod/in",
                             version=version, env=env)
    assert rc == 0, err
    rc, _, err = kubectl_env(cluster, "cp", f"p1:{scratch}/pod/in", str(scratch / "back"),
                             version=version, env=env)
    assert rc == 0, err
    digest = hashlib.sha256(blob).hexdigest()
    assert hashlib.sha256((scratch / "back" / "blob.bin").read_bytes()).hexdigest() == digest
    assert (scratch / "back" / "sub" / "note.txt").read_text() == "directories too\n"


def test_python_client_exec(cluster: Cluster) -> None:
    out = cluster.python_client(
        "from kubernetes.stream import stream\n"
        f"ns = {NAMESPACE!r}\n"
        "print(repr(stream(core.connect_get_namespaced_pod_exec, 'p1', ns,\n"
        "      command=['sh', '-c', 'echo hi; echo err >&2'], stderr=True, stdin=False,\n"
        "      stdout=True, tty=False)))\n"
        "r = stream(core.connect_get_namespaced_pod_exec, 'p1', ns,\n"
        "      command=['sh', '-c', 'read x; echo got $x; exit 3'], stderr=True, stdin=True,\n"
        "      stdout=True, tty=False, _preload_content=False)\n"
        "r.write_stdin('value\\n')\n"
        "r.run_forever(timeout=20)\n"
        "print(repr(r.read_stdout()), r.returncode)\n")
    assert out == "'hi\\nerr\\n'\n'got value\\n' 3\n"
