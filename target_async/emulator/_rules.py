"""The emulator's rules: the published artifact, the engine that decides with it, and the geo table.

The only emulator module that imports the project's decision engine (``target_async.decisioning``) and the
models it decides (``target_async.models``, converted with ``target_async._serde``): the emulator decides every
Delivery request through the same engine an on-device client runs, so that a visitor gets the same experience
both ways by construction. Everything else in the emulator still works from raw JSON.

What is published (``Rules.current``, a :class:`Published`, replaced atomically):

- the **served artifact**: the one given (``create_app(artifact=...)`` or ``POST /_emulator/artifact``), else
  the fixtures compiled into one (``_compile``); ``rules.json`` is its text as given (or compact JSON), its
  ``ETag`` a hash of that text; ``rules.bin`` is that text obfuscated with the organization id;
- the **server engine**, what ``POST /rest/v1/delivery`` decides with: the served artifact plus, for the mboxes
  and views the served artifact does not decide locally (``remoteMboxes``/``remoteViews``, or not listed as
  local), the fixtures' rules. A remote mbox nothing covers is answered like an mbox without content.

The client code (part of every allocation hash): ``create_app(client=...)``, else the artifact's
``meta.clientCode``, else ``"emulator"``. The organization id (the ``rules.bin`` key):
``create_app(organization_id=...)``, else the artifact's ``meta.organizationId``, else the emulator's default.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from target_async._serde import structure, unstructure
from target_async.decisioning import (
    Artifact,
    ArtifactError,
    DecisionEngine,
    load_artifact,
    obfuscate_artifact,
)
from target_async.models import DeliveryRequest

from ._compile import compile_fixtures

__all__ = [
    "DEFAULT_CLIENT",
    "DEFAULT_ORGANIZATION_ID",
    "ArtifactError",
    "ArtifactSource",
    "GeoTable",
    "Published",
    "Rules",
    "decide",
]

DEFAULT_CLIENT = "emulator"
DEFAULT_ORGANIZATION_ID = "EMULATOR0000000000000000@AdobeOrg"

ArtifactSource = Mapping[str, Any] | str | bytes | os.PathLike[str]


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _etag(body: bytes) -> str:
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def read_artifact(source: ArtifactSource, organization_id: str | None) -> tuple[Artifact, bytes]:
    """Load ``source`` (a mapping, JSON text or bytes, ``rules.bin`` bytes, or a file path): the compiled
    artifact and the ``rules.json`` text to serve. Raises :class:`ArtifactError` naming the problem."""
    where = "the artifact"
    data: Any = source
    if isinstance(source, os.PathLike) or (isinstance(source, str) and not source.lstrip().startswith("{")):
        path = Path(source)
        where = f"the artifact file {os.fspath(path)!r}"
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ArtifactError(f"{where} cannot be read: {exc.strerror or exc}") from None
    elif isinstance(source, str):
        data = source.encode("utf-8")
    elif isinstance(source, (bytearray, memoryview)):
        data = bytes(source)
    elif not isinstance(source, (bytes, Mapping)):
        raise ArtifactError(f"the artifact must be a dict, JSON text, bytes or a path, not {type(source).__name__}")
    try:
        artifact = load_artifact(data, organization_id=organization_id)
        _check_meta(artifact)
    except ArtifactError as exc:
        raise type(exc)(f"{where} cannot be used: {exc.message}") from None
    if isinstance(data, bytes) and data.lstrip()[:1] == b"{":
        return artifact, data
    return artifact, _dumps(artifact.payload)


def _check_meta(artifact: Artifact) -> None:
    for key in ("clientCode", "organizationId", "environment"):
        value = artifact.meta.get(key)
        if value is not None and (not isinstance(value, str) or not value):
            raise ArtifactError(f"meta.{key} must be a non-empty string")
    for kind, section in (("mbox", artifact.mboxes), ("view", artifact.views)):
        for name in section:
            if not isinstance(name, str) or not name:
                raise ArtifactError(f"a {kind} name in rules is empty")


@dataclass(frozen=True)
class Published:
    """One published artifact: what the CDN routes serve and what the Delivery endpoint decides with."""

    artifact: Artifact
    body: bytes
    etag: str
    bin_body: bytes
    bin_etag: str
    server: DecisionEngine
    client: str
    organization_id: str
    environment: str
    published_at: float
    source: str  # "artifact" | "fixtures"

    def summary(self) -> dict[str, Any]:
        art = self.artifact
        return {
            "etag": self.etag,
            "binEtag": self.bin_etag,
            "source": self.source,
            "version": art.version,
            "client": self.client,
            "organizationId": self.organization_id,
            "environment": self.environment,
            "location": f"/{self.client}/{self.environment}/v1/rules.json",
            "publishedAt": round(self.published_at * 1000),
            "globalMbox": art.global_mbox,
            "geoTargetingEnabled": art.geo_targeting_enabled,
            "localMboxes": sorted(art.local_mboxes),
            "remoteMboxes": sorted(art.remote_mboxes),
            "localViews": sorted(art.local_views),
            "remoteViews": sorted(art.remote_views),
            "rules": {"mboxes": art.mbox_rule_count, "views": art.view_rule_count},
            "bytes": len(self.body),
        }


def _server_payload(artifact: Artifact, fixture_rules: Mapping[str, Any]) -> dict[str, Any]:
    """The served artifact plus the fixtures' rules for what it does not decide locally."""
    payload = dict(artifact.payload)
    rules = dict(payload.get("rules") or {})
    added = False
    for group, local, remote in (
        ("mboxes", artifact.local_mboxes, artifact.remote_mboxes),
        ("views", artifact.local_views, artifact.remote_views),
    ):
        section = dict(rules.get(group) or {})
        for name, located in (fixture_rules.get(group) or {}).items():
            if name in remote or name not in local:
                section[name] = located
                added = True
        rules[group] = section
    if not added:
        return dict(artifact.payload)
    payload["rules"] = rules
    return payload


