"""A FastAPI service that decides an mbox per request with ONE shared ``AsyncTargetClient``.

The client (and its connection pool) is created in the app's lifespan and closed at shutdown. Each request
forwards the visitor's ``mbox`` (and ``mboxEdgeCluster``) cookie to Target and sets the cookies Target returns,
so the visitor keeps their session and tntId. Run it, then ``curl -i localhost:8000/offers/hero``::

    python examples/fastapi_service.py [--url URL] [--port 8000]     # or: uvicorn examples.fastapi_service:app

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback (``fixtures.json``).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request, Response

from target_async import AsyncTargetClient, ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.emulator import create_app as create_emulator
from target_async.models import Address
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

FIXTURES = Path(__file__).with_name("fixtures.json")  # the embedded emulator's A/B mbox "hero"


def create_app(target_base_url: str | None = None) -> FastAPI:
    """The service, talking to Target at ``target_base_url`` (default: see the module docstring)."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with contextlib.ExitStack() as emulator:
            url = target_base_url or os.environ.get("TARGET_EMULATOR_URL")
            if not url:  # no Target given: embed an emulator on loopback (stopped at shutdown)
                url = emulator.enter_context(serve(create_emulator(fixtures=FIXTURES)))
            parts = urlsplit(url)
            async with AsyncTargetClient(
                client=EMULATOR_CLIENT,
                organization_id=EMULATOR_ORG_ID,
                server_domain=parts.netloc,
                secure=parts.scheme == "https",
            ) as client:
                app.state.target = client
                yield  # the app serves requests here; the client is closed at shutdown

    app = FastAPI(lifespan=lifespan)

    @app.get("/offers/{mbox}")
    async def offers(mbox: str, request: Request, response: Response) -> dict[str, object]:
        address = Address(url=str(request.url))
        context = Context(channel=ChannelType.WEB, address=address, user_agent=request.headers.get("user-agent"))
        target: AsyncTargetClient = request.app.state.target
        result = await target.get_offers(
            request=DeliveryRequest(context=context, execute=ExecuteRequest(mboxes=[MboxRequest(name=mbox, index=0)])),
            target_cookie=request.cookies.get("mbox"),
            target_location_hint=request.cookies.get("mboxEdgeCluster"),
        )
        for cookie in (result.target_cookie, result.target_location_hint_cookie):
            if cookie is not None:
                response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path="/")
        mboxes = result.response.execute.mboxes if result.response.execute else None
        content = [option.content for item in mboxes or [] for option in item.options or []]
        return {"mbox": mbox, "content": content, "tntId": result.response.id.tnt_id if result.response.id else None}

    return app


app = create_app()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Target/emulator base URL (default: $TARGET_EMULATOR_URL, else embedded)")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(create_app(args.url), host="127.0.0.1", port=args.port)
