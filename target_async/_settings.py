"""Validation of the network and identity options both API clients share (one rule set for both).

Each check raises :class:`~target_async.ConfigurationError` naming the option, at construction, so that a bad
value never fails later as a bare ``ValueError``/``OverflowError``/``FileNotFoundError`` or, worse, goes out on
the wire (a CR/LF in a header value).
"""

from __future__ import annotations

import importlib.util
import math
import os
import ssl
import warnings
from typing import Any

import httpx

from ._answer import DEFAULT_MAX_RESPONSE_SIZE
from ._exceptions import ConfigurationError, InsecureTLSWarning, ValidationError
from ._retry import RetryPolicy

__all__ = [
    "DEFAULT_MAX_RESPONSE_SIZE",
    "check_header_value",
    "check_max_response_size",
    "check_proxy",
    "check_retries",
    "check_timeout",
    "check_token",
    "check_verify",
    "has_control_character",
    "is_socks_proxy",
]

_PROXY_SCHEMES = ("http", "https")
_SOCKS_SCHEMES = ("socks5", "socks5h")


def has_control_character(text: str) -> bool:
    """Whether ``text`` holds a C0 control character (CR, LF, NUL, TAB ...) or DEL."""
    return any(ord(ch) < 0x20 or ch == "\x7f" for ch in text)


def check_header_value(value: Any, field: str) -> str:
    """A non-empty string with no control characters (it goes into a header, a host name or a query)."""
    if not isinstance(value, str) or not value.strip():
        raise ConfigurationError(f"{field} must be a non-empty string", field=field)
    if has_control_character(value):
        raise ConfigurationError(f"{field} must not contain control characters (CR, LF, ...)", field=field)
    return value


def check_token(value: Any, field: str = "access_token") -> str:
    """An access token as sent: a non-empty string with no control characters (ValidationError: nothing sent)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{field} must give a non-empty string", field=field)
    if has_control_character(value.strip()):
        raise ValidationError(f"{field} must not contain control characters (CR, LF, ...)", field=field)
    return value


def check_timeout(value: Any, field: str = "timeout") -> float:
    """A finite number of seconds above zero."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not (math.isfinite(value) and value > 0):
        raise ConfigurationError(f"{field} must be a finite number of seconds above 0, got {value!r}", field=field)
    return float(value)


def check_retries(value: Any, field: str = "retries") -> RetryPolicy:
    """A :class:`RetryPolicy`, or a number of retries (an int >= 0) for the default policy with that count."""
    if isinstance(value, RetryPolicy):
        return value
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigurationError(f"{field} must be a RetryPolicy or a number of retries, got {value!r}", field=field)
    if value < 0:
        raise ConfigurationError(f"{field} must be 0 or more, got {value}", field=field)
    return RetryPolicy(max_retries=value)


def check_max_response_size(value: Any, field: str = "max_response_size") -> int:
    """A positive number of bytes."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigurationError(f"{field} must be a positive number of bytes, got {value!r}", field=field)
    return value


def check_verify(value: Any, field: str = "verify", *, stacklevel: int = 3) -> bool | str | ssl.SSLContext:
    """``True``, ``False`` (warns :class:`InsecureTLSWarning`), an SSLContext, or the path of an existing CA file or
    directory, which is loaded into an SSLContext here."""
    if isinstance(value, bool):
        if not value:
            warnings.warn(
                "verify=False: TLS certificates are not checked; anyone on the network path can read and change "
                "this client's traffic (use a CA bundle path or an ssl.SSLContext instead)",
                InsecureTLSWarning,
                stacklevel=stacklevel,
            )
        return value
    if isinstance(value, ssl.SSLContext):
        return value
    if isinstance(value, str | os.PathLike):
        path = os.fspath(value)
        if not isinstance(path, str) or not path or not os.path.exists(path):
            raise ConfigurationError(f"{field}: no CA bundle file or directory at {value!r}", field=field)
        try:  # built here, once per client (the HTTP core keeps it; a path is never re-read per call)
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            return ssl.create_default_context(cafile=path)
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise ConfigurationError(f"{field}: {path!r} is not a usable CA bundle: {exc}", field=field) from exc
    raise ConfigurationError("verify must be a bool, a CA bundle path or an ssl.SSLContext", field=field)


def _socks_available() -> bool:
    return importlib.util.find_spec("socksio") is not None


def is_socks_proxy(proxy: str | httpx.Proxy | None) -> bool:
    """Whether ``proxy`` (already checked) is a SOCKS proxy (served by httpx's transport, not aiohttp's)."""
    if proxy is None:
        return False
    scheme = proxy.url.scheme if isinstance(proxy, httpx.Proxy) else httpx.URL(proxy).scheme
    return scheme in _SOCKS_SCHEMES


def check_proxy(value: Any, field: str = "proxy") -> str | httpx.Proxy | None:
    """``None``, or an ``http://``/``https://`` proxy URL with a host (``socks5://`` and ``socks5h://`` too when
    ``httpx[socks]`` is installed), as a string or an ``httpx.Proxy``."""
    if value is None:
        return None
    if isinstance(value, httpx.Proxy):
        url = value.url
    elif isinstance(value, str):
        if has_control_character(value) or " " in value.strip():
            raise ConfigurationError(f"{field} must be a proxy URL, got {value!r}", field=field)
        try:
            url = httpx.URL(value.strip())
        except (httpx.InvalidURL, ValueError, TypeError) as exc:
            raise ConfigurationError(f"{field} must be a proxy URL, got {value!r}: {exc}", field=field) from exc
    else:
        raise ConfigurationError("proxy must be a URL string or an httpx.Proxy", field=field)
    scheme = url.scheme
    if scheme in _SOCKS_SCHEMES:
        if not _socks_available():
            raise ConfigurationError(
                f"{field}: a {scheme} proxy needs the socksio package (pip install 'httpx[socks]')", field=field
            )
    elif scheme not in _PROXY_SCHEMES:
        raise ConfigurationError(
            f"{field} must be an http://, https:// or socks5:// URL, got {str(value)!r}", field=field
        )
    if not url.host:
        raise ConfigurationError(f"{field} must name the proxy host, got {str(value)!r}", field=field)
    return value.strip() if isinstance(value, str) else value
