"""Views parse each cached object once per version, and forget deleted ones."""

from __future__ import annotations

from typing import Any

from portico.client import Informer, Views
from portico.model import core
from portico.model.kinds import SERVICE


def service(name: str, rv: int, port: int) -> dict[str, Any]:
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rv)},
            "spec": {"ports": [{"port": port}]}}


def test_each_version_is_parsed_once_and_deletions_are_forgotten() -> None:
    informer = Informer(api=None, kind=SERVICE)  # type: ignore[arg-type]
    parsed: list[str] = []

    def parse(obj: dict[str, Any]) -> core.Service:
        parsed.append(obj["metadata"]["resourceVersion"])
        return core.Service.from_obj(obj)

    views = Views(informer, parse)
    informer._store(service("web", 1, 80))
    informer._store(service("db", 2, 5432))
    assert sorted(v.ports[0].port for v in views.list()) == [80, 5432]
    assert views.list() and views.get("ns/web") is not None
    assert sorted(parsed) == ["1", "2"]
    informer._store(service("web", 3, 8080))
    assert [p.port for p in views.get("ns/web").ports] == [8080]  # type: ignore[union-attr]
    assert sorted(parsed) == ["1", "2", "3"]
    informer._remove("ns/db", 4)
    assert views.get("ns/db") is None and [v.metadata.name for v in views.list()] == ["web"]
    assert "ns/db" not in views._parsed
