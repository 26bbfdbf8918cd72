"""Golden tests of the pure renderer: snapshot -> haproxy.cfg text, maps, crt-list."""

from __future__ import annotations

import shutil
import subprocess
import textwrap
from dataclasses import replace
from pathlib import Path, PurePosixPath

import pytest

from portico.ingress import endpoints, render, routes
from portico.ingress.model import Reason
from tests.unit.ingress.fixtures import (
    SETTINGS,
    ingress,
    path,
    rich_snapshot,
    rule,
    service,
    slice_,
    snapshot,
)


def rendered(snap, settings=SETTINGS) -> render.Rendered:
    plan = routes.build_plan(snap, settings)
    slots = {b.name: endpoints.assign_slots(b.servers, (), settings.slot_scale)
             for b in plan.backends}
    return render.render_config(plan, slots, settings)


CHAIN = """\
    http-request set-header X-Forwarded-Host %[req.hdr(host)]
    http-request set-header X-Forwarded-Port %[dst_port]
    http-request set-header X-Real-IP %[src]
    http-request set-var(txn.host) req.hdr(host),field(1,:),lower
    http-request set-var(txn.path) path
    http-request set-var(txn.host_match) var(txn.host),map(/state/maps/host.map)
    http-request set-var(txn.host_match) var(txn.host),regsub(^[^.]*,,),map(/state/maps/host.map,'') if !{ var(txn.host_match) -m found }
    http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map(/state/maps/path-exact.map)
    http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map(/state/maps/path-prefix-exact.map) if !{ var(txn.path_match) -m found }
    http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map_reg(/state/maps/path-regex.map) if !{ var(txn.path_match) -m found }
    http-request set-var(txn.path_match) var(txn.host_match),concat(,txn.path,),map_beg(/state/maps/path-prefix.map) if !{ var(txn.path_match) -m found }
    http-request set-var(txn.backend) var(txn.path_match),field(1,.)
    http-request set-var(txn.route) var(txn.path_match),field(2,.)
"""  # noqa: E501
TAIL = """\
    use_backend %[var(txn.backend)] if { var(txn.backend) -m found }
    default_backend default_404
"""
REDIRECT = ("    http-request redirect location https://%[req.hdr(host),field(1,:)]"
            "%[capture.req.uri] code 308 if { var(txn.route),map(/state/maps/redirect.map) "
            "-m found }\n")

SIMPLE = f"""\
global
    stats socket /state/run/admin.sock mode 600 level admin expose-fd listeners
    stats timeout 1m
    hard-stop-after 60s
    tune.ssl.default-dh-param 2048
    ssl-default-bind-options ssl-min-ver TLSv1.2

defaults
    mode http
    option forwardfor
    option idle-close-on-response
    option dontlognull
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 60s
    timeout tunnel 1h

frontend stats
    bind :10254
    monitor-uri /healthz
    http-request use-service prometheus-exporter if {{ path /metrics }}
    http-request return status 404

frontend http
    bind :80
    http-request set-header X-Forwarded-Proto http
{CHAIN}{REDIRECT}{TAIL}
frontend https
    bind :443 ssl crt /state/tls/default.pem crt-list /state/tls/crt-list alpn h2,http/1.1
    http-request set-header X-Forwarded-Proto https
{CHAIN}{TAIL}
backend default_404
    http-request return status 404 content-type text/plain string "404 page not found"

backend ing_default_web_web_80
    # default/web -> service web:80
    server s1 10.244.0.5:8080
    server s2 10.244.1.6:8080
    server s3 127.0.0.1:1 disabled
    server s4 127.0.0.1:1 disabled
"""


def simple_snapshot(*ips):
    return snapshot([ingress("web", rule("a.example.com", path("/", "web")))],
                    [service("web", ("", 80, 8080))],
                    [slice_("web", "", 8080, *ips)])


def test_simple_config_is_golden():
    out = rendered(simple_snapshot("10.244.1.6", "10.244.0.5"), replace(SETTINGS, slot_scale=4))
    assert out.config == SIMPLE
    assert out.maps == {
        "host.map": "a.example.com a.example.com\n",
        "path-exact.map": "",
        "path-prefix-exact.map": "",
        "path-regex.map": "",
        "path-prefix.map": "a.example.com/ ing_default_web_web_80.r873c8b4d18\n",
        "redirect.map": "",
    }
    assert out.crt_list == "" and out.certificates == {} and out.lua == ""


