"""Shared fixtures: sandboxes, clusters and kubectl sessions for the end-to-end tests.

End-to-end tests (everything under `tests/e2e/`, marked `e2e`) create network
namespaces, so they are skipped with a clear reason when not running as root; CI
runs as root, so there they run.  The `cluster` fixture is one module-scoped
`portico up --nodes 0` shared by the tests of a module, and `kubectl` gives each
test a fresh namespace on it, once per kubectl version (1.32 and 1.33).
"""

from __future__ import annotations

import json
import secrets
import shutil
import subprocess
from collections.abc import Generator, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from portico.testing.sandbox import Cluster, Sandbox, is_root

KUBECTL_VERSIONS = ("1.32", "1.33")
E2E_DIR = "e2e"


def _skip_reason() -> str | None:
    if not is_root():
        return "end-to-end tests need root to create network namespaces (ip netns add)"
    if shutil.which("ip") is None:
        return "end-to-end tests need iproute2's `ip` to create network namespaces"
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test under tests/e2e as `e2e`, and skip them all when not root."""
    reason = _skip_reason()
    for item in items:
        if E2E_DIR not in item.path.parts:
            continue
        item.add_marker(pytest.mark.e2e)
        if reason:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Attach the tail of `portico up`'s log to the report of a failed e2e test."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for value in funcargs.values():
            if isinstance(value, Cluster):
                report.sections.append((f"portico up log ({value.name})", value.log_tail()))
    return report


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    """A fresh network namespace with only `lo`, removed afterwards."""
    with Sandbox() as box:
        yield box


def _module_env(request: pytest.FixtureRequest) -> dict[str, str] | None:
    """More of `portico up`'s environment, from the test module's `CLUSTER_ENV`."""
    return getattr(request.module, "CLUSTER_ENV", None)


@pytest.fixture(scope="module")
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """The default cluster (`--nodes 0`), shared by the tests of one module."""
    with Cluster(nodes=0, env=_module_env(request)) as running:
        yield running


@pytest.fixture
def fresh_cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A cluster of the test's own, for tests that stop, kill or restart it."""
    with Cluster(nodes=0, env=_module_env(request)) as running:
        yield running


@pytest.fixture(params=[pytest.param(v, id=f"kubectl-{v}") for v in KUBECTL_VERSIONS])
def kubectl_version(request: pytest.FixtureRequest) -> str:
    """Each kubectl version the project supports."""
    return str(request.param)


@dataclass
class Kubectl:
    """kubectl of one version, bound to one cluster and one namespace (`-n`)."""

    cluster: Cluster
    version: str
    namespace: str

    def __call__(
        self, *args: str, input: str | None = None, timeout: float = 60.0
    ) -> subprocess.CompletedProcess[str]:
        return self.cluster.kubectl(
            "-n", self.namespace, *args, version=self.version, input=input, timeout=timeout
        )

    def ok(self, *args: str, input: str | None = None) -> str:
        """Run, assert success, return stdout."""
        result = self(*args, input=input)
        assert result.returncode == 0, f"kubectl {' '.join(args)}: {result.stderr}"
        return result.stdout

    def fail(self, *args: str, input: str | None = None) -> str:
        """Run, assert failure (exit 1), return stderr."""
        result = self(*args, input=input)
        assert result.returncode == 1, f"kubectl {' '.join(args)} exited {result.returncode}:" \
            f"\n{result.stdout}{result.stderr}"
        return result.stderr

    def json(self, *args: str) -> Any:
        """`kubectl <args> -o json`, parsed."""
        return json.loads(self.ok(*args, "-o", "json"))

    def popen(self, *args: str) -> subprocess.Popen[str]:
        return self.cluster.kubectl_popen("-n", self.namespace, *args, version=self.version)


def new_namespace(cluster: Cluster, prefix: str = "e2e") -> str:
    """Create a namespace with a unique name (JSON body, not protobuf); return its name."""
    name = f"{prefix}-{secrets.token_hex(3)}"
    body = json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    result = cluster.kubectl("create", "-f", "-", input=body)
    assert result.returncode == 0, f"cannot create namespace {name}: {result.stderr}"
    return name


@pytest.fixture
def kubectl(cluster: Cluster, kubectl_version: str) -> Generator[Kubectl, None, None]:
    """kubectl (each version) in a fresh namespace of the shared cluster."""
    namespace = new_namespace(cluster)
    yield Kubectl(cluster, kubectl_version, namespace)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")


@pytest.fixture
def kubectl133(cluster: Cluster) -> Generator[Kubectl, None, None]:
    """kubectl 1.33 only, in a fresh namespace (where the version does not matter)."""
    namespace = new_namespace(cluster)
    yield Kubectl(cluster, "1.33", namespace)
    cluster.kubectl("delete", "namespace", namespace, "--wait=false")
