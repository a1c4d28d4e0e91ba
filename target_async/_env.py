"""What the environment configures, as httpx and openai-python read it: proxies, CA bundles and logging.

``trust_env=True`` (the default of both API clients, as httpx's) reads, once, when the client is built:

* ``HTTP_PROXY``, ``HTTPS_PROXY``, ``ALL_PROXY`` (lower-case names too; the lower-case one wins, as in
  :func:`urllib.request.getproxies_environment`): the proxy of a request by its URL's scheme, else ``ALL_PROXY``.
  A value without a scheme means ``http://``. An explicit ``proxy=`` wins over all of them.
* ``NO_PROXY``: a comma-separated list of hosts that go direct, matched as httpx matches them: ``*`` (no proxy at
  all), ``example.com`` (that host and its subdomains), ``.example.com`` (its subdomains only), ``host:port``,
  an IP address, ``localhost``; an entry with a scheme (``http://host``) applies to that scheme only.
* ``SSL_CERT_FILE``, else ``SSL_CERT_DIR``: the CA bundle used when ``verify=True``.

``trust_env=False`` ignores them all (certifi's bundle, as httpx). Both exchanges (aiohttp's pool, the default on
asyncio, and httpx's transport) choose the proxy per request through :class:`EnvProxies`, so they behave the same.
aiohttp's own ``trust_env`` is not used: it would also read ``~/.netrc`` credentials (httpx no longer does) and
ignores ``ALL_PROXY``.

``TARGET_ASYNC_LOG=debug|info|warning`` gives the ``target_async`` logger a stderr handler and that level, once per
process (as ``OPENAI_LOG``): :func:`configure_logging`.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import sys
import urllib.request
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from ._exceptions import ConfigurationError

__all__ = ["LOG_ENV", "EnvProxies", "EnvProxyTransport", "configure_logging", "env_verify"]

LOG_ENV = "TARGET_ASYNC_LOG"
_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING}
_configured = False


def configure_logging(environ: Mapping[str, str] | None = None) -> logging.Handler | None:
    """Honour ``TARGET_ASYNC_LOG`` (once per process): a stderr handler and level on the ``target_async`` logger.

    Returns the handler added, or None (variable unset, already done, or an unknown value: that one warns through
    the logger's parent, once).
    """
    global _configured
    if _configured:
        return None
    env = os.environ if environ is None else environ
    value = env.get(LOG_ENV, "").strip().lower()
    if not value:
        return None
    _configured = True
    level = _LEVELS.get(value)
    logger = logging.getLogger("target_async")
    if level is None:
        logger.warning("%s=%r is not one of debug, info, warning: ignored", LOG_ENV, value)
        return None
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("[%(asctime)s - %(name)s:%(lineno)d - %(levelname)s] %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(level)
    return handler


def env_verify(verify: Any, trust_env: bool) -> Any:
    """The ``verify`` to use. With ``verify=True``: without ``trust_env``, certifi's bundle (an ``ssl.SSLContext``
    built here, once); with it, ``True`` after checking that ``SSL_CERT_FILE``/``SSL_CERT_DIR`` (if set) exist
    (both exchanges load them through ``httpx.create_ssl_context`` when the pool opens, as httpx does). Any other
    value is returned as given."""
    if verify is not True:
        return verify
    if not trust_env:
        return httpx.create_ssl_context(trust_env=False)
    for name, check in (("SSL_CERT_FILE", os.path.isfile), ("SSL_CERT_DIR", os.path.isdir)):
        path = os.environ.get(name)
        if path:
            if not check(path):
                raise ConfigurationError(
                    f"{name}={path!r} (read because trust_env=True) does not exist; fix it, or pass trust_env=False "
                    "or verify=",
                    field=name,
                )
            break  # httpx reads SSL_CERT_DIR only without SSL_CERT_FILE
    return True


def _check_env_proxy(name: str, value: str) -> httpx.Proxy:
    from ._settings import check_proxy  # late: _settings imports the HTTP layer

    text = value.strip()
    if "://" not in text:
        text = f"http://{text}"
    checked = check_proxy(text, field=name)
    assert checked is not None
    return httpx.Proxy(checked) if isinstance(checked, str) else checked


@attrs.frozen
class _Bypass:
    """One ``NO_PROXY`` entry."""

    host: str  # lower case, no brackets; "" with ``everything``
    port: int | None = None
    scheme: str | None = None
    subdomains_only: bool = False

    def matches(self, scheme: str, host: str, port: int | None) -> bool:
        if self.scheme is not None and self.scheme != scheme:
            return False
        if self.port is not None and self.port != port:
            return False
        if self.subdomains_only:
            return host.endswith("." + self.host)
        return host == self.host or host.endswith("." + self.host)


def _parse_bypass(entry: str) -> _Bypass | None:
    entry = entry.strip().lower()
    if not entry:
        return None
    scheme = None
    if "://" in entry:
        scheme, _, entry = entry.partition("://")
    entry = entry.rstrip("/")
    try:  # a bare IPv6 address (its colons are no port)
        return _Bypass(str(ipaddress.ip_address(entry.strip("[]"))), None, scheme)
    except ValueError:
        pass
    port = None
    host, sep, tail = entry.rpartition(":")
    if sep and tail.isdigit() and not host.endswith(":"):
        entry, port = host, int(tail)
    entry = entry.strip("[]")
    if entry.startswith("*."):
        return _Bypass(entry[2:], port, scheme, subdomains_only=True)
    if entry.startswith("."):
        return _Bypass(entry[1:], port, scheme, subdomains_only=True)
    return _Bypass(entry.lstrip("*"), port, scheme)


_DEFAULT_PORTS = {"http": 80, "https": 443}


@attrs.frozen
class EnvProxies:
    """The proxies the environment names, and which hosts go direct (see the module docstring).

    Attributes:
        proxies: ``{"http": Proxy, "https": Proxy, "all": Proxy}`` (the ones set).
        bypass: the ``NO_PROXY`` entries.
        everything_direct: ``NO_PROXY=*``.
    """

    proxies: dict[str, httpx.Proxy]
    bypass: tuple[_Bypass, ...] = ()
    everything_direct: bool = False

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> EnvProxies | None:
        """The environment's proxy settings, or None when no proxy is set (or ``NO_PROXY=*``).

        Raises:
            ConfigurationError: a proxy variable is not a usable proxy URL (naming the variable).
        """
        found = urllib.request.getproxies_environment() if environ is None else _proxies_of(environ)
        proxies: dict[str, httpx.Proxy] = {}
        for scheme in ("http", "https", "all"):
            value = found.get(scheme)
            if value:
                proxies[scheme] = _check_env_proxy(f"{scheme.upper()}_PROXY", value)
        if not proxies:
            return None
        no_proxy = found.get("no", "")
        entries = [e for e in (_parse_bypass(part) for part in no_proxy.split(",")) if e is not None]
        if any(e.host == "" and not e.subdomains_only for e in entries) or no_proxy.strip() == "*":
            return None
        return cls(proxies, tuple(entries))

    @property
    def has_socks(self) -> bool:
        """Whether a proxy is a SOCKS one (only httpx's transport speaks SOCKS)."""
        return any(p.url.scheme.startswith("socks") for p in self.proxies.values())

    def proxy_for(self, url: str | httpx.URL) -> httpx.Proxy | None:
        """The proxy of a request to ``url``, or None (direct)."""
        parsed = url if isinstance(url, httpx.URL) else httpx.URL(url)
        return self.proxy_for_host(parsed.scheme, parsed.host, parsed.port)

    def proxy_for_host(self, scheme: str, host: str | None, port: int | None) -> httpx.Proxy | None:
        """The proxy of a request to ``scheme://host:port``, or None (direct)."""
        host = (host or "").lower().strip("[]")
        port = port or _DEFAULT_PORTS.get(scheme)
        for entry in self.bypass:
            if entry.matches(scheme, host, port):
                return None
        return self.proxies.get(scheme) or self.proxies.get("all")


def _proxies_of(environ: Mapping[str, str]) -> dict[str, str]:
    """:func:`urllib.request.getproxies_environment` over a given mapping (lower-case names win)."""
    found: dict[str, str] = {}
    for name, value in environ.items():
        if value and name[-6:].lower() == "_proxy" and name.upper() == name:
            found[name[:-6].lower()] = value
    for name, value in environ.items():
        if value and name[-6:] == "_proxy" and name.lower() == name:
            found[name[:-6]] = value
    return found


class EnvProxyTransport(httpx.AsyncBaseTransport):
    """httpx's transport with the proxy of each request chosen by :class:`EnvProxies` (one pool per proxy)."""

    def __init__(self, env: EnvProxies, **options: Any) -> None:
        self._env = env
        self._options = options
        self._transports: dict[str | None, httpx.AsyncHTTPTransport] = {}

    def _transport(self, proxy: httpx.Proxy | None) -> httpx.AsyncHTTPTransport:
        key = None if proxy is None else str(proxy.url)
        transport = self._transports.get(key)
        if transport is None:
            transport = self._transports[key] = httpx.AsyncHTTPTransport(proxy=proxy, **self._options)
        return transport

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return await self._transport(self._env.proxy_for(request.url)).handle_async_request(request)

    async def aclose(self) -> None:
        transports, self._transports = self._transports, {}
        for transport in transports.values():
            await transport.aclose()
