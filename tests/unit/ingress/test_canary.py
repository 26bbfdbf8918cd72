"""Canary by header, header pattern, cookie and weight, as ingress-nginx's balancer.lua decides.

Annotations -> Options (what is accepted, what is warned about), the golden
HAProxy rules, and a decision table: the rendered config run by a real HAProxy
(listening on UNIX sockets only, no network) answers with the name of the backend
it picked, compared with `balancer_lua`, a transcription of
`route_to_alternative_balancer` over nginx's `$http_<name>` / `$cookie_<name>`.
"""

from __future__ import annotations

import http.client
import re
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath

import pytest

from portico.ingress import annotations, endpoints, render, routes
from portico.ingress.files import write_files
from portico.ingress.model import Canary, MatchKind, Obj, Options, Reason, Snapshot
from portico.testing.sandbox import end_process, wait_for
from tests.unit.ingress.fixtures import NGX, SETTINGS, ingress, path, rule, snapshot

CANARY = "ing_default_canary_web2_80"


def parse(**values: str) -> tuple[Options, list[tuple[Reason, str]]]:
    return annotations.parse({NGX + k.replace("_", "-"): v for k, v in values.items()},
                             "default", lambda ns, name: None)


def canary_ingresses(host: str = "shop.test", suffix: str = "", **values: str) -> list[Obj]:
    """A main Ingress (service web) and a canary one (service web2) for `host` /."""
    canary = {"canary": "true", **values}
    return [ingress("main" + suffix, rule(host, path("/", "web")), created="2024-01-01T00:00:00Z"),
            ingress("canary" + suffix, rule(host, path("/", "web2")),
                    created="2024-01-02T00:00:00Z",
                    annotations={NGX + k.replace("_", "-"): v for k, v in canary.items()})]


def canary_snapshot(**values: str) -> Snapshot:
    return snapshot(canary_ingresses(**values))


# --- annotations ------------------------------------------------------------------------
def test_cookie_and_pattern_are_supported() -> None:
    options, problems = parse(canary="true", canary_by_cookie="canary",
                              canary_by_header="X-Canary", canary_by_header_pattern="^v[0-9]+$")
    assert problems == []
    assert (options.canary_cookie, options.canary_header, options.canary_header_pattern,
            options.canary_header_pattern_fails) == ("canary", "X-Canary", "^v[0-9]+$", False)


def test_header_name_is_read_as_nginx_reads_it() -> None:
    assert parse(canary_by_header="x_canary")[0].canary_header == "x-canary"
    options, problems = parse(canary_by_header="X.Canary")
    assert options.canary_header is None
    assert problems == [(Reason.INVALID_ANNOTATION,
                         "annotation canary-by-header='X.Canary' ignored: nginx never sees "
                         "request headers whose name has characters other than letters, "
                         "digits, - and _")]


@pytest.mark.parametrize(("key", "value"), [
    ("canary-by-header-value", "v1+beta"), ("canary-by-header-value", "a#b"),
    ("canary-by-cookie", "my cookie"), ("canary-by-cookie", ""),
    ("canary-by-header", "X-Canary;"),
])
def test_values_outside_nginx_basic_characters_are_ignored(key: str, value: str) -> None:
    options, problems = annotations.parse({NGX + key: value}, "default", lambda ns, n: None)
    assert options == Options()
    assert problems == [(Reason.INVALID_ANNOTATION, f"annotation {key}={value!r} ignored: "
                         + ("must be letters, digits and -._~/: only"))]


def test_weight_total_below_100_counts_as_100() -> None:
    options, problems = parse(canary_weight_total="50")
    assert options.canary_weight_total == 100
    assert problems == [(Reason.INVALID_ANNOTATION, "annotation canary-weight-total='50' "
                         "ignored: must be between 100 and 1000000")]
    assert parse(canary_weight_total="1000")[0].canary_weight_total == 1000


def test_pattern_pcre_cannot_compile_sends_the_header_to_main() -> None:
    options, problems = parse(canary_by_header_pattern="[z-a]")
    assert (options.canary_header_pattern, options.canary_header_pattern_fails) == \
        ("[z-a]", True)
    assert problems == [(Reason.INVALID_ANNOTATION,
                         "annotation canary-by-header-pattern='[z-a]': PCRE cannot compile it "
                         "(range out of order in character class at offset 3); as in "
                         "ingress-nginx, a request carrying the header goes to the main "
                         "backend")]


@pytest.mark.parametrize(("pattern", "why"), [
    ("a b", "must be at most 1024 letters, digits, -._~/: and regex characters "
            "^$[](){}*+?|&=\\"),
    ("x'", "must be at most 1024 letters, digits, -._~/: and regex characters "
           "^$[](){}*+?|&=\\"),
    ("a" * 1025, "must be at most 1024 letters, digits, -._~/: and regex characters "
                 "^$[](){}*+?|&=\\"),
    ("(a)\\1", "HAProxy cannot match it (reference to non-existent subpattern at offset 4)"),
])
def test_patterns_we_cannot_honour_are_ignored(pattern: str, why: str) -> None:
    options, problems = parse(canary_by_header_pattern=pattern)
    assert options.canary_header_pattern is None
    assert problems == [(Reason.INVALID_ANNOTATION,
                         f"annotation canary-by-header-pattern={pattern!r} ignored: {why}")]