class Rules:
    """The published artifact and its engines; ``publish_*`` replace them atomically or raise (nothing changes).

    Args:
        artifact: a Target artifact (see :func:`read_artifact`), or ``None`` to serve the compiled fixtures.
        fixtures: the simple fixtures (``API.md`` §6): compiled into the artifact when there is none, else
            they decide what the artifact marks remote.
        client, organization_id, environment: see the module docstring.
        clock: epoch seconds (``generatedAt`` of compiled fixtures, ``publishedAt``).
    """

    def __init__(
        self,
        *,
        artifact: ArtifactSource | None = None,
        fixtures: Mapping[str, Any] | None = None,
        client: str | None = None,
        organization_id: str | None = None,
        environment: str = "production",
        clock: Callable[[], float] = time.time,
    ) -> None:
        for name, value in (("client", client), ("organization_id", organization_id), ("environment", environment)):
            if value is not None and (not isinstance(value, str) or not value or "/" in value):
                raise ValueError(f"{name} must be a non-empty string without '/', not {value!r}")
        self._client = client
        self._org = organization_id
        self._environment = environment
        self._clock = clock
        self._lock = threading.Lock()
        self._explicit = read_artifact(artifact, organization_id) if artifact is not None else None
        self._fixtures = fixtures
        self.current = self._build(self._explicit, fixtures)

    def _build(self, explicit: tuple[Artifact, bytes] | None, fixtures: Mapping[str, Any] | None) -> Published:
        meta = explicit[0].meta if explicit is not None else {}
        client = self._client or meta.get("clientCode") or DEFAULT_CLIENT
        org = self._org or meta.get("organizationId") or DEFAULT_ORGANIZATION_ID
        now = self._clock()
        if explicit is None:
            served_payload = compile_fixtures(
                fixtures, client=client, organization_id=org, environment=self._environment, generated_at=now
            )
            artifact = load_artifact(served_payload)
            body = _dumps(served_payload)
            server_payload = compile_fixtures(
                fixtures,
                client=client,
                organization_id=org,
                environment=self._environment,
                generated_at=now,
                server=True,
            )
            same = server_payload["rules"] == served_payload["rules"]
            server_art = artifact if same else load_artifact(server_payload)
            source = "fixtures"
        else:
            artifact, body = explicit
            server_art = artifact
            if fixtures is not None:
                compiled = compile_fixtures(fixtures, client=client, organization_id=org, server=True)
                merged = _server_payload(artifact, compiled["rules"])
                if merged.get("rules") is not artifact.payload.get("rules"):
                    server_art = load_artifact(merged)
            source = "artifact"
        key = hashlib.sha256(body).hexdigest()[:32]
        bin_body = obfuscate_artifact(body, organization_id=org, key=key)
        return Published(
            artifact=artifact,
            body=body,
            etag=_etag(body),
            bin_body=bin_body,
            bin_etag=_etag(bin_body),
            server=DecisionEngine(server_art, client=client, organization_id=org),
            client=client,
            organization_id=org,
            environment=str(meta.get("environment") or self._environment),
            published_at=now,
            source=source,
        )

    def publish_artifact(self, source: ArtifactSource) -> Published:
        """Serve ``source`` from now on (``ArtifactError`` when it cannot be used: the old one keeps serving)."""
        explicit = read_artifact(source, self._org)
        with self._lock:
            published = self._build(explicit, self._fixtures)
            self._explicit, self.current = explicit, published
        return published

    def withdraw_artifact(self) -> Published:
        """Serve the compiled fixtures again (after ``publish_artifact`` or ``create_app(artifact=...)``)."""
        with self._lock:
            published = self._build(None, self._fixtures)
            self._explicit, self.current = None, published
        return published

    def publish_fixtures(self, fixtures: Mapping[str, Any] | None) -> Published:
        """Replace the fixtures (``ValueError`` naming the path when invalid: nothing changes)."""
        with self._lock:
            published = self._build(self._explicit, fixtures)
            self._fixtures, self.current = fixtures, published
        return published


# ------------------------------------------------------------------------------------------------------ geo

