"""Table tests of the routing rules: `match()` over the plan, and the maps agreeing with it."""

from __future__ import annotations

import pytest

from portico.ingress import endpoints, match, render, routes
from tests.unit.ingress.fixtures import (
    NGX,
    SETTINGS,
    ingress,
    path,
    rule,
    service,
    snapshot,
)

OLD, NEW = "2024-01-01T00:00:00Z", "2024-06-01T00:00:00Z"
SNAP = snapshot(
    [ingress("a", rule("foo.com", path("/foo", "prefix-foo"), path("/foo/bar", "prefix-foobar"),
                       path("/exact", "exact", kind="Exact"), path("/", "root"),
                       path("/both", "both-prefix"), path("/both", "both-exact", kind="Exact"),
                       path("/trail/", "trail"),
                       path("/impl", "impl", kind="ImplementationSpecific"),
                       path("/conflict", "old")),
             rule("*.wild.com", path("/", "wild")),
             rule("exact.wild.com", path("/only", "exact-host")),
             rule(None, path("/hostless", "hostless")), created=OLD),
     ingress("b", rule("foo.com", path("/conflict", "new")), created=NEW),
     ingress("re", rule("re.com", path("/api/v[0-9]+", "versioned", kind="ImplementationSpecific"),
                        path("/api/v1/special", "special", kind="ImplementationSpecific"),
                        path("/api", "api-prefix")),
             annotations={NGX + "use-regex": "true"}, created=OLD),
     ingress("d", default=("fallback", 80), created=NEW),
     ingress("other-class", rule("other.com", path("/", "x")), cls="someone-else")],
    [service(n, ("", 80, 8080)) for n in ("prefix-foo", "fallback")])

B = routes.backend_name
CASES = [
    pytest.param("foo.com", "/foo", "prefix-foo", id="prefix equal"),
    pytest.param("foo.com", "/foo/", "prefix-foo", id="prefix trailing slash"),
    pytest.param("foo.com", "/foo/x/y", "prefix-foo", id="prefix element"),
    pytest.param("foo.com", "/foobar", "root", id="prefix is element-wise"),
    pytest.param("foo.com", "/foo/bar", "prefix-foobar", id="longest prefix"),
    pytest.param("foo.com", "/foo/barbaz", "prefix-foo", id="longest element-wise prefix"),
    pytest.param("foo.com", "/foo/bar/baz", "prefix-foobar", id="longest prefix deeper"),
    pytest.param("foo.com", "/exact", "exact", id="exact"),
    pytest.param("foo.com", "/exact/", "root", id="exact is exact"),
    pytest.param("foo.com", "/both", "both-exact", id="exact beats prefix on a tie"),
    pytest.param("foo.com", "/both/x", "both-prefix", id="prefix beyond the exact"),
    pytest.param("foo.com", "/trail", "trail", id="prefix declared with trailing slash"),
    pytest.param("foo.com", "/trail/x", "trail", id="trailing slash prefix element"),
    pytest.param("foo.com", "/impl/x", "impl", id="implementation specific is prefix"),
    pytest.param("foo.com", "/implx", "root", id="implementation specific element-wise"),
    pytest.param("foo.com", "/conflict", "old", id="older ingress wins"),
    pytest.param("FOO.com:8080", "/foo", "prefix-foo", id="host case and port ignored"),
    pytest.param("foo.com", "/FOO", "root", id="path is case-sensitive"),
    pytest.param("a.wild.com", "/x", "wild", id="wildcard one label"),
    pytest.param("b.a.wild.com", "/x", "fallback", id="wildcard not two labels"),
    pytest.param("wild.com", "/x", "fallback", id="wildcard not bare"),
    pytest.param("exact.wild.com", "/only", "exact-host", id="exact host beats wildcard"),
    pytest.param("exact.wild.com", "/x", "fallback", id="exact host does not fall back"),
    pytest.param("unknown.com", "/hostless", "hostless", id="hostless rule"),
    pytest.param("foo.com", "/hostless", "root", id="host rules hide hostless"),
    pytest.param("unknown.com", "/nothing", "fallback", id="default backend"),
    pytest.param("other.com", "/", "fallback", id="other class ignored"),
    pytest.param("re.com", "/api/v2/x", "versioned", id="regex"),
    pytest.param("re.com", "/API/V2", "versioned", id="regex case-insensitive"),
    pytest.param("re.com", "/api/v1/special/x", "special", id="longest regex first"),
    pytest.param("re.com", "/api/x", "api-prefix", id="prefix after regex"),
    pytest.param("re.com", "/x/api/v1", "fallback", id="regex anchored"),
]


def _backend(name: str) -> str:
    ing = {"old": "a", "new": "b", "fallback": "d", "versioned": "re", "special": "re",
           "api-prefix": "re"}.get(name, "a")
    port = "80"
    return B(("default", ing), name, port)


@pytest.mark.parametrize(("host", "request_path", "expected"), CASES)
def test_match(host: str, request_path: str, expected: str) -> None:
    plan = routes.build_plan(SNAP, SETTINGS)
    assert match.match(plan, host, request_path) == _backend(expected)


@pytest.mark.parametrize(("host", "request_path", "expected"), CASES)
def test_maps_encode_the_same_rules(host: str, request_path: str, expected: str) -> None:
    plan = routes.build_plan(SNAP, SETTINGS)
    slots = {b.name: endpoints.assign_slots(b.servers, (), 2) for b in plan.backends}
    maps = render.render_config(plan, slots, SETTINGS).maps
    assert match.lookup(maps, host, request_path, plan.default_backend) == _backend(expected)


def test_no_default_backend_is_404() -> None:
    plan = routes.build_plan(snapshot([ingress("a", rule("a.com", path("/x", "s")))]), SETTINGS)
    assert match.match(plan, "a.com", "/y") == render.NOT_FOUND_BACKEND
    assert match.match(plan, "a.com", "/x") == B(("default", "a"), "s", "80")


def test_no_default_class_ignores_classless() -> None:
    from tests.unit.ingress.fixtures import ingress_class
    snap = snapshot([ingress("a", rule("a.com", path("/", "s")))],
                    classes=[ingress_class(default=False)])
    assert routes.build_plan(snap, SETTINGS).ingresses == ()


def test_slots_keep_places() -> None:
    S = endpoints.Server
    first = endpoints.assign_slots((S("10.0.0.1", 1), S("10.0.0.2", 1)), (), 4)
    assert first == (S("10.0.0.1", 1), S("10.0.0.2", 1), None, None)
    second = endpoints.assign_slots((S("10.0.0.2", 1), S("10.0.0.3", 1)), first, 4)
    assert second == (S("10.0.0.3", 1), S("10.0.0.2", 1), None, None)
    grown = endpoints.assign_slots(tuple(S(f"10.0.0.{i}", 1) for i in range(1, 6)), second, 4)
    assert len(grown) == 8 and grown[:5] == tuple(S(f"10.0.0.{i}", 1) for i in range(1, 6))
