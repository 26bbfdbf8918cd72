"""echo-basic's gRPC mode (`GRPC_ECHO_SERVER` set): a gRPC echo over h2c on `$HTTP_PORT`.

Theory of operation: one thread per connection runs the `h2` state machine
(server side, HTTP/2 with prior knowledge, as gRPC over h2c). Every request
stream, once ended, gets `:status 200`, `content-type: application/grpc`, the
request's view in response headers (`x-echo-method`: the `:path`, i.e.
`/package.Service/Method`; `x-echo-authority`, `x-echo-namespace`,
`x-echo-pod`, and every request header `h` as `x-echo-header-h`), one gRPC
message holding an empty protobuf (upstream's EchoResponse carries the same
facts in its body; here they travel as headers), and the trailer
`grpc-status: 0`.
"""

from __future__ import annotations

import os
import socket
import threading

import h2.config
import h2.connection
import h2.events

EMPTY_MESSAGE = b"\x00\x00\x00\x00\x00"   # uncompressed flag + zero length


def response_headers(request: list[tuple[str, str]]) -> list[tuple[str, str]]:
    seen = dict(request)
    out = [(":status", "200"), ("content-type", "application/grpc"),
           ("x-echo-method", seen.get(":path", "")),
           ("x-echo-authority", seen.get(":authority", "")),
           ("x-echo-namespace", os.environ.get("NAMESPACE", "")),
           ("x-echo-pod", os.environ.get("POD_NAME", ""))]
    return out + [(f"x-echo-header-{k}", v) for k, v in request if not k.startswith(":")]


def _decoded(headers: list[tuple[bytes | str, bytes | str]]) -> list[tuple[str, str]]:
    return [(k.decode() if isinstance(k, bytes) else k, v.decode() if isinstance(v, bytes)
             else v) for k, v in headers]


def _serve_connection(sock: socket.socket) -> None:
    conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
    conn.initiate_connection()
    sock.sendall(conn.data_to_send())
    requests: dict[int, list[tuple[str, str]]] = {}
    with sock:
        while data := sock.recv(65535):
            for event in conn.receive_data(data):
                if isinstance(event, h2.events.RequestReceived):
                    requests[event.stream_id] = _decoded(list(event.headers))
                elif isinstance(event, h2.events.DataReceived):
                    conn.acknowledge_received_data(event.flow_controlled_length,
                                                   event.stream_id)
                elif isinstance(event, h2.events.StreamEnded):
                    request = requests.pop(event.stream_id, [])
                    conn.send_headers(event.stream_id, response_headers(request))
                    conn.send_data(event.stream_id, EMPTY_MESSAGE)
                    conn.send_headers(event.stream_id, [("grpc-status", "0")],
                                      end_stream=True)
            sock.sendall(conn.data_to_send())


def serve(port: int) -> None:
    listener = socket.create_server(("", port), reuse_port=False)
    while True:
        sock, _ = listener.accept()
        threading.Thread(target=_serve_connection, args=(sock,), daemon=True).start()