_GEO_FIELDS: dict[str, tuple[str, type]] = {
    "latitude": ("x-geo-latitude", float),
    "longitude": ("x-geo-longitude", float),
    "countryCode": ("x-geo-country-code", str),
    "stateCode": ("x-geo-region-code", str),
    "city": ("x-geo-city", str),
}
MAX_GEO_ENTRIES = 10_000


def normalize_ip(text: object) -> str | None:
    """The canonical text of an IPv4/IPv6 address, or ``None`` when ``text`` is not one."""
    if not isinstance(text, str):
        return None
    try:
        return str(ipaddress.ip_address(text.strip()))
    except ValueError:
        return None


def _geo_entry(ip: str, raw: object) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        raise ValueError(f"geo[{ip!r}] must be an object of {', '.join(_GEO_FIELDS)}")
    unknown = sorted(set(raw) - set(_GEO_FIELDS))
    if unknown:
        known = ", ".join(_GEO_FIELDS)
        raise ValueError(f"geo[{ip!r}]: unknown field(s) {', '.join(map(str, unknown))} (known: {known})")
    entry: dict[str, Any] = {}
    for key, value in raw.items():
        if value is None:
            continue
        kind = _GEO_FIELDS[key][1]
        if kind is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise ValueError(f"geo[{ip!r}].{key} must be a finite number")
            entry[key] = value
        else:
            if not isinstance(value, str) or not value or len(value) > 200 or not value.isprintable():
                raise ValueError(f"geo[{ip!r}].{key} must be a non-empty printable string (at most 200 characters)")
            entry[key] = value
    return entry


class GeoTable:
    """IP address -> geo (``latitude``, ``longitude``, ``countryCode``, ``stateCode``, ``city``), thread-safe."""

    def __init__(self, table: Mapping[str, Any] | None = None) -> None:
        self._lock = threading.Lock()
        self._table: dict[str, dict[str, Any]] = {}
        if table is not None:
            self.update(table)

    def update(self, table: object, *, replace: bool = False) -> None:
        """Add (or, with ``replace``, set) entries; ``ValueError`` naming the entry, and nothing changes."""
        if not isinstance(table, Mapping):
            raise ValueError("the geo table must be an object of IP address -> geo")
        parsed: dict[str, dict[str, Any]] = {}
        for ip, raw in table.items():
            key = normalize_ip(ip)
            if key is None:
                raise ValueError(f"geo table key {ip!r} is not an IPv4 or IPv6 address")
            parsed[key] = _geo_entry(key, raw)
        with self._lock:
            size = len(parsed) + (0 if replace else len(set(self._table) - set(parsed)))
            if size > MAX_GEO_ENTRIES:
                raise ValueError(f"the geo table holds at most {MAX_GEO_ENTRIES} addresses")
            if replace:
                self._table = parsed
            else:
                self._table.update(parsed)

    def clear(self) -> None:
        with self._lock:
            self._table = {}

    def lookup(self, ip: object) -> dict[str, Any] | None:
        key = normalize_ip(ip)
        if key is None:
            return None
        with self._lock:
            found = self._table.get(key)
        return dict(found) if found is not None else None

    def headers(self, ip: object) -> dict[str, str]:
        """The ``x-geo-*`` headers Target's CDN sends for ``ip`` (none when the address is unknown)."""
        found = self.lookup(ip) or {}
        return {_GEO_FIELDS[k][0]: (repr(v) if isinstance(v, float) else str(v)) for k, v in found.items()}

    def snapshot(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            return {k: dict(v) for k, v in self._table.items()}


# ------------------------------------------------------------------------------------------------ deciding


def decide(
    published: Published,
    body: Mapping[str, Any],
    *,
    now: float,
    session_id: str,
    geo: GeoTable,
    client: str | None = None,
) -> dict[str, Any]:
    """Decide a (validated) Delivery request body with the server engine: the engine's response, wire form.

    ``ValueError`` (naming the field) when the body does not convert into a Delivery request. Like an
    on-device client, the engine is given the geo of the table for ``context.geo.ipAddress`` only when the
    artifact has geo targeting on and the request carries no geo of its own. ``client`` (the published one by
    default) is the client code of the allocation hash.
    """
    wire = {k: v for k, v in body.items() if k not in ("notifications", "telemetry")}
    try:
        request = structure(wire, DeliveryRequest)
    except ValueError as exc:
        raise ValueError(str(exc)) from None
    engine = published.server
    if client is not None and client != published.client:
        engine = DecisionEngine(engine.artifact, client=client, organization_id=published.organization_id)
    ip = engine.geo_lookup_ip(request)
    located = geo.lookup(ip) if ip is not None else None
    trace = None
    if request.trace is not None:
        trace = {
            "artifactLocation": published.summary()["location"],
            "pollingInterval": 0,
            "pollingHalted": False,
            "artifactRetrievalCount": 1,
            "artifactLastRetrieved": round(published.published_at * 1000),
        }
    decision = engine.decide(request, now=now, geo=located, session_id=session_id, trace=trace, telemetry=False)
    out = unstructure(decision.response)
    return out if isinstance(out, dict) else {}
