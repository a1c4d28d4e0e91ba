"""AsyncTargetClient: the asyncio-native Target Delivery API client."""

from __future__ import annotations

import asyncio
import copy
import logging
import ssl
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import httpx

from .. import _otel
from .._client_base import ClientBase, ClientState
from .._exceptions import ConfigurationError, ConfigurationWarning, ValidationError
from .._retry import DEFAULT_RETRIES, RetryPolicy
from .._settings import DEFAULT_MAX_RESPONSE_SIZE, check_header_value
from .._version import __version__
from ..models import DeliveryRequest, ExecuteRequest, MboxRequest
from ._client_ondevice import OnDeviceMethods
from ._local import OnDevice, OnDeviceSettings
from ._many import run_many
from ._options import (
    Call,
    DeliveryOptions,
    check_decisioning_method,
    create_options_to_kwargs,
    merge_call_options,
    parse_call,
)
from ._remote import send_to_server
from ._request import copy_request, prepare
from ._response import Attributes, DeliveryRawResponses, TargetDeliveryResponse, local_response, server_response
from ._routing import DELIVERY_PATH, Router, check_base_url, check_client_code, check_server_domain

if TYPE_CHECKING:
    from typing_extensions import Unpack

__all__ = ["AsyncTargetClient", "DeliveryRawResponses"]

_SDK_HEADERS = {
    "Accept": "application/json",
    "Content-Type": "application/json",
    "X-EXC-SDK": "TargetAsyncPython",
    "X-EXC-SDK-Version": __version__,
    "User-Agent": f"target-async/{__version__}",
}
DEFAULT_CONCURRENCY = 64


