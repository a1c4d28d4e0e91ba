"""A loopback stand-in for Target's CDN and Delivery API, for on-device client tests: it serves a rules artifact
(ETag/304, x-geo headers, failures on demand), geo lookups, and records every Delivery API call."""

from __future__ import annotations

import asyncio
import copy
import hashlib
import json
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"


def fixture(name: str) -> dict[str, Any]:
    """One of the shared artifact fixtures (e.g. ``TEST_ARTIFACT_AB_SIMPLE``)."""
    return json.loads((VECTORS / "artifacts" / f"{name}.json").read_text())  # type: ignore[no-any-return]


def real_artifact() -> dict[str, Any]:
    return json.loads((VECTORS / "artifact.json").read_text())  # type: ignore[no-any-return]


class OnDeviceServer:
    """State and ASGI app of the stand-in. Tests change ``artifact``, ``artifact_status`` etc. between calls."""

    def __init__(self, artifact: dict[str, Any]) -> None:
        self.artifact: Any = artifact
        self.artifact_status = 200
        self.artifact_headers: dict[str, str] = {}
        self.artifact_requests: list[dict[str, str]] = []
        self.geo_table: dict[str, dict[str, str]] = {}
        self.geo_delay = 0.0
        self.geo_requests: list[str] = []
        self.delivery_bodies: list[dict[str, Any]] = []
        self.delivery_status = 200
        self.app = Starlette(
            routes=[
                Route("/{client}/{env}/v1/rules.json", self._rules, methods=["GET"]),
                Route("/{client}/{env}/v1/rules.bin", self._rules, methods=["GET"]),
                Route("/v1/geo", self._geo, methods=["GET"]),
                Route("/rest/v1/delivery", self._delivery, methods=["POST"]),
            ]
        )

    def publish(self, artifact: dict[str, Any]) -> None:
        self.artifact = copy.deepcopy(artifact)

    @property
    def notifications(self) -> list[dict[str, Any]]:
        """Every notification the Delivery API received."""
        return [n for body in self.delivery_bodies for n in body.get("notifications") or ()]

    @property
    def decision_calls(self) -> list[dict[str, Any]]:
        """Delivery API calls that asked for decisions (not notifications/telemetry)."""
        return [b for b in self.delivery_bodies if b.get("execute") or b.get("prefetch")]

    async def _rules(self, request: Request) -> Response:
        self.artifact_requests.append(dict(request.headers))
        if self.artifact_status != 200:
            return Response(b"nope", status_code=self.artifact_status)
        body = self.artifact if isinstance(self.artifact, bytes) else json.dumps(self.artifact).encode()
        etag = '"' + hashlib.sha256(body).hexdigest()[:16] + '"'
        if request.headers.get("if-none-match") == etag:
            return Response(status_code=304, headers={"etag": etag})
        return Response(body, headers={"etag": etag, "content-type": "application/json", **self.artifact_headers})

    async def _geo(self, request: Request) -> Response:
        ip = request.headers.get("x-forwarded-for", "")
        self.geo_requests.append(ip)
        if self.geo_delay:
            await asyncio.sleep(self.geo_delay)
        return Response(b"{}", headers=self.geo_table.get(ip, {}))

    async def _delivery(self, request: Request) -> Response:
        body = await request.json()
        self.delivery_bodies.append(body)
        if self.delivery_status != 200:
            return JSONResponse({"message": "down"}, status_code=self.delivery_status)
        answer: dict[str, Any] = {"status": 200, "requestId": body.get("requestId"), "id": body.get("id") or {}}
        mboxes = (body.get("execute") or {}).get("mboxes") or []
        if mboxes:
            answer["execute"] = {
                "mboxes": [
                    {"index": m.get("index"), "name": m["name"], "options": [{"type": "html", "content": "server"}]}
                    for m in mboxes
                ]
            }
        return JSONResponse(answer)
