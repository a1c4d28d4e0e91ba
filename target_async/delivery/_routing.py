"""Where a delivery call goes: the edge cluster rules.

Target serves each visitor from an edge cluster, named by a short token (``28``, ``35``, ``irl1`` …) that appears in
three places: the suffix of a tntId (``<id>.<cluster>_<n>``, from the visitor's ``PC`` cookie), the
``mboxEdgeCluster`` cookie (the per-call ``target_location_hint``) and a response's ``edgeHost``
(``mboxedge<cluster>.tt.omtrdc.net``). The first two come from a visitor's browser, so they are untrusted: a value
that is not a cluster token must never become part of a host name.

The rules (README, "Network settings"):

- A cluster is 1 to 16 ASCII lower-case letters or digits (:data:`CLUSTER_RE`). Every cluster Adobe documents or
  answers with has that shape; anything else (dots, ``@``, ``:``, ``/``, ``%``, upper case, non-ASCII look-alikes such
  as U+3002) is not a cluster.
- The edge host is built only as ``mboxedge{cluster}.tt.omtrdc.net`` from a cluster of that shape, so no value can
  add a user-info, a port, a path or another host.
- An untrusted value that is not a cluster (a tntId suffix, a per-call hint, a response's ``edgeHost``) is ignored
  with a debug log: the call goes where it would have gone without it. A client's own ``target_location_hint``
  option that is not a cluster is a :class:`ConfigurationError`.
- The client-wide hint (used by later calls that carry no cluster of their own) is learned only from the server's
  answer (``edgeHost``), never from a visitor's cookie or a per-call option: one visitor cannot choose where other
  visitors' calls go.
"""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs

from .._exceptions import ConfigurationError

if TYPE_CHECKING:
    from ._local import OnDevice
    from ._options import Call
    from ._request import Prepared

__all__ = [
    "CLUSTER_RE",
    "DELIVERY_PATH",
    "Route",
    "Router",
    "check_base_url",
    "check_client_code",
    "check_cluster_option",
    "check_server_domain",
    "cluster_from_edge_host",
    "cluster_from_tnt_id",
    "edge_host",
    "valid_cluster",
]

CLUSTER_RE = re.compile(r"[a-z0-9]{1,16}")
"""The shape of an edge cluster token (ASCII only: ``[a-z0-9]`` never matches a non-ASCII character)."""

DELIVERY_PATH = "/rest/v1/delivery"
_EDGE_PREFIX = "mboxedge"
_EDGE_DOMAIN = ".tt.omtrdc.net"
_log = logging.getLogger("target_async")


def valid_cluster(value: object) -> str | None:
    """``value`` when it is a cluster token, else None."""
    if isinstance(value, str) and CLUSTER_RE.fullmatch(value):
        return value
    return None


def check_cluster_option(value: object, field: str) -> str | None:
    """A client option that names a cluster: None, or a cluster token; anything else is a ConfigurationError."""
    if value is None:
        return None
    if valid_cluster(value) is None:
        raise ConfigurationError(
            f"{field} must be an edge cluster: 1-16 lower-case ASCII letters or digits (e.g. '28'), got {value!r}",
            field=field,
        )
    return value  # type: ignore[return-value]


_CLIENT_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


def check_client_code(value: str) -> str:
    """The ``client`` option becomes a host label (``{client}.tt.omtrdc.net``) and an artifact path segment: one
    DNS-label-like token (ASCII letters, digits, ``-``, ``_``; at most 63)."""
    if not _CLIENT_RE.fullmatch(value):
        raise ConfigurationError(
            f"client must be a Target client code (ASCII letters, digits, '-' or '_'), got {value[:80]!r}",
            field="client",
        )
    return value


def check_server_domain(value: object) -> str | None:
    """``server_domain``: a host name or address with an optional port, nothing else (no scheme, user-info,
    path, query or fragment)."""
    if value is None:
        return None
    if not isinstance(value, str) or not value or not value.isascii():
        raise ConfigurationError(
            "server_domain must be an ASCII host name, e.g. 'acme.tt.omtrdc.net'", field="server_domain"
        )
    parts = urlsplit(f"//{value}")
    try:
        port = parts.port
    except ValueError:
        port = -1
    if (
        not parts.hostname
        or parts.username is not None
        or parts.path
        or parts.query
        or parts.fragment
        or port == -1
        or any(c.isspace() or c in "\\%" for c in value)
    ):
        raise ConfigurationError(
            f"server_domain must be host[:port] (no scheme, user, path or query), got {value[:80]!r}",
            field="server_domain",
        )
    return value


