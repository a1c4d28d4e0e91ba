"""A stand-in for the Delivery API, served by uvicorn in its own process (see conftest.py).

The first execute mbox's name steers the answer: ``slow-<ms>`` waits, ``status-<code>`` fails with that
status, anything else succeeds and echoes the mbox names. ``GET /stats`` reports what was received;
``POST /reset`` forgets it.
"""

from __future__ import annotations

import asyncio
import sys
from collections import Counter

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

_mboxes: Counter[str] = Counter()
_ports: set[int] = set()
_count = 0


async def delivery(request: Request) -> JSONResponse:
    global _count
    body = await request.json()
    names = [m["name"] for m in (body.get("execute") or {}).get("mboxes") or []]
    _count += 1
    _mboxes.update(names)
    if request.client is not None:
        _ports.add(request.client.port)
    first = names[0] if names else ""
    if first.startswith("slow-"):
        await asyncio.sleep(int(first.removeprefix("slow-")) / 1000)
    if first.startswith("status-"):
        code = int(first.removeprefix("status-"))
        return JSONResponse({"status": code, "message": "stub error"}, status_code=code)
    return JSONResponse(
        {
            "status": 200,
            "requestId": body.get("requestId"),
            "client": "acmeclient",
            "id": {"tntId": "stub-visitor"},
            "edgeHost": "localhost",
            "execute": {
                "mboxes": [
                    {"index": i, "name": n, "options": [{"type": "json", "content": {"mbox": n}}]}
                    for i, n in enumerate(names, 1)
                ]
            },
        }
    )


async def stats(request: Request) -> JSONResponse:
    return JSONResponse({"requests": _count, "connections": len(_ports), "mboxes": dict(_mboxes)})


async def reset(request: Request) -> JSONResponse:
    global _count
    _count = 0
    _mboxes.clear()
    _ports.clear()
    return JSONResponse({})


app = Starlette(
    routes=[
        Route("/rest/v1/delivery", delivery, methods=["POST"]),
        Route("/stats", stats),
        Route("/reset", reset, methods=["POST"]),
    ]
)

if __name__ == "__main__":
    import uvicorn

    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
