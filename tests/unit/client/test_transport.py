"""The aiohttp transport's REST paths and bearer tokens (its requests are exercised
against the real API server by every e2e test, its watches also by test_watch_lines)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from portico.client._transport import BearerToken, kind_path
from portico.model.kinds import DEPLOYMENT, EVENT, NODE, POD, Kind


@pytest.mark.parametrize(("kind", "namespace", "name", "path"), [
    (EVENT, "ns", None, "/api/v1/namespaces/ns/events"),
    (POD.status, "ns", "web", "/api/v1/namespaces/ns/pods/web/status"),
    (POD.sub("binding"), "ns", "web", "/api/v1/namespaces/ns/pods/web/binding"),
    (DEPLOYMENT, "ns", "web", "/apis/apps/v1/namespaces/ns/deployments/web"),
    (NODE.status, None, "node-1", "/api/v1/nodes/node-1/status"),
    (Kind.of("example.com/v1", "Widget", "widgets", namespaced=False), None, None,
     "/apis/example.com/v1/widgets"),
])
def test_kind_path(kind: Kind, namespace: str | None, name: str | None, path: str) -> None:
    assert kind_path(kind, namespace, name) == path


def test_bearer_token_follows_its_file(tmp_path: Path) -> None:
    token_file = tmp_path / "token"
    token_file.write_text("first\n")
    token = BearerToken("first", str(token_file))
    assert token.header() == "Bearer first"
    token_file.write_text("second\n")
    os.utime(token_file, ns=(1, 1))  # a rotation within the same mtime tick still counts
    assert token.header() == "Bearer second"
    token_file.unlink()
    assert token.header() == "Bearer second"  # kept until a new one is there


def test_no_token_no_header() -> None:
    assert BearerToken(None, None).header() == ""
    assert BearerToken("static", None).header() == "Bearer static"
