"""The Gateway API bundle's sources, checked against the pinned sha256; the download
path is served by a local HTTP server on loopback (never the real network)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from portico.cli import _gatewayapi as gwapi
from portico.testing.sandbox import GATEWAY_API_BUNDLE


class _Files(http.server.BaseHTTPRequestHandler):
    bodies: dict[str, bytes] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.bodies.get(self.path)
        self.send_response(200 if body is not None else 404)
        self.send_header("Content-Length", str(len(body or b"")))
        self.end_headers()
        self.wfile.write(body or b"")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def release() -> Iterator[str]:
    """A loopback server with the release file at /good and a truncated one at /short."""
    text = GATEWAY_API_BUNDLE.read_bytes()
    _Files.bodies = {"/good": text, "/short": text[:1000]}
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(gwapi.ENV_VARIABLE, raising=False)


def test_the_pin_is_the_conformance_copy() -> None:
    assert gwapi.verified(GATEWAY_API_BUNDLE.read_bytes(), "x").source == "x"


def test_download_is_verified_and_cached(release: str, tmp_path: Path) -> None:
    bundle = gwapi.locate(None, tmp_path, url=release + "/good")
    assert bundle.source == release + "/good"
    assert gwapi.cache_path(tmp_path).read_bytes() == bundle.text

    def offline(url: str) -> bytes:
        raise OSError("network is unreachable")

    again = gwapi.locate(None, tmp_path, fetch=offline)  # the cache: no download
    assert again.source == str(gwapi.cache_path(tmp_path))


def test_a_truncated_download_is_refused_and_not_cached(release: str, tmp_path: Path) -> None:
    with pytest.raises(gwapi.BundleError, match="sha256 .* is not Gateway API v1.6.1"):
        gwapi.locate(None, tmp_path, url=release + "/short")
    assert not gwapi.cache_path(tmp_path).parent.exists()


def test_download_failure_says_how_to_work_offline(release: str, tmp_path: Path) -> None:
    with pytest.raises(gwapi.BundleError, match="--gateway-api-crds or "
                                                "\\$PORTICO_GATEWAY_API_CRDS"):
        gwapi.locate(None, tmp_path, url=release + "/missing")


def test_option_then_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    other = tmp_path / "other.yaml"
    other.write_text("kind: Foo\n")
    monkeypatch.setenv(gwapi.ENV_VARIABLE, str(other))

    def never(url: str) -> bytes:
        raise AssertionError("no download when a file is given")

    bundle = gwapi.locate(GATEWAY_API_BUNDLE, tmp_path, fetch=never)
    assert bundle.source == str(GATEWAY_API_BUNDLE)
    with pytest.raises(gwapi.BundleError, match="other.yaml: sha256"):
        gwapi.locate(None, tmp_path, fetch=never)
    with pytest.raises(gwapi.BundleError, match="No such file"):
        gwapi.locate(tmp_path / "absent.yaml", tmp_path, fetch=never)


def test_documents_are_the_crds_and_the_policy() -> None:
    docs = gwapi.documents(gwapi.verified(GATEWAY_API_BUNDLE.read_bytes(), "x"))
    assert [d["kind"] for d in docs[-2:]] == ["ValidatingAdmissionPolicy",
                                              "ValidatingAdmissionPolicyBinding"]
    assert gwapi.crd_names(docs) == sorted(gwapi.crd_names(docs))
    assert "gateways.gateway.networking.k8s.io" in gwapi.crd_names(docs)
    assert len(gwapi.crd_names(docs)) == 10


def test_state_file_round_trip(tmp_path: Path) -> None:
    assert gwapi.read_state(tmp_path) is None
    gwapi.write_state(tmp_path, gwapi.State.UNAVAILABLE, reason="offline")
    assert gwapi.read_state(tmp_path) == {"version": "v1.6.1", "sha256": gwapi.SHA256,
                                          "state": "unavailable", "reason": "offline",
                                          "source": "", "crds": [], "objects": {}}


def _crd(uid: str, generation: int, annotations: dict[str, str]) -> dict[str, object]:
    return {"metadata": {"uid": uid, "generation": generation, "annotations": annotations,
                         "resourceVersion": "7"}, "status": {"conditions": []}}


def test_fingerprint_changes_with_uid_generation_and_metadata_not_status() -> None:
    base = gwapi.fingerprint(_crd("u1", 1, {"a": "1"}))
    assert gwapi.fingerprint({**_crd("u1", 1, {"a": "1"}), "status": {"x": 1}}) == base
    for other in (_crd("u2", 1, {"a": "1"}), _crd("u1", 2, {"a": "1"}),
                  _crd("u1", 1, {"a": "2"})):
        assert gwapi.fingerprint(other) != base


def test_none_installs_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def never(url: str) -> bytes:
        raise AssertionError("no download when disabled")

    assert gwapi.bundle_option("none") == Path("none")
    assert gwapi.bundle_option("b.yaml") == Path("b.yaml").absolute()
    with pytest.raises(gwapi.BundleError, match="the bundle's file is 'none'"):
        gwapi.locate(Path("none"), tmp_path, fetch=never)
    monkeypatch.setenv(gwapi.ENV_VARIABLE, "none")
    with pytest.raises(gwapi.BundleError, match="'none'"):
        gwapi.locate(None, tmp_path, fetch=never)