def test_unsupported_canary_neighbours_still_warn() -> None:
    _, problems = parse(canary_by_cookie="c", session_cookie_path="/")
    assert problems == [(Reason.UNSUPPORTED_ANNOTATION, f"annotation {NGX}session-cookie-path "
                         "is not supported by this ingress controller and is ignored")]


def test_plan_carries_the_canary() -> None:
    plan = routes.build_plan(canary_snapshot(
        canary_weight="10", canary_weight_total="1000", canary_by_header="X_Canary",
        canary_by_header_pattern="^v1", canary_by_cookie="canary"), SETTINGS)
    (route,) = plan.routes
    assert plan.canaries == (Canary(route_id=route.route_id, canary=CANARY,
                                    weight=10, weight_total=1000, header="X-Canary",
                                    header_pattern="^v1", cookie="canary"),)
    assert plan.warnings == ()


# --- golden rules -----------------------------------------------------------------------
def rendered(snap, settings=SETTINGS) -> render.Rendered:
    plan = routes.build_plan(snap, settings)
    slots = {b.name: endpoints.assign_slots(b.servers, (), settings.slot_scale)
             for b in plan.backends}
    return render.render_config(plan, slots, settings)


def canary_lines(config: str) -> list[str]:
    http = config[config.index("frontend http\n"):config.index("frontend https\n")]
    return [line for line in http.splitlines() if "canary" in line]


ROUTE = routes.route_id(("default", "main"), "shop.test", "/", MatchKind.PREFIX)
ON = f"if {{ var(txn.route) -m str {ROUTE} }} !{{ var(txn.canary) -m found }}"
USE = (f"    use_backend {CANARY} if {{ var(txn.route) -m str {ROUTE} }} "
       "{ var(txn.canary) -m str canary }")


def test_header_cookie_weight_rules_are_golden() -> None:
    config = rendered(canary_snapshot(canary_by_header="X-Canary", canary_by_cookie="canary",
                                      canary_weight="20")).config
    assert canary_lines(config) == [
        f"    http-request set-var(txn.canary) str(canary) {ON} "
        "{ req.fhdr_cnt(X-Canary) eq 1 } { req.fhdr(X-Canary) -m str always }",
        f"    http-request set-var(txn.canary) str(main) {ON} "
        "{ req.fhdr_cnt(X-Canary) eq 1 } { req.fhdr(X-Canary) -m str never }",
        f"    http-request set-var(txn.canary) str(canary) {ON} "
        "{ req.cook(canary) -m str always }",
        f"    http-request set-var(txn.canary) str(main) {ON} "
        "{ req.cook(canary) -m str never }",
        f"    http-request set-var(txn.canary) str(canary) {ON} {{ rand(100) lt 20 }}",
        USE]
    https = config[config.index("frontend https\n"):]
    assert https.index("set-var(txn.canary)") < https.index("use_backend ing_default_canary")


@pytest.mark.parametrize(("values", "header_rule"), [
    ({"canary_by_header_value": "v1"},
     "str(canary) {on} { req.fhdr_cnt(X-Canary) eq 1 } { req.fhdr(X-Canary) -m str v1 }"),
    ({"canary_by_header_pattern": "^v\\d+$"},
     "str(canary) {on} { req.fhdr(X-Canary) -m reg '^v\\d+$' }"),
    ({"canary_by_header_pattern": "}"}, "str(canary) {on} { req.fhdr(X-Canary) -m reg '\\}' }"),
])
def test_header_value_and_pattern_rules_are_golden(values: dict[str, str],
                                                   header_rule: str) -> None:
    config = rendered(canary_snapshot(canary_by_header="X-Canary", **values)).config
    assert canary_lines(config) == [
        "    http-request set-var(txn.canary) " + header_rule.replace("{on}", ON), USE]


def test_failing_pattern_only_keeps_the_header_on_main() -> None:
    config = rendered(canary_snapshot(canary_by_header="X-Canary",
                                      canary_by_header_pattern="(v")).config
    assert canary_lines(config) == [
        f"    http-request set-var(txn.canary) str(main) {ON} {{ req.fhdr_cnt(X-Canary) gt 0 }}"]


def test_no_rule_no_canary() -> None:
    assert canary_lines(rendered(canary_snapshot(canary_weight="0")).config) == []


# --- decision table: real HAProxy vs balancer.lua ---------------------------------------
@dataclass(frozen=True)
class Policy:
    """One canary Ingress's annotations (what balancer.lua's traffic_shaping_policy holds)."""

    host: str
    weight: int
    header_value: str = ""
    header_pattern: str = ""
    header: str = "X-Canary"
    cookie: str = "canary"

    def annotations(self) -> dict[str, str]:
        out = {"canary_weight": str(self.weight), "canary_by_header": self.header,
               "canary_by_cookie": self.cookie}
        if self.header_value:
            out["canary_by_header_value"] = self.header_value
        if self.header_pattern:
            out["canary_by_header_pattern"] = self.header_pattern
        return out


