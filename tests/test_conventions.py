"""Client conventions users bring from openai-python, anthropic-sdk-python and httpx (issue #14, item 2), over
real loopback HTTP: default_headers, per-call timeout, with_options, with_raw_response, base_url, trust_env
(proxies, NO_PROXY, SSL_CERT_FILE) and TARGET_ASYNC_LOG."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import anyio
import attrs
import pytest
import trustme

from target_async import (
    AsyncRepositoryClient,
    AsyncTargetClient,
    ClientClosedError,
    ConfigurationError,
    ConnectError,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    RequestTimeoutError,
    ServerError,
    VisitorId,
    _env,
)
from target_async._env import EnvProxies, EnvProxyTransport
from target_async.testing import serve

ORG = "0123456789ABCDEF01234567@AdobeOrg"


@attrs.define
class Seen:
    method: str
    target: str  # the request target (absolute-form through a proxy)
    host: str
    headers: list[tuple[str, str]]


@attrs.define
class Server:
    """What the stand-in API answers, and what it saw."""

    seen: list[Seen] = attrs.Factory(list)
    delay: float = 0.0
    statuses: list[int] = attrs.Factory(list)  # popped per request; 200 when empty
    edge_host: str = "mboxedge35.tt.omtrdc.net"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        headers = [(k.decode(), v.decode()) for k, v in scope["headers"]]
        target = scope["raw_path"].decode()
        host = dict(headers).get("host", "")
        self.seen.append(Seen(scope["method"], target, host, headers))
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if self.delay:
            await asyncio.sleep(self.delay)
        status = self.statuses.pop(0) if self.statuses else 200
        if "/rest/v1/delivery" in target:
            payload: Any = {"status": 200, "requestId": "r", "edgeHost": self.edge_host, "id": {"tntId": "t"}}
        else:
            payload = {"_embedded": {"xcore:container": []}, "_links": {}}
        out = json.dumps(payload).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json"), (b"x-request-id", b"server-rid-1")],
            }
        )
        await send({"type": "http.response.body", "body": out})


@pytest.fixture(scope="module")
def _api_server() -> Iterator[tuple[Server, str]]:
    state = Server()
    with serve(state) as url:
        yield state, url


@pytest.fixture
def api(_api_server: tuple[Server, str]) -> tuple[Server, str]:
    state, url = _api_server
    state.seen.clear()
    state.statuses.clear()
    state.delay = 0.0
    state.edge_host = "mboxedge35.tt.omtrdc.net"
    return state, url


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def request() -> DeliveryRequest:
    return DeliveryRequest(execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)]))


def delivery(url: str, **kwargs: Any) -> AsyncTargetClient:
    kwargs.setdefault("base_url", url)
    return AsyncTargetClient(client="acme", organization_id=ORG, **kwargs)


def repository(url: str, **kwargs: Any) -> AsyncRepositoryClient:
    return AsyncRepositoryClient(
        access_token="tok", api_key="key", org_id=ORG, sandbox_name="prod", base_url=url + "/", **kwargs
    )


# -- default_headers ---------------------------------------------------------------------------------------------


async def test_default_headers_go_out_on_every_request_after_the_sdks_own(api) -> None:
    state, url = api
    async with delivery(url, default_headers={"X-Tenant": "blue"}) as client:
        await client.get_offers(request=request())
        await client.send_notifications(request={"notifications": [{"id": "n", "type": "display", "timestamp": 1}]})
    for seen in state.seen:
        names = [k.lower() for k, _ in seen.headers]
        assert dict(seen.headers)["x-tenant"] == "blue"
        assert names.index("x-tenant") > names.index("x-exc-sdk")
    async with repository(url, default_headers={"X-Tenant": "green"}) as repo:
        await repo.list_containers()
    assert dict(state.seen[-1].headers)["x-tenant"] == "green"
    assert dict(state.seen[-1].headers)["x-api-key"] == "key"


@pytest.mark.parametrize(
    ("headers", "match"),
    [
        ({"X-EXC-SDK": "mine"}, "sets X-EXC-SDK itself"),
        ({"user-agent": "mine"}, "sets user-agent itself"),
        ({"X-Request-Id": "r"}, "sets X-Request-Id itself"),
        ({"X-Ok": "a\r\nX-Injected: 1"}, "control characters"),
        ({"Bad Name": "v"}, "not a valid header name"),
        (["X-A", "b"], "mapping"),
    ],
)
def test_default_headers_refuse_the_sdks_names_and_cr_lf(headers: Any, match: str) -> None:
    with pytest.raises(ConfigurationError, match=match):
        AsyncTargetClient(client="acme", organization_id=ORG, default_headers=headers)


def test_repository_default_headers_refuse_its_identity_headers() -> None:
    with pytest.raises(ConfigurationError, match="sets Authorization itself") as info:
        repository("http://127.0.0.1:1", default_headers={"Authorization": "Bearer other"})
    assert info.value.field == "default_headers['Authorization']"
    with pytest.raises(ConfigurationError, match="sets x-sandbox-name"):
        repository("http://127.0.0.1:1", default_headers={"x-sandbox-name": "dev"})


# -- per-call timeout ----------------------------------------------------------------------------------------------


async def test_a_call_timeout_shorter_than_the_clients_ends_the_call(api) -> None:
    state, url = api
    state.delay = 1.0
    async with delivery(url, timeout=5.0, retries=0) as client:
        started = time.monotonic()
        with pytest.raises(RequestTimeoutError):
            await client.get_offers(request=request(), timeout=0.2)
        assert time.monotonic() - started < 0.9


async def test_a_call_timeout_longer_than_the_clients_bounds_each_attempt_too(api) -> None:
    state, url = api
    state.delay = 0.4  # longer than the client's 0.2 s socket timeouts
    async with delivery(url, timeout=0.2, retries=0) as client:
        result = await client.get_offers(request=request(), timeout=3.0)
    assert result.response.status == 200
    async with repository(url, timeout=0.2, retries=0) as repo:
        assert await repo.list_containers(timeout=3.0) == []
        with pytest.raises(RequestTimeoutError):
            await repo.list_containers()


def test_call_timeout_is_checked() -> None:
    client = AsyncTargetClient(client="acme", organization_id=ORG)
    with pytest.raises(ConfigurationError, match="timeout"):
        asyncio.run(client.get_offers(request=request(), timeout=-1))


# -- with_options ----------------------------------------------------------------------------------------------------


async def test_with_options_shares_the_pool_and_the_routing(api) -> None:
    state, url = api
    async with AsyncTargetClient(client="acme", organization_id=ORG, server_domain=url[7:], secure=False) as client:
        fast = client.with_options(timeout=0.5, headers={"X-Call": "1"})
        assert fast._http is client._http and fast._router is client._router and fast._local is client._local
        assert fast.timeout == 0.5 and client.timeout == 3.0
        state.edge_host = "localhost"
        await client.get_offers(request=request())
        assert "x-call" not in dict(state.seen[-1].headers)
        await fast.get_offers(request=request())
        assert dict(state.seen[-1].headers)["x-call"] == "1"
        state.delay = 0.8
        with pytest.raises(RequestTimeoutError):
            await fast.get_offers(request=request())
        state.delay = 0
        await fast.aclose()  # retires the copy only: the original owns the pool
        assert fast.closed and not client.closed
        with pytest.raises(ClientClosedError):
            await fast.get_offers(request=request())
        await client.get_offers(request=request())
        other = client.with_options(retries=0)
    assert other.closed
    with pytest.raises(ClientClosedError, match="with_options"):
        await other.get_offers(request=request())


async def test_with_options_retries_and_headers_on_the_repository(api) -> None:
    state, url = api
    async with repository(url, retries=2, default_headers={"X-A": "1"}) as repo:  # no backoff: tests/conftest.py
        state.statuses = [503, 503, 503]
        no_retry = repo.with_options(retries=0, headers={"X-B": "2"})
        with pytest.raises(ServerError):
            await no_retry.list_containers()
        assert len(state.seen) == 1
        headers = dict(state.seen[0].headers)
        assert headers["x-a"] == "1" and headers["x-b"] == "2"
        state.statuses.clear()
        await no_retry.with_options(headers={"x-a": "3"}).list_containers()  # replaces the default, once
        assert [v for k, v in state.seen[1].headers if k == "x-a"] == ["3"]
        assert dict(state.seen[1].headers)["x-b"] == "2"
        del state.seen[1]
        state.statuses = [503, 503]
        assert await repo.list_containers() == []  # the original still retries twice
        assert len(state.seen) == 4


async def test_a_copy_used_first_opens_the_original() -> None:
    client = AsyncTargetClient(client="acme", organization_id=ORG)
    copy = client.with_options(timeout=1)
    copy._check_open()
    assert not client.closed and client._state.name == "OPENED"
    await client.aclose()
    assert copy.closed


# -- raw responses -----------------------------------------------------------------------------------------------------


async def test_with_raw_response_gives_status_headers_and_request_id(api) -> None:
    state, url = api
    async with delivery(url) as client:
        raw = await client.with_raw_response.get_offers(request=request(), session_id="s")
        assert raw.status_code == 200
        assert raw.headers["content-type"] == "application/json"
        assert raw.request_id == "server-rid-1"
        assert raw.url is not None and raw.url.startswith(url + "/rest/v1/delivery?")
        result = raw.parse()
        assert result.response.status == 200 and result.meta.decisioning_method == "server-side"
        attributes = await client.with_raw_response.get_attributes(["m"], request=request())
        assert attributes.status_code == 200 and attributes.parse().as_object() == {}
    async with repository(url) as repo:
        containers = await repo.with_raw_response.list_containers()
        assert containers.status_code == 200 and containers.parse() == []
        assert containers.http_requests == 1


async def test_raw_responses_of_concurrent_calls_do_not_mix(api) -> None:
    state, url = api
    async with delivery(url) as client:
        raws = await asyncio.gather(*(client.with_raw_response.get_offers(request=request()) for _ in range(5)))
    assert [r.http_requests for r in raws] == [1] * 5


async def test_an_on_device_decision_has_no_http_answer() -> None:
    from tests.delivery.ondevice_server import fixture

    async with AsyncTargetClient(
        client="someClientId",
        organization_id=ORG,
        decisioning_method="on-device",
        artifact_payload=fixture("TEST_ARTIFACT_AB_SIMPLE"),
        polling_interval=0,
        telemetry_enabled=False,
    ) as client:
        await client.wait_until_ready(timeout=5)
        raw = await client.with_raw_response.get_offers(
            request=DeliveryRequest(
                id=VisitorId(tnt_id="338e3c1e51f7416a8e1ccba4f81acea0.28_0"),
                prefetch=PrefetchRequest(mboxes=[MboxRequest(name="mbox-magician", index=1)]),
            )
        )
    assert raw.status_code is None and raw.headers == {} and raw.request_id is None and raw.http_requests == 0
    assert raw.parse().meta.decisioning_method == "on-device"


# -- base_url --------------------------------------------------------------------------------------------------------


async def test_base_url_receives_every_call_even_once_a_cluster_is_known(api) -> None:
    state, url = api
    async with delivery(url + "/") as client:
        assert client.base_url == url
        first = await client.get_offers(request=request())
        assert client.target_location_hint == "35"  # learned from edgeHost, for the cookie
        assert first.target_location_hint_cookie is not None
        await client.get_offers(request=request())
        await client.get_offers(request=request(), target_location_hint="34")
    assert len(state.seen) == 3
    assert all(s.target.startswith("/rest/v1/delivery") and s.host == url[7:] for s in state.seen)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"base_url": "https://acme.tt.omtrdc.net/rest/v1/delivery"}, "Delivery path is fixed"),
        ({"base_url": "ftp://acme.tt.omtrdc.net"}, "http"),
        ({"base_url": "acme.tt.omtrdc.net"}, "http"),
        ({"base_url": "https://user@acme.tt.omtrdc.net"}, "no user"),
        ({"base_url": "https://acme.tt.omtrdc.net?x=1"}, "Delivery path is fixed|no user"),
        ({"base_url": "https://a.example", "server_domain": "b.example"}, "not both"),
        ({"base_url": "https://a.example", "secure": False}, "not both"),
    ],
)
def test_base_url_is_checked(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigurationError, match=match) as info:
        AsyncTargetClient(client="acme", organization_id=ORG, **kwargs)
    assert info.value.field == "base_url"


def test_base_url_in_the_create_dict() -> None:
    client = AsyncTargetClient.from_options(
        {"client": "acme", "organization_id": ORG, "base_url": "http://127.0.0.1:9", "trust_env": False}
    )
    assert client.base_url == "http://127.0.0.1:9" and client.trust_env is False


# -- trust_env -----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def _proxy_server() -> Iterator[tuple[Server, str]]:
    state = Server()
    with serve(state) as url:
        yield state, url


@pytest.fixture
def proxy(_proxy_server: tuple[Server, str]) -> tuple[Server, str]:
    _proxy_server[0].seen.clear()
    return _proxy_server


@pytest.mark.parametrize("backend", ["asyncio", "trio"])  # aiohttp's pool, httpx's transport
def test_proxy_from_the_environment_and_no_proxy(api, proxy, monkeypatch, backend: str) -> None:
    api_state, api_url = api
    proxy_state, proxy_url = proxy
    monkeypatch.setenv("HTTP_PROXY", proxy_url)
    monkeypatch.setenv("NO_PROXY", "localhost,.example.org")

    async def main() -> None:
        # acme.tt.omtrdc.net is never resolved: the call can only succeed through the proxy
        async with AsyncTargetClient(client="acme", organization_id=ORG, secure=False, retries=0) as client:
            await client.get_offers(request=request())
        async with AsyncTargetClient(
            client="acme", organization_id=ORG, server_domain=f"localhost:{api_url.rsplit(':', 1)[1]}", secure=False
        ) as client:
            await client.get_offers(request=request())  # NO_PROXY: direct

    anyio.run(main, backend=backend)
    assert len(proxy_state.seen) == 1
    assert proxy_state.seen[0].target == "http://acme.tt.omtrdc.net/rest/v1/delivery"
    assert proxy_state.seen[0].host == "acme.tt.omtrdc.net"
    assert len(api_state.seen) == 1 and api_state.seen[0].target.startswith("/rest/v1/delivery")


def test_proxy_environment_is_read_like_httpx(monkeypatch) -> None:
    env = {
        "HTTPS_PROXY": "proxy.corp:3128",
        "ALL_PROXY": "http://all.corp:8080",
        "NO_PROXY": "example.com,.svc, 10.0.0.1,http://plain.io,h.io:8443",
    }
    proxies = EnvProxies.from_environ(env)
    assert proxies is not None
    assert str(proxies.proxy_for("https://acme.tt.omtrdc.net/x").url) == "http://proxy.corp:3128"
    assert str(proxies.proxy_for("http://acme.tt.omtrdc.net/x").url) == "http://all.corp:8080"
    for direct in (
        "https://example.com",
        "https://a.example.com",
        "https://a.svc",
        "http://10.0.0.1",
        "http://plain.io",
        "https://h.io:8443",
    ):
        assert proxies.proxy_for(direct) is None, direct
    for proxied in ("https://notexample.com", "https://svc", "https://plain.io", "https://h.io"):
        assert proxies.proxy_for(proxied) is not None, proxied
    assert EnvProxies.from_environ({"HTTP_PROXY": "http://p:1", "NO_PROXY": "*"}) is None
    assert EnvProxies.from_environ({}) is None
    assert (
        EnvProxies.from_environ({"http_proxy": "http://lower:1", "HTTP_PROXY": "http://upper:1"})
        .proxies["http"]
        .url.host
        == "lower"
    )  # type: ignore[union-attr]
    with pytest.raises(ConfigurationError, match="HTTPS_PROXY") as info:
        EnvProxies.from_environ({"HTTPS_PROXY": "ftp://nope"})
    assert info.value.field == "HTTPS_PROXY"


def test_an_explicit_proxy_or_trust_env_false_ignores_the_environment(monkeypatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://env.proxy:1")
    assert AsyncTargetClient(client="acme", organization_id=ORG)._http._env_proxies is not None
    assert AsyncTargetClient(client="acme", organization_id=ORG, trust_env=False)._http._env_proxies is None
    explicit = AsyncTargetClient(client="acme", organization_id=ORG, proxy="http://mine:1")
    assert explicit._http._env_proxies is None
    with pytest.raises(ConfigurationError, match="trust_env must be a bool"):
        AsyncTargetClient(client="acme", organization_id=ORG, trust_env="no")


async def test_env_proxy_transport_chooses_per_request(api, proxy) -> None:
    _, api_url = api
    proxy_state, proxy_url = proxy
    env = EnvProxies.from_environ({"HTTP_PROXY": proxy_url, "NO_PROXY": "127.0.0.1"})
    assert env is not None
    import httpx

    transport = EnvProxyTransport(env)
    async with httpx.AsyncClient(transport=transport) as http:
        assert (await http.post(api_url + "/rest/v1/delivery", json={})).status_code == 200  # direct
        assert (await http.post("http://far.example/rest/v1/delivery", json={})).status_code == 200
    assert [s.target for s in proxy_state.seen] == ["http://far.example/rest/v1/delivery"]


@pytest.fixture(scope="module")
def tls_api(tmp_path_factory) -> Iterator[tuple[str, str]]:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("conventions-tls")
    key_path, cert_path, bundle = folder / "key.pem", folder / "cert.pem", folder / "ca.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    ca.cert_pem.write_to_path(str(bundle))
    with serve(Server(), ssl_keyfile=str(key_path), ssl_certfile=str(cert_path)) as url:
        yield url, str(bundle)


@pytest.mark.parametrize("backend", ["asyncio", "trio"])
def test_ssl_cert_file_is_the_trust_store_unless_trust_env_is_false(tls_api, monkeypatch, backend: str) -> None:
    url, bundle = tls_api
    monkeypatch.setenv("SSL_CERT_FILE", bundle)

    async def main() -> None:
        async with delivery(url, retries=0) as client:
            assert (await client.get_offers(request=request())).response.status == 200
        async with delivery(url, retries=0, trust_env=False) as client:  # certifi: the test CA is unknown
            with pytest.raises(ConnectError) as info:
                await client.get_offers(request=request())
            if backend == "asyncio":  # httpx's message under trio is empty
                assert "CERTIFICATE_VERIFY_FAILED" in str(info.value)

    anyio.run(main, backend=backend)


def test_a_missing_ssl_cert_file_is_named(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    with pytest.raises(ConfigurationError, match="SSL_CERT_FILE") as info:
        AsyncTargetClient(client="acme", organization_id=ORG)
    assert info.value.field == "SSL_CERT_FILE"
    AsyncTargetClient(client="acme", organization_id=ORG, trust_env=False)  # not read


# -- TARGET_ASYNC_LOG ----------------------------------------------------------------------------------------------


def test_target_async_log_env_configures_the_logger_once(api) -> None:
    _, url = api
    script = f"""