def check_base_url(value: object) -> tuple[str, bool]:
    """``base_url``: ``http(s)://host[:port]`` with no path (but ``/``), user, query or fragment; its host and
    whether it is https. The Delivery path (``/rest/v1/delivery``) is the SDK's."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError("base_url must be a URL such as 'https://acme.tt.omtrdc.net'", field="base_url")
    text = value.strip()
    scheme, sep, rest = text.partition("://")
    host, _, path = rest.partition("/")
    if not sep or scheme.lower() not in ("http", "https") or path or "?" in host or "#" in host:
        raise ConfigurationError(
            f"base_url must be http(s)://host[:port] (the Delivery path is fixed), got {text[:80]!r}",
            field="base_url",
        )
    try:
        checked = check_server_domain(host)
    except ConfigurationError as exc:
        raise ConfigurationError(
            f"base_url must be http(s)://host[:port] (no user, path or query), got {text[:80]!r}", field="base_url"
        ) from exc
    assert checked is not None
    return checked, scheme.lower() == "https"


def edge_host(cluster: str) -> str:
    """The edge host of a cluster token (the caller checked its shape)."""
    return f"{_EDGE_PREFIX}{cluster}{_EDGE_DOMAIN}"


def cluster_from_tnt_id(tnt_id: str | None) -> str | None:
    """The edge cluster in a tntId of the form ``<id>.<cluster>_<n>``, else None (also for a bad cluster)."""
    if not tnt_id:
        return None
    parts = tnt_id.split(".")
    if len(parts) != 2:
        return None
    location = parts[1].split("_")
    if len(location) != 2 or not location[0]:
        return None
    cluster = valid_cluster(location[0])
    if cluster is None:
        _log.debug("Ignored a tntId location that is not an edge cluster: %r", location[0][:64])
    return cluster


def cluster_from_edge_host(host: str | None) -> str | None:
    """The cluster of an ``edgeHost`` exactly of the form ``mboxedge<cluster>.tt.omtrdc.net``, else None."""
    if not host or not host.startswith(_EDGE_PREFIX) or not host.endswith(_EDGE_DOMAIN):
        return None
    return valid_cluster(host[len(_EDGE_PREFIX) : -len(_EDGE_DOMAIN)])


@attrs.frozen(slots=True)
class Route:
    """Where one call goes (the third step of every call).

    Attributes:
        cluster: the edge cluster of the call (the visitor's, else the client-wide hint), or None.
        visitor_chose: whether the cluster came from the visitor's cookies (then it is not learned client-wide).
        engine: the on-device decision engine when the call is decided locally, else None.
        url: the Delivery API URL when the call goes to the server.
    """

    cluster: str | None
    visitor_chose: bool
    engine: Any = None
    url: str = ""


class Router:
    """Chooses where each call goes: on the device, or to which Delivery API host. Shared by a client and its
    twins (the learned client-wide hint is one for all).

    The host order is the official SDKs': the edge cluster (``mboxedge{cluster}.tt.omtrdc.net``), else
    ``server_domain``, else ``{client}.tt.omtrdc.net``. On-device and hybrid calls ask the on-device part
    (:meth:`~._local.OnDevice.engine_for`) first: this is where local decisions plug in.
    """

    __slots__ = ("_default_host", "_scheme", "hint")

    def __init__(self, *, client: str, server_domain: str | None, secure: bool, hint: str | None) -> None:
        self.hint = check_cluster_option(hint, "target_location_hint")
        self._default_host = server_domain or f"{client}.tt.omtrdc.net"
        self._scheme = "https" if secure else "http"

    async def route(self, call: Call, prepared: Prepared, local: OnDevice, timeout: float) -> Route:
        """The route of a call: local when its method allows and the artifact can decide it, else a URL."""
        cluster, visitor_chose = self.call_cluster(prepared.device_id, call.location_hint)
        if call.method != "server-side":
            engine = await local.engine_for(prepared.request, call.method, timeout)
            if engine is not None:
                return Route(cluster, visitor_chose, engine=engine)
        host = edge_host(cluster) if cluster else self._default_host
        return Route(cluster, visitor_chose, url=f"{self._scheme}://{host}{DELIVERY_PATH}")

    def call_cluster(self, tnt_id: str | None, call_hint: str | None) -> tuple[str | None, bool]:
        """The cluster a call goes to, and whether the visitor chose it: the visitor's tntId suffix, then the
        call's hint (both from cookies, so untrusted: one that is not a cluster token is ignored with a debug
        log), then the client-wide hint."""
        cluster = cluster_from_tnt_id(tnt_id)
        if cluster is not None:
            return cluster, True
        if call_hint is not None:
            if valid_cluster(call_hint) is not None:
                return call_hint, True
            _log.debug("Ignored a target_location_hint that is not an edge cluster: %r", call_hint[:64])
        return self.hint, False

    def answered(self, route: Route, answered_edge_host: str | None) -> str | None:
        """The cluster of a call's answer (for the ``mboxEdgeCluster`` cookie): the call's own, else the one the
        server's ``edgeHost`` names. The server's cluster becomes the client-wide hint, unless the visitor chose
        where the call went (a visitor never moves other visitors' calls)."""
        learned = cluster_from_edge_host(answered_edge_host)
        if learned is None and answered_edge_host:
            _log.debug("Ignored an edgeHost that is not an edge host: %r", answered_edge_host[:64])
        if learned is not None and not route.visitor_chose:
            self.hint = learned
        return route.cluster or learned
