"""nginx (rendered config, and the real binary on loopback), the wget and nslookup stand-ins."""

from __future__ import annotations

import http.server
import io
import os
import shutil
import signal
import socket
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import dns.message
import dns.rcode
import dns.rrset
import pytest
from images_helpers import LOOPBACK, Start, accepts, free_port, wait_for

from portico.images import nginx, nslookup, wget


def test_render_config() -> None:
    settings = nginx.Settings(
        prefix=Path("/run/c/nginx"),
        root=Path("/usr/share/nginx/html"),
        error_root=Path("/run/c/nginx/html"),
        index="index.html",
        listen=("80", "[::]:80"),
        mime_types=Path("/etc/nginx/mime.types"),
        user_root=True,
    )
    assert nginx.render_config(settings) == textwrap.dedent("""\
        user root root;
        worker_processes auto;
        pid /run/c/nginx/nginx.pid;
        error_log stderr notice;
        events {
            worker_connections 1024;
        }
        http {
            include /etc/nginx/mime.types;
            default_type application/octet-stream;
            log_format main '$remote_addr - $remote_user [$time_local] "$request" '
                              '$status $body_bytes_sent "$http_referer" '
                              '"$http_user_agent" "$http_x_forwarded_for"';
            access_log /dev/stdout main;
            sendfile on;
            keepalive_timeout 65;
            client_body_temp_path /run/c/nginx/client_body_temp;
            proxy_temp_path /run/c/nginx/proxy_temp;
            fastcgi_temp_path /run/c/nginx/fastcgi_temp;
            uwsgi_temp_path /run/c/nginx/uwsgi_temp;
            scgi_temp_path /run/c/nginx/scgi_temp;
            server {
                listen 80;
                listen [::]:80;
                server_name localhost;
                location / {
                    root /usr/share/nginx/html;
                    index index.html index.htm;
                }
                error_page 500 502 503 504 /50x.html;
                location = /50x.html {
                    root /run/c/nginx/html;
                }
            }
        }
        """)


@pytest.mark.parametrize(
    ("env", "has_ipv6", "listen"),
    [
        pytest.param({}, True, ("80", "[::]:80"), id="default"),
        pytest.param({}, False, ("80",), id="no-ipv6"),
        pytest.param({"PORTICO_NGINX_PORT": "8080"}, False, ("8080",), id="port"),
        pytest.param({"PORTICO_LISTEN_ADDRESS": "127.0.0.1", "PORTICO_NGINX_PORT": "81"}, True,
                     ("127.0.0.1:81",), id="address"),
        pytest.param({"PORTICO_LISTEN_ADDRESS": "::1"}, True, ("[::1]:80",), id="ipv6-address"),
    ],
)  # fmt: skip
def test_listen_addresses(env: dict[str, str], has_ipv6: bool, listen: tuple[str, ...]) -> None:
    assert nginx.listen_addresses(env, has_ipv6) == listen


BASE = ["/usr/sbin/nginx", "-p", "/p/", "-c", "/p/nginx.conf", "-e", "stderr"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        pytest.param([], [*BASE, "-g", "daemon off;"], id="none"),
        pytest.param(["-g", "daemon off;"], [*BASE, "-g", "daemon off;"], id="image-cmd"),
        pytest.param(["-g", "daemon on; worker_rlimit_nofile 100;"],
                     [*BASE, "-g", "worker_rlimit_nofile 100; daemon off;"], id="never-daemon"),
        pytest.param(["-T"], [*BASE, "-T", "-g", "daemon off;"], id="flags-pass"),
    ],
)  # fmt: skip
def test_nginx_argv(args: list[str], expected: list[str]) -> None:
    assert nginx.nginx_argv(Path("/p"), Path("/p/nginx.conf"), args) == expected