RICH_BACKENDS = textwrap.dedent("""\
    backend default_404
        http-request return status 404 content-type text/plain string "404 page not found"

    backend ing_default_canary_web2_80
        # default/canary -> service web2:80
        server s1 127.0.0.1:1 disabled
        server s2 127.0.0.1:1 disabled

    backend ing_default_rw_api_http
        # default/rw -> service api:http
        stick-table type ip size 100k expire 10s store http_req_rate(1s)
        http-request track-sc0 src
        http-request deny deny_status 503 if { sc_http_req_rate(0) gt 25 }
        http-request auth realm "Authentication Required" unless { http_auth(ul_ing_default_rw_api_http) } || { http_auth_user -m str bob } { lua.portico_apr1($apr1$abcdefgh$M2T3erDstkD7SsE2QQnfH0) -m bool } || { http_auth_user -m str carol } { http_auth_pass,sha1,base64 -m str qUqP5cyxm6YcTAhz05Hph5gvu9M= }
        http-request deny deny_status 413 if { req.hdr_val(content-length) gt 1048576 }
        http-request replace-path '(?i)^(?:/something(/|$)(.*)).*' '/\\2' if { var(txn.route) -m str r1673c8076c }
        default-server ssl verify none
        server s1 10.244.0.9:9000
        server s2 127.0.0.1:1 disabled

    backend ing_default_shop_api_http
        # default/shop -> service api:http
        timeout server 120s
        cookie INGRESSCOOKIE insert indirect nocache dynamic
        dynamic-cookie-key ing_default_shop_api_http
        http-request deny deny_status 403 if !{ src 10.0.0.0/8 192.168.1.1/32 }
        server s1 10.244.0.9:9000
        server s2 127.0.0.1:1 disabled

    backend ing_default_shop_web_80
        # default/shop -> service web:80
        timeout server 120s
        cookie INGRESSCOOKIE insert indirect nocache dynamic
        dynamic-cookie-key ing_default_shop_web_80
        http-request deny deny_status 403 if !{ src 10.0.0.0/8 192.168.1.1/32 }
        server s1 10.244.0.5:8080
        server s2 10.244.1.6:8080

    userlist ul_ing_default_rw_api_http
        user alice password '$2y$05$abcdefghijklmnopqrstuuHIrMEWpUCQe2YqFR3sXwQ75u4od..9q'
""")  # noqa: E501


def test_rich_backends_are_golden():
    out = rendered(rich_snapshot())
    assert out.config[out.config.index("backend default_404"):] == RICH_BACKENDS
    assert "    default_backend ing_default_shop_web_80\n" in out.config
    assert "lua-load /state/auth.lua" in out.config and "portico_apr1" in out.lua


def test_rich_maps_and_crt_list_are_golden():
    out = rendered(rich_snapshot())
    assert out.maps == {
        "host.map": ".shop.example.com .shop.example.com\nshop.example.com shop.example.com\n",
        "path-exact.map": "shop.example.com/cart ing_default_shop_web_80.rf468a4b5ec\n",
        "path-prefix-exact.map": "shop.example.com/api ing_default_shop_api_http.r5c9b698237\n",
        "path-regex.map": "^(?i:/something(/|$)(.*)) ing_default_rw_api_http.r1673c8076c\n",
        "path-prefix.map": (".shop.example.com/ ing_default_shop_web_80.r711e619103\n"
                            "shop.example.com/ ing_default_shop_web_80.ra06c326cea\n"
                            "shop.example.com/api/ ing_default_shop_api_http.r5c9b698237\n"),
        # shop's routes on shop.example.com (TLS) and the canary's own route
        "redirect.map": "r3ff835e786 1\nr5c9b698237 1\nra06c326cea 1\nrf468a4b5ec 1\n",
    }
    assert out.crt_list == "/state/tls/certs/default_shop-tls.pem shop.example.com\n"
    assert list(out.certificates) == ["default_shop-tls.pem"]
    pem = out.certificates["default_shop-tls.pem"]
    assert "\n\n" not in pem and pem.endswith("-----END PRIVATE KEY-----\n")


def test_rich_warnings():
    plan = routes.build_plan(rich_snapshot(), SETTINGS)
    assert [(w.ingress, w.reason, w.message) for w in plan.warnings] == [
        (("default", "shop"), Reason.UNSUPPORTED_ANNOTATION,
         "annotation nginx.ingress.kubernetes.io/server-snippet is not supported by this "
         "ingress controller and is ignored")]
    assert plan.ingresses == (("default", "shop"), ("default", "rw"), ("default", "canary"))


def test_shape_ignores_server_addresses_only():
    a = rendered(simple_snapshot("10.244.1.6", "10.244.0.5")).config
    b = rendered(simple_snapshot("10.244.9.9")).config
    c = rendered(simple_snapshot("10.244.9.9", "10.244.9.8", "10.244.9.7")).config
    assert a != b and render.shape(a) == render.shape(b)
    assert render.shape(a) != render.shape(c)  # more slots: a reload


@pytest.mark.skipif(shutil.which("haproxy") is None, reason="needs haproxy")
def test_rich_config_is_valid_for_haproxy(tmp_path: Path):
    settings = replace(SETTINGS, state_dir=PurePosixPath(tmp_path),
                       default_certificate=(Path(__file__).parent / "shop.pem").read_text())
    out = rendered(rich_snapshot(), settings)
    from portico.ingress.files import write_files
    write_files(Path(tmp_path), out)
    result = subprocess.run(["haproxy", "-c", "-f", str(tmp_path / "haproxy.cfg")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
