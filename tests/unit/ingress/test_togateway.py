"""Golden tests of `portico.ingress.togateway`: Ingresses in, the printed YAML out.

The expected YAML lives in `golden/togateway-<case>.yaml`; to review a change, run
with PORTICO_UPDATE_GOLDEN=1 and read the diff.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from portico.ingress.togateway import MAX_RULES, convert, to_yaml
from tests.unit.apiextensions.gateway_bundle import needs_bundle, schema_errors
from tests.unit.ingress.togateway_cases import CASES, ingress, path, rule

GOLDEN = Path(__file__).parent / "golden"


def ports(namespace: str, service: str, name: str) -> int | None:
    return {"http": 8080}.get(name)


@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_golden(case: str) -> None:
    printed = to_yaml(convert(CASES[case], ports))
    golden = GOLDEN / f"togateway-{case}.yaml"
    if os.environ.get("PORTICO_UPDATE_GOLDEN"):
        golden.write_text(printed)
    assert printed == golden.read_text()


def test_every_note_names_its_ingress_and_nothing_is_silent() -> None:
    conversion = convert(CASES["rewrites-and-what-has-no-form"], ports)
    assert all(n.startswith("ingress shop/") for n in conversion.notes)
    given = {"enable-cors", "affinity", "limit-rps", "metrics", "StorageBucket", "/v1/(.*)"}
    assert {g for g in given if any(g in n for n in conversion.notes)} == given


def test_more_paths_than_a_route_holds_make_more_routes() -> None:
    paths = [path(f"/p{i}", "web") for i in range(MAX_RULES + 3)]
    objects = convert([ingress("many", {"rules": [rule("a.example", *paths)]})], ports).objects
    routes = [o for o in objects if o["kind"] == "HTTPRoute"]
    assert [r["metadata"]["name"] for r in routes] == ["many-a-example", "many-a-example-2"]
    assert [len(r["spec"]["rules"]) for r in routes] == [MAX_RULES, 3]


def test_namespaces_get_a_gateway_each_and_the_yaml_loads() -> None:
    ingresses = [ingress("web", {"rules": [rule("a.example", path("/", "web"))]}, namespace=ns)
                 for ns in ("b", "a")]
    docs = [d for d in yaml.safe_load_all(to_yaml(convert(ingresses, ports))) if d]
    assert [(d["kind"], d["metadata"]["namespace"]) for d in docs] == [
        ("Gateway", "a"), ("HTTPRoute", "a"), ("Gateway", "b"), ("HTTPRoute", "b")]


def test_no_ingresses_no_objects() -> None:
    assert to_yaml(convert([], ports)).count("---") == 0


@needs_bundle
@pytest.mark.parametrize("case", [pytest.param(c, id=c) for c in CASES])
def test_converted_objects_are_valid_against_the_crds(case: str) -> None:
    for obj in convert(CASES[case], ports).objects:
        assert schema_errors(obj) == [], obj["metadata"]["name"]


@needs_bundle
def test_the_schema_check_sees_a_redirect_with_backends() -> None:
    route = convert(CASES["tls-host-redirects-http"], ports).objects[1]
    route["spec"]["rules"][0]["filters"] = [{"type": "RequestRedirect", "requestRedirect": {
        "scheme": "https"}}]
    assert any("RequestRedirect filter must not be used together with backendRefs" in e
               for e in schema_errors(route))
