"""What Target's CDN serves an on-device client, and the admin routes that change it.

CDN routes (no identity headers, like the CDN):

- ``GET /{client}/{environment}/v1/[{property_token}/]rules.json``: the published artifact (``_rules``), with
  ``ETag`` (a hash of the body), ``Cache-Control: no-cache``, and the ``x-geo-*`` headers of the caller's
  address (the first ``x-forwarded-for`` entry, else the peer address) when the geo table knows it. A request
  whose ``If-None-Match`` names the current ETag (or ``*``; weak tags compare equal) gets **304** with the
  ETag. ``rules.bin`` is the same text obfuscated with the organization id (``application/octet-stream``, its
  own ETag). Any environment and property token get the same artifact (the engine filters rules by property
  token); a ``client`` other than the published artifact's gets **404** naming the client served, because its
  allocation hash would differ from the Delivery endpoint's.
- ``GET /v1/geo``: the geo of the address in ``x-forwarded-for`` (else the peer address) as ``x-geo-*``
  headers and a JSON body ``{"ip", "latitude", ...}``; an unknown address gets 200 with no geo; an
  ``x-forwarded-for`` that is not an IP address gets **400**.

Admin routes (``_app``'s rules: JSON only, Origin check):

- ``GET /_emulator/artifact``: the published artifact's summary (``etag``, ``binEtag``, ``location``,
  ``client``, ``organizationId``, local/remote lists, rule counts, ...) and ``artifact`` (its JSON).
- ``POST /_emulator/artifact`` (body: an artifact): publishes it (``DELETE`` withdraws it: the compiled
  fixtures serve again); ``POST /_emulator/fixtures`` (body: fixtures,
  ``API.md`` §6): compiles and publishes them (with an artifact published, fixtures decide only what it marks
  remote). Both answer the new summary; an artifact or fixtures that cannot be used get **422** naming the
  problem, and the old artifact keeps serving.
- ``GET|POST|DELETE /_emulator/geo``: the IP -> geo table (``{"<ip>": {"latitude", "longitude", "countryCode",
  "stateCode", "city"}}``); ``POST`` adds entries (``{"table": {...}, "replace": true}`` replaces the table),
  ``DELETE`` empties it.
- ``GET|DELETE /_emulator/notifications``: what ``POST /rest/v1/delivery`` received
  (``{"notifications": [{"receivedAt", "imsOrgId", "sessionId", "requestId", "id", "notification"}], "total",
  "dropped"}``, oldest first, the last 10,000 kept, at most 16 MB of JSON); ``DELETE`` forgets them.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from ._delivery import NotificationLog
from ._rules import ArtifactError, GeoTable, Published, Rules, normalize_ip
from ._wire import ApiError, parse_json, read_body

__all__ = ["Cdn"]


def _caller_ip(request: Request) -> tuple[str | None, str | None]:
    """(the caller's address, the raw ``x-forwarded-for`` entry when there is one)."""
    forwarded = request.headers.get("x-forwarded-for")
    if forwarded is not None:
        first = forwarded.split(",", 1)[0].strip()
        return normalize_ip(first), first
    peer = request.client.host if request.client is not None else None
    return normalize_ip(peer), None


def _matches(if_none_match: str, etag: str) -> bool:
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    return Response(text, status_code=status, headers=headers, media_type="application/json")


def _error(status: int, message: str) -> Response:
    return _json({"status": status, "message": message}, status)


class Cdn:
    """The CDN and admin handlers over the emulator's rules, geo table and notification log."""

    def __init__(self, rules: Rules, geo: GeoTable, notifications: NotificationLog, max_body: int) -> None:
        self.rules = rules
        self.geo = geo
        self.notifications = notifications
        self.max_body = max_body

    # -- CDN ----------------------------------------------------------------------------------------------

    async def artifact(self, request: Request) -> Response:
        published = self.rules.current
        client = request.path_params["client"]
        if client != published.client:
            return _error(
                404,
                f"this emulator serves the artifact of client {published.client!r}, not {client!r}: configure the "
                f"client with client={published.client!r} (the allocation hash includes the client code)",
            )
        binary = request.url.path.endswith(".bin")
        body, etag = (published.bin_body, published.bin_etag) if binary else (published.body, published.etag)
        headers = {"ETag": etag, "Cache-Control": "no-cache"}
        ip, _ = _caller_ip(request)
        headers.update(self.geo.headers(ip))
        if _matches(request.headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
        media_type = "application/octet-stream" if binary else "application/json"
        return Response(body, headers=headers, media_type=media_type)

    async def geo_lookup(self, request: Request) -> Response:
        ip, raw = _caller_ip(request)
        if ip is None and raw is not None:
            return _error(400, f"x-forwarded-for {raw[:100]!r} is not an IPv4 or IPv6 address")
        found = self.geo.lookup(ip) if ip is not None else None
        return _json({"ip": ip, **(found or {})}, 200, self.geo.headers(ip))

    # -- admin --------------------------------------------------------------------------------------------

    async def _body(self, request: Request) -> Any:
        raw = await read_body(request, self.max_body)
        if not raw.strip():
            raise ApiError(400, "the request body is empty: send a JSON object")
        try:
            return parse_json(raw)
        except ValueError as exc:
            raise ApiError(400, str(exc)) from None

    @staticmethod
    def _summary(published: Published, *, with_artifact: bool = False) -> dict[str, Any]:
        out = published.summary()
        if with_artifact:
            out["artifact"] = published.artifact.payload
        return out

    async def artifact_admin(self, request: Request) -> Any:
        if request.method == "POST":
            data = await self._body(request)
            if not isinstance(data, dict):
                raise ApiError(
                    422, "the artifact was not published (the previous one still serves): it must be a JSON object"
                )
            try:
                return self._summary(self.rules.publish_artifact(data))
            except ArtifactError as exc:
                raise ApiError(422, f"the artifact was not published (the previous one still serves): {exc}") from None
        if request.method == "DELETE":
            return self._summary(self.rules.withdraw_artifact())
        return self._summary(self.rules.current, with_artifact=True)

    async def fixtures_admin(self, request: Request) -> Any:
        data = await self._body(request)
        try:
            return self._summary(self.rules.publish_fixtures(data))
        except ValueError as exc:  # ArtifactError is a ValueError too
            raise ApiError(
                422, f"the fixtures were not published (the previous artifact still serves): {exc}"
            ) from None

    async def geo_admin(self, request: Request) -> Any:
        if request.method == "POST":
            data = await self._body(request)
            if isinstance(data, dict) and set(data) <= {"table", "replace"} and "table" in data:
                replace = data.get("replace", False)
                if not isinstance(replace, bool):
                    raise ApiError(400, "replace must be true or false", prop="replace")
                self.geo.update(data["table"], replace=replace)
            else:
                self.geo.update(data)
        elif request.method == "DELETE":
            self.geo.clear()
        return {"table": self.geo.snapshot()}

    async def notifications_admin(self, request: Request) -> Any:
        if request.method == "DELETE":
            self.notifications.clear()
        return self.notifications.snapshot()