POLICIES = (Policy("w0.test", 0), Policy("w100.test", 100),
            Policy("value.test", 100, header_value="v1", header="x_canary"),
            Policy("pattern.test", 0, header_pattern="^v\\d+$"),
            Policy("brace.test", 0, header_pattern="}"),
            Policy("broken.test", 100, header_pattern="(v"))
HEADERS = ((), ("always",), ("never",), ("other",), ("v1",), ("v22",), ("v2}",), ("",))
SEVERAL = (("always", "always"), ("never", "never"), ("v1", "v1"))  # not for patterns
COOKIES = (None, "canary=always", "canary=never", "canary=other", "a=1; canary=always",
           "a=1; canary=never; b=2", "canary=alwaysx", "canary2=always", "xcanary=never")


def nginx_cookie(header: str | None, name: str) -> str | None:
    """nginx's `$cookie_<name>` for one Cookie line: the first `name=value` pair."""
    for pair in (header or "").split(";"):
        key, eq, value = pair.strip().partition("=")
        if eq and key.lower() == name.lower():
            return value
    return None


def balancer_lua(p: Policy, header_lines: tuple[str, ...], cookie_line: str | None) -> bool:
    """route_to_alternative_balancer: True when the request goes to the canary."""
    header = ", ".join(header_lines) if header_lines else None  # nginx joins repeated headers
    if header is not None:
        if p.header_value:
            if header == p.header_value:
                return True
        elif p.header_pattern:
            try:
                if re.search(p.header_pattern, header):
                    return True
            except re.error:
                return False  # "error when matching canary-by-header-pattern"
        elif header == "always":
            return True
        elif header == "never":
            return False
    cookie = nginx_cookie(cookie_line, p.cookie)
    if cookie == "always":
        return True
    if cookie == "never":
        return False
    return p.weight >= 100  # weights here are 0 or the whole total


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path: str) -> None:
        super().__init__("localhost", timeout=5)
        self.socket_path = socket_path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.socket_path)


def ask(sock: str, host: str, header_lines: tuple[str, ...], cookie: str | None) -> str:
    conn = UnixHTTPConnection(sock)
    try:
        conn.putrequest("GET", "/", skip_host=True)
        conn.putheader("Host", host)
        for value in header_lines:
            conn.putheader("X-Canary", value)
        if cookie is not None:
            conn.putheader("Cookie", cookie)
        conn.endheaders()
        return conn.getresponse().read().decode()
    finally:
        conn.close()


def unix_config(config: str, directory: Path) -> str:
    """The rendered config listening on UNIX sockets; each backend answers with its name."""
    sockets = iter(("stats", "http", "https"))
    config = re.sub(r"(?m)^    bind .*$",
                    lambda m: f"    bind unix@{directory / next(sockets)}.sock", config)
    return re.sub(r"(?m)^backend (\S+)$",
                  r"backend \1\n    http-request return status 200 content-type text/plain "
                  r"string \1", config)


@pytest.fixture
def haproxy() -> Iterator[str]:
    """A real HAProxy running the plan of POLICIES; yields its HTTP socket's path."""
    if shutil.which("haproxy") is None:
        pytest.skip("needs haproxy")
    directory = Path(tempfile.mkdtemp(prefix="portico-canary-"))
    settings = replace(SETTINGS, state_dir=PurePosixPath(directory),
                       run_dir=PurePosixPath(directory))
    snap = snapshot([i for n, p in enumerate(POLICIES)
                     for i in canary_ingresses(p.host, f"-{n}", **p.annotations())])
    out = rendered(snap, settings)
    write_files(directory, replace(out, config=unix_config(out.config, directory)))
    proc = subprocess.Popen(["haproxy", "-db", "-f", str(directory / "haproxy.cfg")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    sock = str(directory / "http.sock")
    try:
        wait_for(lambda: proc.poll() is not None or ask(sock, "none.test", (), None),
                 timeout=10, message="haproxy serving")
        assert proc.poll() is None, proc.communicate()[0]
        yield sock
    finally:
        end_process(proc)
        shutil.rmtree(directory, ignore_errors=True)


def test_haproxy_decides_as_balancer_lua(haproxy: str) -> None:
    expected, seen = {}, {}
    for p in POLICIES:
        several = SEVERAL if not p.header_pattern else ()
        for header_lines in HEADERS + several:
            for cookie in COOKIES:
                case = (p.host, header_lines, cookie)
                expected[case] = "canary" if balancer_lua(p, header_lines, cookie) else "main"
                answer = ask(haproxy, p.host, header_lines, cookie)  # ing_default_<ingress>_...
                seen[case] = answer.split("_")[2].split("-")[0]
    assert seen == expected
    assert set(seen.values()) == {"canary", "main"}
