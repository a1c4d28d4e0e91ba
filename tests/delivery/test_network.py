"""Network settings over real sockets: TLS verification (`verify`), proxies, and the CA bundle read once."""

from __future__ import annotations

import ssl
from collections.abc import Iterator

import pytest
import trustme
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from target_async import ChannelType, ConnectError, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.delivery import AsyncTargetClient
from target_async.testing import serve

hosts_seen: list[str] = []


async def delivery(request: Request) -> JSONResponse:
    hosts_seen.append(request.headers["host"])
    body = await request.json()
    return JSONResponse({"status": 200, "requestId": body["requestId"], "edgeHost": "localhost", "id": {"tntId": "t"}})


app = Starlette(routes=[Route("/rest/v1/delivery", delivery, methods=["POST"])])
proxied: list[tuple[str, str]] = []


async def forward_proxy(scope, receive, send) -> None:
    """A stand-in HTTP proxy: answers absolute-form requests itself and records what it was asked for."""
    if scope["type"] != "http":
        return
    headers = dict(scope["headers"])
    proxied.append((scope["raw_path"].decode(), headers[b"host"].decode()))
    while (await receive()).get("more_body"):
        pass
    body = b'{"status": 200, "requestId": "r", "edgeHost": "localhost"}'
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture(scope="module")
def tls_server(ca: trustme.CA, tmp_path_factory) -> Iterator[str]:
    cert = ca.issue_cert("127.0.0.1", "localhost")
    folder = tmp_path_factory.mktemp("tls")
    key_path, cert_path = folder / "key.pem", folder / "cert.pem"
    cert.private_key_pem.write_to_path(str(key_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    with serve(app, ssl_keyfile=str(key_path), ssl_certfile=str(cert_path)) as url:
        yield url.removeprefix("https://")


@pytest.fixture(scope="module")
def proxy_server() -> Iterator[str]:
    with serve(forward_proxy) as url:
        yield url.removeprefix("http://")


def request() -> DeliveryRequest:
    return DeliveryRequest(
        context=Context(channel=ChannelType.WEB), execute=ExecuteRequest(mboxes=[MboxRequest(name="m", index=0)])
    )


async def test_verify_with_ssl_context(ca: trustme.CA, tls_server: str):
    context = ssl.create_default_context()
    ca.configure_trust(context)
    async with AsyncTargetClient(client="c", organization_id="o", server_domain=tls_server, verify=context) as client:
        result = await client.get_offers(request=request())
    assert result.response.status == 200


async def test_default_verify_refuses_an_unknown_ca(tls_server: str):
    async with AsyncTargetClient(client="c", organization_id="o", server_domain=tls_server, retries=0) as client:
        with pytest.raises(ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
            await client.get_offers(request=request())


async def test_verify_with_ca_bundle_path(ca: trustme.CA, tls_server: str, tmp_path):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    async with AsyncTargetClient.from_options(
        {"client": "c", "organization_id": "o", "server_domain": tls_server, "verify": str(bundle)}
    ) as client:
        assert (await client.get_offers(request=request())).response.status == 200


async def test_ca_bundle_is_read_once_per_client(ca: trustme.CA, tls_server: str, tmp_path, monkeypatch):
    bundle = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(bundle))
    loads = 0
    original = ssl.SSLContext.load_verify_locations

    def counting(self, *args, **kwargs):
        nonlocal loads
        loads += 1
        return original(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    async with AsyncTargetClient(
        client="c", organization_id="o", server_domain=tls_server, verify=str(bundle)
    ) as client:
        for _ in range(5):
            await client.get_offers(request=request())
    assert loads == 1  # the official SDK re-parses certifi's bundle on every call


async def test_proxy_is_used(proxy_server: str):
    proxied.clear()
    # acmeclient.tt.omtrdc.net is never resolved: the request can only succeed through the proxy
    async with AsyncTargetClient(
        client="acmeclient", organization_id="o", secure=False, proxy=f"http://{proxy_server}"
    ) as client:
        result = await client.get_offers(request=request(), session_id="s1")
    assert result.response.status == 200
    assert len(proxied) == 1
    target, host = proxied[0]
    assert target == "http://acmeclient.tt.omtrdc.net/rest/v1/delivery"
    assert host == "acmeclient.tt.omtrdc.net"


async def test_http2_opt_in_uses_httpx_transport_with_http2():
    pytest.importorskip("h2", reason="HTTP/2 needs the http2 extra (h2)")
    async with AsyncTargetClient(client="c", organization_id="o", http2=True) as client:
        pool = client._http.exchange.transport._pool  # type: ignore[attr-defined]
        assert pool._http2 is True


async def test_default_asyncio_transport_is_not_http2():
    async with AsyncTargetClient(client="c", organization_id="o") as client:
        assert type(client._http.exchange).__name__ == "AiohttpExchange"