@pytest.mark.skipif(not os.path.exists(nginx.NGINX_BINARY), reason="needs /usr/sbin/nginx")
def test_nginx_serves_the_welcome_page(start: Start, tmp_path: Path) -> None:
    port = free_port()
    process = start(
        "portico.images.nginx", "-g", "daemon off;",
        env={"PORTICO_CONTAINER_DIR": str(tmp_path), "PORTICO_NGINX_PORT": str(port)},
    )  # fmt: skip
    wait_for(lambda: accepts(port) or process.poll() is not None, "nginx to listen")
    output = io.BytesIO()
    assert wget.run(["-q", "-O", "-", f"http://{LOOPBACK}:{port}/"], output) == 0
    assert b"<title>Welcome to nginx!</title>" in output.getvalue()
    assert (tmp_path / "nginx" / "nginx.pid").read_text().strip() == str(process.pid)
    os.kill(process.pid, signal.SIGTERM)  # the launcher exec'd: this is the nginx master
    assert process.wait(10) == 0
    assert process.stdout is not None and b'"GET / HTTP/1.1" 200' in process.stdout.read()


@pytest.fixture(autouse=True)
def no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """wget honors http_proxy like busybox; these tests' traffic must stay on loopback."""
    for name in ("http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        if self.path == "/missing":
            self.send_error(404, "Not Found")
            return
        body = f"{self.path} {self.headers.get('X-Test', '-')} {self.headers['User-Agent']}"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    do_HEAD = do_GET  # noqa: N815

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((LOOPBACK, 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    try:
        yield f"http://{LOOPBACK}:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_wget_to_stdout(web: str, capsys: pytest.CaptureFixture[str]) -> None:
    output = io.BytesIO()
    code = wget.run(["-qO-", "--header", "X-Test: yes", "-U", "probe", f"{web}/a"], output)
    assert (code, output.getvalue(), capsys.readouterr().err) == (0, b"/a yes probe", "")


def test_wget_to_file(web: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert wget.run(["-q", f"{web}/dir/page.txt"], io.BytesIO()) == 0
    assert (tmp_path / "page.txt").read_text() == "/dir/page.txt - Wget"
    assert wget.run(["-q", "-O", "out", "--spider", f"{web}/x"], io.BytesIO()) == 0
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        pytest.param(["-q", "{web}/missing"],
                     "wget: server returned error: HTTP/1.1 404 Not Found\n", id="404"),
        pytest.param(["-q", "http://127.0.0.1:{closed}/"],
                     "wget: can't connect to remote host: Connection refused\n", id="refused"),
        pytest.param(["-q"], "wget: missing URL\n" + wget.USAGE + "\n", id="no-url"),
    ],
)  # fmt: skip
def test_wget_failures(
    web: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    argv = [a.format(web=web, closed=free_port()) for a in args]
    assert wget.run(argv, io.BytesIO()) == 1
    assert capsys.readouterr().err == message


@pytest.fixture
def dns_server() -> Iterator[int]:
    """A DNS server on loopback answering A for one name, NXDOMAIN for everything else."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((LOOPBACK, 0))
    sock.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except TimeoutError:
                continue
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            question = query.question[0]
            name = question.name.to_text()
            if name == "web.default.svc.cluster.local." and question.rdtype == 1:
                response.answer.append(dns.rrset.from_text(name, 5, "IN", "A", "10.0.0.5"))
            elif name != "web.default.svc.cluster.local.":
                response.set_rcode(dns.rcode.NXDOMAIN)
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join()
        sock.close()


def test_nslookup(dns_server: int, capsys: pytest.CaptureFixture[str]) -> None:
    server = f"{LOOPBACK}:{dns_server}"
    assert nslookup.run(["web.default.svc.cluster.local.", server]) == 0
    assert capsys.readouterr().out == (
        f"Server:\t\t{LOOPBACK}\nAddress:\t{server}\n\n"
        "Name:\tweb.default.svc.cluster.local\nAddress: 10.0.0.5\n\n"
    )
    assert nslookup.run(["nothing.example.", server]) == 1
    assert capsys.readouterr().out.endswith("** server can't find nothing.example.: NXDOMAIN\n\n")


def test_host_tools_documented() -> None:
    """The stand-ins exist for tools a Debian host may lack; keep the catalogue honest."""
    from portico.images._catalog import HOST_TOOLS

    assert sorted(HOST_TOOLS) == ["nslookup", "wget"]
    assert shutil.which("sh") is not None
