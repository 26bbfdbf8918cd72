"""The `nginx` image: Debian's /usr/sbin/nginx with a private prefix, like the official image.

Run as `python -m portico.images.nginx [nginx flags]` (what `nginx` resolves to, with
the image's CMD `-g "daemon off;"`). Theory of operation:

1. `render_config(settings)` (pure) writes the official image's `nginx.conf` with its
   `conf.d/default.conf` inlined: `worker_processes auto` (one worker per CPU), 1024 connections
   per worker, the `main` log format, `sendfile on`, `keepalive_timeout 65`; the default
   server on port 80 (and `[::]:80` when the machine has IPv6), `root` the welcome page,
   `index.html`, and `/50x.html` for server errors.  As in the official image (whose
   /var/log/nginx/access.log and error.log are links to /dev/stdout and /dev/stderr),
   every request is one `main` line on stdout and errors go to stderr, so the container
   log gets both.  The pid file and every temp path live under the prefix.
2. `main()` makes the prefix `$PORTICO_CONTAINER_DIR/nginx` (a fresh temp dir if the
   agent passed none), writes `nginx.conf` there and execs nginx with `-p PREFIX -c CONF
   -e stderr`, so the container's process *is* the nginx master (signals reach it:
   SIGTERM = fast shutdown, SIGQUIT = graceful).
3. nginx never daemonizes: a daemon would escape the pod's process group and outlive it,
   so `daemon` directives in `-g` are replaced by `daemon off;`.

Welcome page: Debian's `/usr/share/nginx/html/index.html`, else
`/var/www/html/index.nginx-debian.html`, else our own "Welcome to nginx!" page in the
prefix; the error page `50x.html` is always ours, in the prefix.  Test hooks:
`$PORTICO_NGINX_PORT` replaces port 80, `$PORTICO_LISTEN_ADDRESS` binds one address
instead of all.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

NGINX_BINARY = "/usr/sbin/nginx"
MIME_TYPES = Path("/etc/nginx/mime.types")
WELCOME_PAGES = (
    Path("/usr/share/nginx/html/index.html"),
    Path("/var/www/html/index.nginx-debian.html"),
)
PORT_ENV = "PORTICO_NGINX_PORT"
LISTEN_ADDRESS_ENV = "PORTICO_LISTEN_ADDRESS"
CONTAINER_DIR_ENV = "PORTICO_CONTAINER_DIR"
DEFAULT_PORT = 80
TEMP_PATHS = ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
WELCOME_HTML = """<!DOCTYPE html>
<html>
<head>
<title>Welcome to nginx!</title>
</head>
<body>
<h1>Welcome to nginx!</h1>
<p>If you see this page, the nginx web server is successfully installed and
working. Further configuration is required.</p>
<p><em>Thank you for using nginx.</em></p>
</body>
</html>
"""
ERROR_HTML = """<!DOCTYPE html>
<html>
<head>
<title>Error</title>
</head>
<body>
<h1>An error occurred.</h1>
<p>Sorry, the page you are looking for is currently unavailable.<br/>
Please try again later.</p>
</body>
</html>
"""
ERROR_PAGE = "50x.html"
# The official image's `main` format (nginx.conf of docker-library/nginx).
MAIN_LOG_FORMAT = (
    "'$remote_addr - $remote_user [$time_local] \"$request\" '\n"
    "                      '$status $body_bytes_sent \"$http_referer\" '\n"
    "                      '\"$http_user_agent\" \"$http_x_forwarded_for\"'"
)
_DAEMON = re.compile(r"\bdaemon\s+\w+\s*;")


@dataclass(frozen=True)
class Settings:
    prefix: Path  # pid file and temp paths live here
    root: Path  # the directory served
    error_root: Path  # the directory holding 50x.html
    index: str  # the index file name in `root`
    listen: tuple[str, ...]  # `listen` directive arguments
    mime_types: Path | None  # included when the file exists
    user_root: bool  # master runs as root: keep workers root (the prefix may be 0700)


def render_config(settings: Settings) -> str:
    """nginx.conf for `settings` (pure)."""
    temp = "".join(
        f"    {name}_temp_path {settings.prefix / (name + '_temp')};\n" for name in TEMP_PATHS
    )
    mime = f"    include {settings.mime_types};\n" if settings.mime_types else ""
    listen = "".join(f"        listen {address};\n" for address in settings.listen)
    user = "user root root;\n" if settings.user_root else ""
    index = " ".join(dict.fromkeys((settings.index, "index.html", "index.htm")))
    return (
        f"{user}worker_processes auto;\n"
        f"pid {settings.prefix / 'nginx.pid'};\n"
        "error_log stderr notice;\n"
        "events {\n    worker_connections 1024;\n}\n"
        "http {\n"
        f"{mime}    default_type application/octet-stream;\n"
        f"    log_format main {MAIN_LOG_FORMAT};\n"
        "    access_log /dev/stdout main;\n"
        "    sendfile on;\n"
        "    keepalive_timeout 65;\n"
        f"{temp}"
        "    server {\n"
        f"{listen}"
        "        server_name localhost;\n"
        "        location / {\n"
        f"            root {settings.root};\n"
        f"            index {index};\n"
        "        }\n"
        f"        error_page 500 502 503 504 /{ERROR_PAGE};\n"
        f"        location = /{ERROR_PAGE} {{\n"
        f"            root {settings.error_root};\n"
        "        }\n"
        "    }\n"
        "}\n"
    )


def listen_addresses(env: dict[str, str] | os._Environ[str], has_ipv6: bool) -> tuple[str, ...]:
    port = int(env.get(PORT_ENV) or DEFAULT_PORT)
    if address := env.get(LISTEN_ADDRESS_ENV):
        return (f"[{address}]:{port}" if ":" in address else f"{address}:{port}",)
    return (str(port), f"[::]:{port}") if has_ipv6 else (str(port),)


def nginx_argv(prefix: Path, config: Path, user_args: Sequence[str]) -> list[str]:
    """nginx's argv: our prefix and config, the user's flags, and never a daemon."""
    directives: list[str] = []
    passed: list[str] = []
    words = list(user_args)
    while words:
        word = words.pop(0)
        if word == "-g" and words:
            directives.append(_DAEMON.sub("", words.pop(0)).strip())
        else:
            passed.append(word)
    directives.append("daemon off;")
    global_directives = " ".join(d for d in directives if d)
    return [
        NGINX_BINARY, "-p", f"{prefix}/", "-c", str(config), "-e", "stderr",
        *passed, "-g", global_directives,
    ]  # fmt: skip


def _welcome(html: Path) -> tuple[Path, str]:
    for page in WELCOME_PAGES:
        if page.is_file():
            return page.parent, page.name
    (html / "index.html").write_text(WELCOME_HTML)
    return html, "index.html"


def prepare(container_dir: Path | None) -> Path:
    """Create the prefix and write nginx.conf; returns the config's path."""
    if container_dir is None:
        container_dir = Path(tempfile.mkdtemp(prefix="portico-nginx-"))
    prefix = container_dir / "nginx"
    prefix.mkdir(parents=True, exist_ok=True)
    html = prefix / "html"
    html.mkdir(exist_ok=True)
    (html / ERROR_PAGE).write_text(ERROR_HTML)
    root, index = _welcome(html)
    settings = Settings(
        prefix=prefix,
        root=root,
        error_root=html,
        index=index,
        listen=listen_addresses(os.environ, Path("/proc/net/if_inet6").exists()),
        mime_types=MIME_TYPES if MIME_TYPES.is_file() else None,
        user_root=os.geteuid() == 0,
    )
    config = prefix / "nginx.conf"
    config.write_text(render_config(settings))
    return config


def main(argv: Sequence[str]) -> None:
    named = os.environ.get(CONTAINER_DIR_ENV)
    config = prepare(Path(named) if named else None)
    args = nginx_argv(config.parent, config, argv)
    sys.stdout.flush()
    os.execv(NGINX_BINARY, args)


if __name__ == "__main__":
    main(sys.argv[1:])
