"""An aiohttp web service that decides an mbox per request with ONE shared ``AsyncTargetClient``.

A cleanup context creates the client at startup and closes it at cleanup. Each request forwards the visitor's
``mbox`` (and ``mboxEdgeCluster``) cookie to Target and sets the cookies Target returns, so the visitor keeps
their session and tntId. Run it, then ``curl -i localhost:8080/offers/hero``::

    python examples/aiohttp_service.py [--url URL] [--port 8080]

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback (``fixtures.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import web

from target_async import AsyncTargetClient, ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.emulator import create_app as create_emulator
from target_async.models import Address
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

FIXTURES = Path(__file__).with_name("fixtures.json")  # the embedded emulator's A/B mbox "hero"
TARGET = web.AppKey("target", AsyncTargetClient)


async def offers(request: web.Request) -> web.Response:
    mbox = request.match_info["mbox"]
    address = Address(url=str(request.url))
    context = Context(channel=ChannelType.WEB, address=address, user_agent=request.headers.get("User-Agent"))
    result = await request.app[TARGET].get_offers(
        request=DeliveryRequest(context=context, execute=ExecuteRequest(mboxes=[MboxRequest(name=mbox, index=0)])),
        target_cookie=request.cookies.get("mbox"),
        target_location_hint=request.cookies.get("mboxEdgeCluster"),
    )
    mboxes = result.response.execute.mboxes if result.response.execute else None
    content = [option.content for item in mboxes or [] for option in item.options or []]
    tnt_id = result.response.id.tnt_id if result.response.id else None
    response = web.json_response({"mbox": mbox, "content": content, "tntId": tnt_id})
    for cookie in (result.target_cookie, result.target_location_hint_cookie):
        if cookie is not None:
            response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path="/")
    return response


def create_app(target_base_url: str | None = None) -> web.Application:
    """The service, talking to Target at ``target_base_url`` (default: see the module docstring)."""

    async def target_client(app: web.Application) -> AsyncIterator[None]:
        with contextlib.ExitStack() as emulator:
            url = target_base_url or os.environ.get("TARGET_EMULATOR_URL")
            if not url:  # no Target given: embed an emulator on loopback (stopped at cleanup)
                url = emulator.enter_context(serve(create_emulator(fixtures=FIXTURES)))
            parts = urlsplit(url)
            async with AsyncTargetClient(
                client=EMULATOR_CLIENT,
                organization_id=EMULATOR_ORG_ID,
                server_domain=parts.netloc,
                secure=parts.scheme == "https",
            ) as client:
                app[TARGET] = client
                yield  # the app serves requests here; the client is closed at cleanup

    app = web.Application()
    app.cleanup_ctx.append(target_client)
    app.router.add_get("/offers/{mbox}", offers)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Target/emulator base URL (default: $TARGET_EMULATOR_URL, else embedded)")
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    web.run_app(create_app(args.url), host="127.0.0.1", port=args.port)
