"""registries.yaml endpoints and the pull-secret keyring (pure)."""

from __future__ import annotations

import base64
from pathlib import Path

from portico.model.quantity import milli_value as milli_cpu
from portico.model.quantity import value as memory_bytes
from portico.oci._registries import Endpoint, Registries, load, secret_credentials


def test_mirrors_come_first_then_the_registry(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text("mirrors:\n  docker.io:\n    endpoint: ['http://mirror.test:5000']\n"
                    "configs:\n  mirror.test:5000:\n    auth: {username: u, password: p}\n"
                    "  secure.test:\n    tls: {insecure_skip_verify: true}\n")
    registries = load(path)
    assert registries.endpoints("docker.io") == [
        Endpoint("mirror.test:5000", True, ("u", "p")), Endpoint("docker.io", False)]
    assert registries.endpoints("secure.test") == [Endpoint("secure.test", True)]
    assert load(tmp_path / "absent.yaml") == Registries()


def test_loopback_registries_may_be_plain_http() -> None:
    for host in ("localhost:5000", "127.0.0.1:5000", "[::1]:5000"):
        assert Registries().endpoints(host) == [Endpoint(host, True)]
    assert Registries().endpoints("10.0.0.1:5000") == [Endpoint("10.0.0.1:5000", False)]


def test_pull_secrets_match_the_registry_host() -> None:
    auth = base64.b64encode(b"alice:secret").decode()
    config = {"auths": {"https://index.docker.io/v1/": {"auth": auth},
                        "127.0.0.1:5000": {"username": "bob", "password": "pw"},
                        "other.test": {"auth": auth}}}
    assert secret_credentials(config, "docker.io") == [("alice", "secret")]
    assert secret_credentials(config, "127.0.0.1:5000") == [("bob", "pw")]
    assert secret_credentials({"quay.io": {"auth": auth}}, "quay.io") == [("alice", "secret")]
    assert secret_credentials(config, "nowhere.test") == []


def test_quantities() -> None:
    assert memory_bytes("128Mi") == 134217728
    assert memory_bytes("1G") == 10**9
    assert milli_cpu("0.5") == 500
    assert milli_cpu("250m") == 250
