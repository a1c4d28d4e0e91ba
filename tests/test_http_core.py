"""The HTTP core's shortcuts give exactly what httpx's own request building (and transport) gives."""

from __future__ import annotations

import asyncio
import os
import uuid

import httpx
import pytest
from hypothesis import given, settings, strategies as st

from target_async import _http
from target_async._answer import Answer
from target_async._ids import request_id, session_id
from target_async._retry import DEFAULT_RETRIES

from .test_aiohttp_transport import read_request

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=20)
params = st.lists(st.tuples(text.filter(bool), text), max_size=6)


def test_no_private_httpx_internals() -> None:
    """The core builds URLs and requests through httpx's public API only (issue #11: no ``_FAST_QUERY``)."""
    from pathlib import Path

    import target_async

    package = Path(target_async.__file__).parent
    for name in ("_http.py", "_exchange.py", "_aiohttp.py", "_answer.py"):
        source = (package / name).read_text()
        assert "_uri_reference" not in source and "_FAST_QUERY" not in source, name


_CLIENT = httpx.Client()  # one for every example: building a client loads a trust store (tens of ms)


def _grouped(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # httpx groups a repeated key's values together; the SDK keeps the caller's order (and always sends a
    # repeated key's values together), so compare on lists where they already are.
    first = {key: i for i, (key, _) in reversed(list(enumerate(items)))}
    return sorted(items, key=lambda item: first[item[0]])


@settings(deadline=None)
@given(params.map(_grouped))
def test_url_text_equals_httpx_build_request(items: list[tuple[str, str]]) -> None:
    """Every exchange sends the URL text httpx's own request building would have sent."""
    core = _http.HTTPCore(timeout=1.0, retries=DEFAULT_RETRIES)
    base = "https://acme.tt.omtrdc.net/rest/v1/delivery"
    theirs = _CLIENT.build_request("POST", base, params=items)
    assert core._url(base, items) == str(theirs.url)
    assert httpx.URL(core._url(base, items)) == theirs.url


@settings(deadline=None)
@given(params.filter(bool))
def test_params_on_a_url_with_a_query_give_what_httpx_gives(items: list[tuple[str, str]]) -> None:
    core = _http.HTTPCore(timeout=1.0, retries=DEFAULT_RETRIES)
    base = "https://acme.tt.omtrdc.net/x?a=1&b=%20"
    assert core._url(base, items) == str(_CLIENT.build_request("GET", base, params=items).url)


def test_url_text_normalises_the_base_as_httpx_does() -> None:
    core = _http.HTTPCore(timeout=1.0, retries=DEFAULT_RETRIES)
    base = "https://Bücher.example/a b/ü?x=1"
    assert core._url(base, None) == str(httpx.URL(base))
    assert core._url(httpx.URL(base), None) == str(httpx.URL(base))


async def _capture() -> tuple[str, list[bytes], asyncio.Server]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await read_request(reader))
        body = b'{"ok": true}'
        writer.write(b'HTTP/1.1 201 Created\r\nETag: "7"\r\nSet-Cookie: a=1\r\nSet-Cookie: b=2\r\n')
        writer.write(b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}", seen, server


def _wire(raw: bytes) -> tuple[str, dict[str, str], bytes]:
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    return lines[0], headers, body


async def test_both_exchanges_put_the_same_request_on_the_wire_and_read_the_same_answer() -> None:
    """The default core (aiohttp exchange, no httpx objects) and a core on the httpx exchange agree byte for byte
    on what matters: request line (path and encoded query), the SDK's headers, the body; and on the answer."""
    base, seen, server = await _capture()
    params = [("imsOrgId", "o@AdobeOrg"), ("sessionId", "a b/c~d+é"), ("x", "1"), ("x", "2")]
    headers = {"X-Request-Id": "r-1", "If-Match": '"3"'}
    answers = []
    try:
        for transport in (None, httpx.AsyncHTTPTransport()):
            core = _http.HTTPCore(
                timeout=5.0, retries=DEFAULT_RETRIES, transport=transport, headers={"X-EXC-SDK": "TargetAsyncPython"}
            )
            try:
                url = base + "/rest/v1/delivery"
                answer = await core.send("POST", url, idempotent=False, params=params, headers=headers, content=b"{}")
                answers.append(answer)
                expected = "AiohttpExchange" if transport is None else "HttpxExchange"
                assert type(core.exchange).__name__ == expected
            finally:
                await core.aclose()
    finally:
        server.close()
        await server.wait_closed()
    (line_a, head_a, body_a), (line_b, head_b, body_b) = (_wire(raw) for raw in seen)
    query = "imsOrgId=o%40AdobeOrg&sessionId=a+b%2Fc~d%2B%C3%A9&x=1&x=2"
    assert line_a == line_b == f"POST /rest/v1/delivery?{query} HTTP/1.1"
    for name in ("x-exc-sdk", "x-request-id", "if-match", "content-length", "host"):
        assert head_a[name] == head_b[name], name
    assert body_a == body_b == b"{}"
    fast, portable = answers
    assert fast.status_code == portable.status_code == 201
    assert fast.headers == portable.headers
    assert fast.headers["etag"] == '"7"' and fast.headers["set-cookie"] == "a=1, b=2"
    assert fast.content == portable.content == b'{"ok": true}'
    assert fast.url == portable.url and fast.reason_phrase == portable.reason_phrase == "Created"


def test_answer_text_follows_the_charset() -> None:
    latin = Answer(200, {"content-type": "text/plain; charset=ISO-8859-1"}, "é".encode("latin-1"), "u")
    assert latin.text == "é"
    assert Answer(200, {}, "é".encode(), "u").text == "é"
    assert Answer(200, {"content-type": "text/plain; charset=nope"}, b"ok", "u").text == "ok"
    assert Answer(200, {}, b"\xff", "u").text == "\ufffd"


def test_session_and_request_ids_are_version_4_uuids() -> None:
    for make in (session_id, request_id):
        ids = {make() for _ in range(1000)}
        assert len(ids) == 1000
        for text in list(ids)[:50]:
            parsed = uuid.UUID(text)
            assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs os.fork")
def test_a_forked_child_never_hands_out_its_parents_session_ids() -> None:
    session_id()  # the parent has OS randomness buffered now
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report its next ids, then leave without running the parent's cleanup
        try:
            os.write(write_end, ",".join(session_id() for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end) as pipe:
        child_ids = set(pipe.read().split(","))
    os.waitpid(pid, 0)
    parent_ids = {session_id() for _ in range(5)}
    assert len(child_ids) == 5 and not child_ids & parent_ids
