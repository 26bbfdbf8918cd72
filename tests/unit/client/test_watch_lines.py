"""The watch stream read as JSON lines (`portico.client._watch`), from a real HTTP
server on loopback that answers each watch request from a script.

Lines split across chunks are joined; a stream the server ends is opened again from
the last resourceVersion seen (bookmarks included); an ERROR event raises its Status;
an error answer to the request raises its Status too.
"""

from __future__ import annotations

import asyncio
import json
import ssl

import pytest
from aiohttp import web
from lightkube.config.kubeconfig import KubeConfig
from lightkube.config.models import Cluster, User

from portico.client._transport import Transport
from portico.client._watch import WatchError, WatchLine, watch_lines

Answer = tuple[int, list[bytes]]  # status, body chunks


def line(kind: str, name: str, rv: str) -> bytes:
    return json.dumps({"type": kind, "object": {
        "metadata": {"name": name, "resourceVersion": rv}}}).encode() + b"\n"


GONE = json.dumps({"type": "ERROR", "object": {
    "kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}).encode()


def collect(answers: list[Answer]) -> tuple[list[WatchLine], list[str | None],
                                            WatchError | None]:
    asked: list[str | None] = []

    async def watch(request: web.Request) -> web.StreamResponse:
        assert request.query["watch"] == "true"
        asked.append(request.query.get("resourceVersion"))
        status, chunks = answers.pop(0)
        response = web.StreamResponse(status=status)
        await response.prepare(request)
        for chunk in chunks:
            await response.write(chunk)
            await asyncio.sleep(0)  # each chunk its own write
        await response.write_eof()
        return response

    async def main() -> tuple[list[WatchLine], WatchError | None]:
        app = web.Application()
        app.router.add_get("/api/v1/pods", watch)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        config = KubeConfig.from_one(cluster=Cluster(server=f"http://127.0.0.1:{port}"),
                                     user=User(token="t")).get()
        assert config is not None
        transport = Transport(config, ssl.create_default_context(), "test")
        seen: list[WatchLine] = []
        try:
            async for event in watch_lines(transport, "/api/v1/pods", {"resourceVersion": "1"}):
                seen.append(event)
        except WatchError as error:
            return seen, error
        finally:
            await transport.close()
            await runner.cleanup()
        return seen, None
    seen, error = asyncio.run(main())
    return seen, asked, error


def test_lines_across_chunks_and_a_resumed_stream_then_an_error_event() -> None:
    first, bookmark = line("ADDED", "a", "3"), line("BOOKMARK", "", "7")
    answers = [(200, [first[:10], first[10:] + bookmark[:5], bookmark[5:]]),
               (200, [line("MODIFIED", "a", "9"), GONE])]
    seen, asked, error = collect(answers)
    assert [(t, o["metadata"]["resourceVersion"]) for t, o in seen] == [
        ("ADDED", "3"), ("BOOKMARK", "7"), ("MODIFIED", "9")]
    assert asked == ["1", "7"]
    assert error is not None and error.status["code"] == 410


@pytest.mark.parametrize(("status", "body", "code", "message"), [
    (403, json.dumps({"kind": "Status", "code": 403, "message": "no"}).encode(), 403, "no"),
    (410, json.dumps({"kind": "Status", "message": "gone"}).encode(), 410, "gone"),
    (503, b"upstream down", 503, "upstream down"),
])
def test_an_error_answer_raises_its_status(status: int, body: bytes, code: int,
                                           message: str) -> None:
    seen, _, error = collect([(status, [body])])
    assert seen == [] and error is not None
    assert (error.status["code"], error.status["message"]) == (code, message)


@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n"])
def test_blank_lines_are_skipped(tail: bytes) -> None:
    seen, _, error = collect([(200, [line("ADDED", "a", "3") + tail, GONE])])
    assert [t for t, _ in seen] == ["ADDED"] and error is not None
