"""The watch stream read as JSON lines (`portico.client._watch`).

Lines split across chunks are joined; a stream the server ends is opened again from
the last resourceVersion seen (bookmarks included); an ERROR event raises its Status;
an HTTP error raises as lightkube's watch did.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import httpx2
import pytest

from portico.client._watch import WatchError, WatchLine, watch_lines


class Chunks(httpx2.AsyncByteStream):
    def __init__(self, chunks: list[bytes]) -> None:
        self.chunks = chunks

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self.chunks:
            yield chunk


def line(kind: str, name: str, rv: str) -> bytes:
    return json.dumps({"type": kind, "object": {
        "metadata": {"name": name, "resourceVersion": rv}}}).encode() + b"\n"


GONE = json.dumps({"type": "ERROR", "object": {
    "kind": "Status", "code": 410, "reason": "Expired", "message": "too old"}}).encode()


def collect(responses: list[httpx2.Response]) -> tuple[list[WatchLine], list[str | None],
                                                         BaseException | None]:
    asked: list[str | None] = []

    def answer(request: httpx2.Request) -> httpx2.Response:
        asked.append(request.url.params.get("resourceVersion"))
        return responses.pop(0)

    async def main() -> tuple[list[WatchLine], BaseException | None]:
        client = httpx2.AsyncClient(transport=httpx2.MockTransport(answer),
                                    base_url="https://api")
        seen: list[WatchLine] = []
        try:
            async for event in watch_lines(client, "/api/v1/pods", {"watch": "true",
                                                                   "resourceVersion": "1"},
                                           httpx2.Timeout(5.0)):
                seen.append(event)
        except (WatchError, httpx2.HTTPStatusError) as error:
            return seen, error
        return seen, None
    seen, error = asyncio.run(main())
    return seen, asked, error


def test_lines_across_chunks_and_a_resumed_stream_then_an_error_event() -> None:
    first = line("ADDED", "a", "3")
    responses = [
        httpx2.Response(200, stream=Chunks([first[:10], first[10:] + line("BOOKMARK", "", "7")[:5],
                                            line("BOOKMARK", "", "7")[5:]])),
        httpx2.Response(200, stream=Chunks([line("MODIFIED", "a", "9"), GONE])),
    ]
    seen, asked, error = collect(responses)
    assert [(t, o["metadata"]["resourceVersion"]) for t, o in seen] == [
        ("ADDED", "3"), ("BOOKMARK", "7"), ("MODIFIED", "9")]
    assert asked == ["1", "7"]
    assert isinstance(error, WatchError) and error.status["code"] == 410


def test_an_http_error_status_is_raised() -> None:
    responses = [httpx2.Response(403, json={"kind": "Status", "code": 403})]
    seen, _, error = collect(responses)
    assert seen == [] and isinstance(error, httpx2.HTTPStatusError)


@pytest.mark.parametrize("tail", [b"", b"\n", b"\n\n"])
def test_blank_lines_are_skipped(tail: bytes) -> None:
    responses = [httpx2.Response(200, stream=Chunks([line("ADDED", "a", "3") + tail, GONE]))]
    seen, _, error = collect(responses)
    assert [t for t, _ in seen] == ["ADDED"] and isinstance(error, WatchError)
