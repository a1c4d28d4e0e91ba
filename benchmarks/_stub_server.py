"""A minimal HTTP/1.1 keep-alive stub of ``POST /rest/v1/delivery`` for benchmarks (run in its own process).

It parses just enough HTTP to answer every request with a fixed DeliveryResponse, so it costs far less CPU per
call than any client under test. ``python benchmarks/_stub_server.py PORT [--tls CERT KEY]``.
"""

from __future__ import annotations

import asyncio
import json
import os
import ssl
import sys

BODY = json.dumps(
    {
        "status": 200,
        "requestId": "bench",
        "client": "bench",
        "id": {"tntId": "bench-visitor"},
        "edgeHost": "localhost",
        "execute": {
            "mboxes": [
                {
                    "index": 1,
                    "name": "bench",
                    "options": [{"type": "json", "content": {"color": "red"}, "responseTokens": {"activity.id": 1}}],
                }
            ]
        },
    }
).encode()
RESPONSE = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(BODY)).encode()
    + b"\r\nConnection: keep-alive\r\n\r\n"
    + BODY
)


class Handler(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            head_end = self.buffer.find(b"\r\n\r\n")
            if head_end < 0:
                return
            head = self.buffer[:head_end].lower()
            length = 0
            marker = head.find(b"content-length:")
            if marker >= 0:
                line_end = head.find(b"\r\n", marker)
                length = int(head[marker + 15 : line_end if line_end >= 0 else None].strip())
            total = head_end + 4 + length
            if len(self.buffer) < total:
                return
            self.buffer = self.buffer[total:]
            self.transport.write(RESPONSE)


async def main(port: int, tls: tuple[str, str] | None) -> None:
    context = None
    if tls is not None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*tls)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Handler, "127.0.0.1", port, ssl=context, backlog=1024, reuse_address=True)
    print("ready", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    tls_files = (args[2], args[3]) if len(args) >= 4 and args[1] == "--tls" else None
    if hasattr(os, "sched_setaffinity") and os.environ.get("STUB_CPU"):
        os.sched_setaffinity(0, {int(os.environ["STUB_CPU"])})
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(main(int(args[0]), tls_files))