def _opt_str(value: Any, field: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise ConfigurationError(f"{field} must be a string", field=field)


class AsyncTargetClient(OnDeviceMethods, ClientBase):
    """Decide offers with the Target Delivery API from asyncio (or trio) code.

    Args:
        client: the Target client code (the default host is ``{client}.tt.omtrdc.net``).
        organization_id: the Experience Cloud organization id (``...@AdobeOrg``).
        server_domain: the host to use when no edge cluster is known.
        secure: ``False`` switches to plain ``http://``.
        base_url: instead of ``server_domain`` and ``secure`` (not with them): ``http(s)://host[:port]``, where
            **every** Delivery call goes (no switch to an edge host; the edge cluster is still learned for the
            ``mboxEdgeCluster`` cookie). For a proxy, a gateway or the emulator.
        timeout: the deadline of a whole call in **seconds**, retries included; always enforced (1000 or more
            warns :class:`~target_async.errors.ConfigurationWarning`: milliseconds were probably meant).
        target_location_hint: the edge cluster to use until a response or cookie says otherwise.
        property_token: the default ``property.token`` (at.js property).
        environment_id: the default ``environmentId``.
        version: sent as the ``version`` query parameter.
        decisioning_method: ``"server-side"`` (the Delivery API), ``"on-device"`` (decided from the rules
            artifact) or ``"hybrid"`` (locally when the artifact can decide the whole request, else the API).
        retries: a :class:`RetryPolicy` or a number of retries >= 0 (see the policy for what is retried).
        verify: TLS verification: ``True`` (system trust, as httpx), ``False`` (warns
            :class:`~target_async.InsecureTLSWarning`), the path of an existing CA bundle file or directory, or an
            ``ssl.SSLContext``; the context is built once per client, never per call.
        proxy: an ``http://``, ``https://`` (or, with ``httpx[socks]``, ``socks5://``) proxy URL.
        trust_env: read ``HTTP_PROXY``/``HTTPS_PROXY``/``ALL_PROXY``, ``NO_PROXY``, ``SSL_CERT_FILE`` and
            ``SSL_CERT_DIR`` as httpx does (default True; an explicit ``proxy``/``verify`` wins).
        default_headers: headers sent with every request, after the SDK's own (a name the SDK sets is refused).
        http2: use HTTP/2 (httpx's transport; install ``target-async[http2]``).
        max_connections: the connection-pool size.
        http_client: an ``httpx.AsyncClient`` to share (e.g. one per FastAPI app); never closed by this client.
        transport: an ``httpx.AsyncBaseTransport`` for the client this one builds (tests: ``MockTransport``).
        events: ``{name: handler}``, each handler called with the event dict ``{"type": name, ...}`` from the
            client's loop: ``client_ready`` (on-device/hybrid: the first artifact is loaded; server-side: first
            use), ``artifact_download_succeeded``, ``artifact_download_failed``, ``geo_location_updated``,
            ``send_notification_error``. A handler that raises is logged.
        logger: a ``logging.Logger``; default ``logging.getLogger("target_async")``.
        max_response_size: the cap of a decoded answer body in bytes (default 16 MiB):
            :class:`~target_async.ResponseTooLargeError` beyond it.
        artifact_location: on-device: the rules artifact URL (default: Adobe's CDN for ``client``,
            ``environment`` and ``property_token``).
        artifact_payload: on-device: an artifact (dict, JSON text or bytes, or ``rules.bin`` bytes) used instead
            of the first download.
        artifact_format: ``"json"`` or ``"bin"`` (the obfuscated ``rules.bin``); default from the URL.
        polling_interval: seconds between artifact polls (default 300, minimum 300, ``0`` = never).
        environment: the artifact's environment (default ``"production"``).
        cdn_environment: ``"production"``, ``"staging"`` or ``"development"`` (the latter two: the staging CDN).
        cdn_base_path: a CDN host (``host[:port]``) instead of Adobe's.
        telemetry_enabled: send on-device telemetry with notifications and later calls (default True).

    Every option is checked here (:class:`ConfigurationError` naming it): no control characters in ``client``
    and ``organization_id``, a finite ``timeout`` above 0, ``retries`` >= 0, a proxy URL of a supported scheme.
    """

    _owned_headers = frozenset({"x-exc-sdk", "x-exc-sdk-version"})

    def __init__(
        self,
        *,
        client: str,
        organization_id: str,
        server_domain: str | None = None,
        secure: bool = True,
        timeout: float = 3.0,
        target_location_hint: str | None = None,
        property_token: str | None = None,
        environment_id: int | None = None,
        version: str | None = None,
        decisioning_method: str = "server-side",
        retries: RetryPolicy | int = DEFAULT_RETRIES,
        verify: bool | str | ssl.SSLContext = True,
        proxy: str | httpx.Proxy | None = None,
        http2: bool = False,
        max_connections: int = 256,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        events: Mapping[str, Callable[..., Any]] | None = None,
        logger: logging.Logger | None = None,
        max_response_size: int = DEFAULT_MAX_RESPONSE_SIZE,
        artifact_location: str | None = None,
        artifact_payload: Mapping[str, Any] | str | bytes | None = None,
        artifact_format: str | None = None,
        polling_interval: float | None = None,
        environment: str | None = None,
        cdn_environment: str | None = None,
        cdn_base_path: str | None = None,
        telemetry_enabled: bool = True,
        base_url: str | None = None,
        default_headers: Mapping[str, str] | None = None,
        trust_env: bool = True,
    ) -> None:
        if not client or not isinstance(client, str):
            raise ConfigurationError("Client is required", field="client")
        if not organization_id or not isinstance(organization_id, str):
            raise ConfigurationError("Organization Id is required", field="organization_id")
        check_header_value(client, "client")
        check_client_code(client)
        check_header_value(organization_id, "organization_id")
        if not isinstance(secure, bool):
            raise ConfigurationError("secure must be a bool", field="secure")
        fixed_url = None
        if base_url is not None:
            if server_domain is not None:
                raise ConfigurationError("pass base_url or server_domain, not both", field="base_url")
            if not secure:
                raise ConfigurationError("pass base_url or secure=False, not both (use http://)", field="base_url")
            server_domain, secure = check_base_url(base_url)
            fixed_url = f"{'https' if secure else 'http'}://{server_domain}{DELIVERY_PATH}"
        if not organization_id.endswith("@AdobeOrg"):
            warnings.warn(
                f"organization_id {organization_id[:64]!r} does not end with @AdobeOrg: an Experience Cloud "
                "organization id looks like '0123456789ABCDEF01234567@AdobeOrg'",
                ConfigurationWarning,
                stacklevel=2,
            )
        if environment_id is not None and (isinstance(environment_id, bool) or not isinstance(environment_id, int)):
            raise ConfigurationError("environment_id must be an integer", field="environment_id")
        if events is not None and (not isinstance(events, Mapping) or not all(callable(h) for h in events.values())):
            raise ConfigurationError("events must map event names to callables", field="events")
        self._init_http(
            timeout=timeout,
            retries=retries,
            verify=verify,
            proxy=proxy,
            http2=http2,
            max_connections=max_connections,
            http_client=http_client,
            transport=transport,
            headers=_SDK_HEADERS,
            logger=logger,
            max_response_size=max_response_size,
            default_headers=default_headers,
            trust_env=trust_env,
        )
        self.base_url = fixed_url.removesuffix(DELIVERY_PATH) if fixed_url else None
        self._fixed_url = fixed_url
        self.client = client
        self.organization_id = organization_id
        self.server_domain = check_server_domain(server_domain)
        self.secure = secure
        self.property_token = _opt_str(property_token, "property_token")
        self.environment_id = environment_id
        self.version = _opt_str(version, "version")
        self.decisioning_method = check_decisioning_method(decisioning_method, "decisioning_method")
        self.events: dict[str, Callable[..., Any]] = dict(events or {})
        self._router = Router(client=client, server_domain=self.server_domain, secure=secure, hint=target_location_hint)
        on_device = OnDeviceSettings.build(
            client=client,
            property_token=self.property_token,
            artifact_location=artifact_location,
            artifact_payload=artifact_payload,
            artifact_format=artifact_format,
            polling_interval=polling_interval,
            environment=environment,
            cdn_environment=cdn_environment,
            cdn_base_path=cdn_base_path,
            telemetry_enabled=telemetry_enabled,
        )
        self._local = OnDevice(
            on_device,
            http=self._http,
            client=client,
            organization_id=organization_id,
            property_token=self.property_token,
            emit=self._emit,
            send=self._send_pending,
            logger=self.logger,
        )
        self._is_twin = False
        self._ready_sent = False
        self._base_query = {"imsOrgId": organization_id}
        if self.version is not None:
            self._base_query["version"] = self.version

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> AsyncTargetClient:
        """Build a client from the documented ``TargetClient.create`` dict (``timeout`` in milliseconds)."""
        return cls(**create_options_to_kwargs(options))

    @property
    def with_raw_response(self) -> DeliveryRawResponses:
        """The calls returning a :class:`~target_async.RawResponse` (status, headers, request id, ``parse()``),
        as openai's ``client.with_raw_response``: ``raw = await client.with_raw_response.get_offers(...)``."""
        return DeliveryRawResponses(self)

    @property
    def target_location_hint(self) -> str | None:
        """The client-wide edge cluster: the configured hint, then the last one a response revealed."""
        return self._router.hint

    # -- lifecycle -------------------------------------------------------------------------------------------

    async def _closing(self) -> None:
        """``aclose()``: send pending on-device notifications and stop artifact polling (the original only)."""
        if not self._is_twin:
            await self._local.aclose()

    def _twin(self) -> AsyncTargetClient:
        """This client for another event loop: the same settings, edge routing and on-device state, a connection
        pool of its own. Closing it leaves the shared parts open; ``events`` stay with the original (they fire
        once per client)."""
        twin = copy.copy(self)
        twin._http = self._http.twin()
        twin._state = ClientState.UNOPENED
        twin._is_twin = True  # the on-device part (artifact, engine, notifications) stays the original's
        twin.events = {}
        return twin

    def _opened(self) -> None:
        """First use: start on-device decisioning, or (server-side) fire ``client_ready`` once the caller's
        current step is done."""
        if self.decisioning_method != "server-side":
            self._local.start()
        elif "client_ready" in self.events and not self._is_twin:
            try:
                asyncio.get_running_loop().call_soon(self._emit, "client_ready", {})
            except RuntimeError:  # another async library
                self._emit("client_ready", {})

    # -- public calls ----------------------------------------------------------------------------------------

    async def get_offers(
        self,
        request: DeliveryRequest | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[DeliveryOptions],
    ) -> TargetDeliveryResponse:
        """Decide the mboxes, page load and views of ``request`` (execute and/or prefetch).

        ``request`` is a :class:`DeliveryRequest`, a dict in wire format, or the documented options mapping
        (``{"request": ..., "session_id": ...}``) as the only argument. ``timeout``: this call's deadline in
        seconds (default: the client's).

        Raises:
            ValidationError: the request or an option is invalid (nothing was sent).
            APIError: the Delivery API answered with an error.
            TransportError: the call failed or timed out.
        """
        call = parse_call(
            merge_call_options(request, options),
            notifications=False,
            default_method=self.decisioning_method,
            timeout=None if timeout is None else self._call_timeout(timeout),
        )
        return await self._deliver(call)

    async def send_notifications(
        self,
        request: DeliveryRequest | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[DeliveryOptions],
    ) -> TargetDeliveryResponse:
        """Send display/click notifications (``request.notifications``); always server-side. ``timeout``: this
        call's deadline in seconds (default: the client's)."""
        call = parse_call(
            merge_call_options(request, options),
            notifications=True,
            default_method=self.decisioning_method,
            timeout=None if timeout is None else self._call_timeout(timeout),
        )
        return await self._deliver(call)

    async def get_attributes(
        self,
        mbox_names: Sequence[str],
        request: DeliveryRequest | Mapping[str, Any] | None = None,
        *,
        timeout: float | None = None,
        **options: Unpack[DeliveryOptions],
    ) -> Attributes:
        """Execute ``mbox_names`` (added to the request's execute mboxes) and index their JSON offers.

        The caller's request is never modified.
        """
        if isinstance(mbox_names, str) or not isinstance(mbox_names, Sequence):
            raise ValidationError("mbox_names must be a list of mbox names", field="mbox_names")
        for i, name in enumerate(mbox_names):
            if not isinstance(name, str) or not name:
                raise ValidationError(f"mbox_names[{i}] must be a non-empty string", field=f"mbox_names[{i}]")
        merged = merge_call_options(request, options)
        raw = merged.get("request")
        copy = DeliveryRequest() if raw is None else copy_request(raw)
        execute = copy.execute or ExecuteRequest()
        mboxes = list(execute.mboxes or ())
        present = {m.name for m in mboxes}
        next_index = max((m.index for m in mboxes if isinstance(m.index, int)), default=-1) + 1
        for name in mbox_names:
            if name not in present:
                mboxes.append(MboxRequest(name=name, index=next_index))
                present.add(name)
                next_index += 1
        execute.mboxes = mboxes
        copy.execute = execute
        merged["request"] = copy
        call = parse_call(
            merged,
            notifications=False,
            default_method=self.decisioning_method,
            copied=True,
            timeout=None if timeout is None else self._call_timeout(timeout),
        )
        return Attributes.from_response(await self._deliver(call))

    @overload
    async def get_offers_many(
        self,
        items: Iterable[DeliveryRequest | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[False] = ...,
        progress: Callable[[int, int], None] | None = ...,
    ) -> list[TargetDeliveryResponse]: ...

    @overload
    async def get_offers_many(
        self,
        items: Iterable[DeliveryRequest | Mapping[str, Any]],
        *,
        concurrency: int = ...,
        return_exceptions: Literal[True],
        progress: Callable[[int, int], None] | None = ...,
    ) -> list[TargetDeliveryResponse | BaseException]: ...

    async def get_offers_many(
        self,
        items: Iterable[DeliveryRequest | Mapping[str, Any]],
        *,
        concurrency: int = DEFAULT_CONCURRENCY,
        return_exceptions: bool = False,
        progress: Callable[[int, int], None] | None = None,
    ) -> list[TargetDeliveryResponse] | list[TargetDeliveryResponse | BaseException]:
        """Run ``get_offers`` for many requests with at most ``concurrency`` in flight.

        Results come back in input order. Each item is a :class:`DeliveryRequest` (or wire dict) or an options
        mapping. With ``return_exceptions=False`` the first failure cancels the remaining calls and is raised;
        with ``True`` each failed item's exception takes its place in the list. ``progress(done, total)`` is
        called after every completed call.
        """
        results: list[Any] = await run_many(
            self.get_offers,
            items,
            concurrency=concurrency,
            return_exceptions=return_exceptions,
            progress=progress,
        )
        return results

    # -- internals -------------------------------------------------------------------------------------------

    @_otel.delivery_span
    async def _deliver(self, call: Call) -> TargetDeliveryResponse:
        """One call, in the steps of the delivery pipeline: (options parsed by the caller) → prepare → route →
        decide locally or send to the server → build the result."""
        self._check_open()
        prepared = prepare(call, property_token=self.property_token, environment_id=self.environment_id)
        local = self._local
        timeout = self.timeout if call.timeout is None else call.timeout
        route = await self._router.route(call, prepared, local, timeout)
        if route.engine is not None:
            deadline = time.monotonic() + timeout
            decision = await local.decide(
                route.engine,
                prepared.request,
                http=self._http,
                session_id=prepared.session_id,
                cluster=route.cluster,
                deadline=deadline,
            )
            return local_response(decision, prepared.session_id, route.cluster, call.visitor)
        delivery = await send_to_server(
            self._http,
            self._fixed_url or route.url,  # base_url: every call goes there
            prepared,
            base_query=self._base_query,
            notifications=call.notifications,
            telemetry=local.notifier.take_telemetry(),  # on-device telemetry rides along
            timeout=timeout,
            retries=self._call_retries,
            headers=self._call_headers,
        )
        cluster = self._router.answered(route, delivery.edge_host)
        return server_response(delivery, prepared.request, prepared.session_id, cluster, call.visitor)

    def __repr__(self) -> str:
        return f"<AsyncTargetClient client={self.client!r} organization_id={self.organization_id!r}>"
