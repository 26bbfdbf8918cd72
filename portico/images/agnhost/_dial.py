"""netexec's `/dial` and `/shell`: requests and commands made on the caller's behalf.

`/dial?host=H&port=P&request=R&protocol=http|udp&tries=N` makes N sequential requests
from this pod (HTTP GET `http://H:P/R`, or one UDP datagram R answered within 5 s) and
reports `{"responses": [...], "errors": [...]}`; as upstream, `responses` is present only
when the last try succeeded, and the status is 200 even when tries failed. A missing
`request`, a bad `tries`, an unknown protocol or an unresolvable host is a 400.

`/shell?cmd=C` runs `/bin/sh -c C` and reports `{"output": ..., "error": "exit status N"}`.

Bodies are JSON encoded like Go's encoding/json (sorted keys, no spaces, `<>&` escaped).
"""

from __future__ import annotations

import asyncio
import json
import socket

import aiohttp
from multidict import MultiMapping

from portico.images.agnhost._common import go_address, log

TIMEOUT_SECONDS = 5.0
SHELL = "/bin/sh"


def go_json(value: object) -> str:
    encoded = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return encoded.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


async def _dial_http(request: str, address: str) -> str:
    url = f"http://{address}/{request}"
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_SECONDS)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.get(url, allow_redirects=True) as response,
        ):
            return await response.text()
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise RuntimeError(f'Get "{url}": {error or type(error).__name__}') from None


class _Reply(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.answer.done():
            self.answer.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.answer.done():
            self.answer.set_exception(exc)


async def _dial_udp(request: str, address: tuple[str, int]) -> str:
    loop = asyncio.get_running_loop()
    try:
        transport, protocol = await loop.create_datagram_endpoint(_Reply, remote_addr=address)
    except OSError as error:
        raise RuntimeError(f"udp dial failed. err:{error}") from None
    try:
        transport.sendto(request.encode())
        data = await asyncio.wait_for(protocol.answer, TIMEOUT_SECONDS)
    except (TimeoutError, OSError) as error:
        detail = "i/o timeout" if isinstance(error, TimeoutError) else str(error)
        raise RuntimeError(
            f"reading from udp connection failed. err:'read udp {go_address(address)}: {detail}'"
        ) from None
    finally:
        transport.close()
    if not data:
        raise RuntimeError("reading from udp connection failed. err:'<nil>'")
    return data.decode("utf-8", "replace")


async def _resolve(host: str, port: str, kind: socket.SocketKind) -> tuple[str, int]:
    infos = await asyncio.get_running_loop().getaddrinfo(host or None, int(port), type=kind)
    address = infos[0][4]
    return str(address[0]), int(address[1])


async def dial(form: MultiMapping[str]) -> tuple[int, str]:
    """Run a /dial request; returns (status, body)."""
    host, port = form.get("host", ""), form.get("port", "")
    request, protocol = form.get("request", ""), form.get("protocol", "").lower()
    tries = form.get("tries", "")
    log(f"GET /dial?host={host}&protocol={protocol}&port={port}&request={request}&tries={tries}")
    try:
        count = int(tries) if tries else 1
    except ValueError:
        return 400, f'tries parameter is invalid. strconv.Atoi: parsing "{tries}": invalid syntax'
    if not request:
        return 400, "request parameter not specified. <nil>"
    if protocol not in ("", "http", "udp"):
        return 400, f"unsupported protocol. {protocol}"
    kind = socket.SOCK_DGRAM if protocol == "udp" else socket.SOCK_STREAM
    try:
        address = await _resolve(host, port, kind)
    except (OSError, ValueError) as error:
        return 400, f"host and/or port param are invalid. {error}"
    responses: list[str] = []
    errors: list[str] = []
    response = ""
    for _ in range(count):
        try:
            if protocol == "udp":
                response = await _dial_udp(request, address)
            else:
                response = await _dial_http(request, go_address(address))
            responses.append(response)
        except RuntimeError as error:
            response = ""
            errors.append(str(error))
    output: dict[str, list[str]] = {}
    if response:
        output["responses"] = responses
    if errors:
        output["errors"] = errors
    return 200, go_json(output)


async def shell(command: str) -> str:
    """Run `/bin/sh -c command`; the JSON body /shell answers."""
    process = await asyncio.create_subprocess_exec(
        SHELL,
        "-c",
        command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        stdin=asyncio.subprocess.DEVNULL,
    )
    out, _ = await process.communicate()
    output: dict[str, str] = {}
    if out:
        output["output"] = out.decode("utf-8", "replace")
    if process.returncode:
        code = process.returncode
        output["error"] = f"exit status {code}" if code > 0 else f"signal: {-code}"
    log(f"Output: {output}")
    return go_json(output)