import asyncio, logging
from target_async import AsyncTargetClient
async def main():
    for _ in range(2):
        async with AsyncTargetClient(client="acme", organization_id="{ORG}", base_url="{url}") as client:
            await client.get_offers(request={{"execute": {{"mboxes": [{{"name": "m", "index": 0}}]}}}})
    logger = logging.getLogger("target_async")
    print(logger.level, len(logger.handlers))
asyncio.run(main())
"""
    env = {**os.environ, "TARGET_ASYNC_LOG": "debug"}
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [str(logging.DEBUG), "1"]
    assert "POST http://127.0.0.1" in done.stderr and "-> 200" in done.stderr


def test_target_async_log_values(monkeypatch) -> None:
    logger = logging.getLogger("target_async")
    monkeypatch.setattr(_env, "_configured", False)
    assert _env.configure_logging({}) is None
    handler = _env.configure_logging({"TARGET_ASYNC_LOG": "INFO"})
    try:
        assert handler is not None and logger.level == logging.INFO
        assert _env.configure_logging({"TARGET_ASYNC_LOG": "debug"}) is None  # once per process
    finally:
        logger.removeHandler(handler)  # type: ignore[arg-type]
        logger.setLevel(logging.NOTSET)


def test_the_blocking_repository_client_has_raw_responses_and_call_timeouts(api) -> None:
    from target_async import RepositoryClient

    state, url = api
    with RepositoryClient(access_token="tok", api_key="key", org_id=ORG, sandbox_name="p", base_url=url + "/") as repo:
        raw = repo.with_raw_response.list_containers(timeout=2)
        assert raw.status_code == 200 and raw.request_id == "server-rid-1" and raw.parse() == []
        state.delay = 0.5
        with pytest.raises(RequestTimeoutError):
            repo.list_containers(timeout=0.2)


def test_the_blocking_delivery_client_takes_the_new_options_in_its_create_dict(api) -> None:
    from target_async import TargetClient

    state, url = api
    client = TargetClient.create(
        {"client": "acme", "organization_id": ORG, "base_url": url, "default_headers": {"X-Tenant": "sync"}}
    )
    try:
        result = client.get_offers({"request": {"execute": {"mboxes": [{"name": "m", "index": 0}]}}})
    finally:
        client.close()
    assert result.response.status == 200
    assert dict(state.seen[-1].headers)["x-tenant"] == "sync"


async def test_list_and_search_take_a_timeout_for_each_page(api) -> None:
    from target_async import Schema

    state, url = api
    state.delay = 0.6
    async with repository(url, retries=0) as repo:
        with pytest.raises(RequestTimeoutError):
            await repo.list_instances("c1", Schema.TAG, timeout=0.2).to_list()
        with pytest.raises(RequestTimeoutError):
            await repo.search_instances("c1", Schema.TAG, "cards", timeout=0.2).first_page()
        with pytest.raises(ConfigurationError):
            repo.list_instances("c1", Schema.TAG, timeout=0)
