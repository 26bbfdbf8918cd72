"""A busybox-compatible `wget` for machines without one: `python -m portico.images.wget`.

Base images (busybox, alpine) always have `wget`; tutorials rely on it
(`kubectl run -it --rm client --image=busybox -- wget -qO- http://web`). When this
machine has no `wget`, `resolve` runs this module instead. It implements the options
those commands use, with busybox's messages and exit codes:

  -q              quiet (no progress messages on stderr)
  -O FILE         save to FILE (`-` = stdout); default: the URL's last path segment,
                  or index.html
  -S              print the server's response headers on stderr
  -T SEC          network timeout (--timeout=SEC)
  -U AGENT        User-Agent (--user-agent=AGENT)
  --header 'K: V' extra request header (repeatable)
  --spider        only check that the URL exists
  -Y on|off       use the http_proxy/https_proxy environment (default on)

Exit status 0 on success, 1 on any failure ("wget: server returned error: HTTP/1.1 404
Not Found", "wget: can't connect to remote host: Connection refused", ...).
Standard library only.
"""

from __future__ import annotations

import getopt
import shutil
import sys
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import BinaryIO
from urllib.parse import urlsplit

USAGE = (
    "Usage: wget [-cqS] [--spider] [-O FILE] [--header STR] [-Y on/off] [-T SEC] [-U AGENT] URL..."
)


@dataclass
class Options:
    urls: list[str]
    quiet: bool = False
    output: str | None = None
    server_response: bool = False
    timeout: float | None = None
    user_agent: str = "Wget"
    headers: list[tuple[str, str]] = field(default_factory=list)
    spider: bool = False
    proxy: bool = True


def parse_args(argv: Sequence[str]) -> Options:
    """Parse wget's command line; `getopt.GetoptError` when it is invalid."""
    longs = ["quiet", "output-document=", "server-response", "timeout=", "user-agent="]
    longs += ["header=", "spider", "proxy=", "continue", "no-check-certificate"]
    pairs, urls = getopt.gnu_getopt(list(argv), "qcSO:T:U:Y:P:", longs)
    options = Options(urls=urls)
    for name, value in pairs:
        if name in ("-q", "--quiet"):
            options.quiet = True
        elif name in ("-O", "--output-document"):
            options.output = value
        elif name in ("-S", "--server-response"):
            options.server_response = True
        elif name in ("-T", "--timeout"):
            options.timeout = float(value)
        elif name in ("-U", "--user-agent"):
            options.user_agent = value
        elif name == "--header":
            key, _, header_value = value.partition(":")
            options.headers.append((key.strip(), header_value.strip()))
        elif name == "--spider":
            options.spider = True
        elif name in ("-Y", "--proxy"):
            options.proxy = value != "off"
    if not urls:
        raise getopt.GetoptError("missing URL")
    return options


def default_output(url: str) -> str:
    name = PurePosixPath(urlsplit(url).path).name
    return name or "index.html"


def _fetch(url: str, options: Options, stdout: BinaryIO) -> None:
    if "://" not in url:
        url = f"http://{url}"
    handlers = [] if options.proxy else [urllib.request.ProxyHandler({})]
    opener = urllib.request.build_opener(*handlers)
    request = urllib.request.Request(url, method="HEAD" if options.spider else "GET")
    request.add_header("User-Agent", options.user_agent)
    for key, value in options.headers:
        request.add_header(key, value)
    if not options.quiet:
        parts = urlsplit(url)
        sys.stderr.write(f"Connecting to {parts.netloc}\n")
    with opener.open(request, timeout=options.timeout) as response:
        if options.server_response:
            sys.stderr.write(f"  HTTP/1.1 {response.status} {response.reason}\n")
            for key, value in response.headers.items():
                sys.stderr.write(f"  {key}: {value}\n")
        if options.spider:
            if not options.quiet:
                sys.stderr.write("remote file exists\n")
            return
        target = options.output or default_output(url)
        if target == "-":
            shutil.copyfileobj(response, stdout)
            stdout.flush()
            return
        if not options.quiet:
            sys.stderr.write(f"saving to '{target}'\n")
        with open(target, "wb") as file:
            shutil.copyfileobj(response, file)
        if not options.quiet:
            sys.stderr.write(f"'{target}' saved\n")


def run(argv: Sequence[str], stdout: BinaryIO) -> int:
    try:
        options = parse_args(argv)
    except (getopt.GetoptError, ValueError) as error:
        sys.stderr.write(f"wget: {error}\n{USAGE}\n")
        return 1
    for url in options.urls:
        try:
            _fetch(url, options, stdout)
        except urllib.error.HTTPError as error:
            sys.stderr.write(f"wget: server returned error: HTTP/1.1 {error.code} {error.reason}\n")
            return 1
        except urllib.error.URLError as error:
            reason = getattr(error.reason, "strerror", None) or error.reason
            sys.stderr.write(f"wget: can't connect to remote host: {reason}\n")
            return 1
        except (TimeoutError, OSError) as error:
            sys.stderr.write(f"wget: {getattr(error, 'strerror', None) or error}\n")
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:], sys.stdout.buffer))
