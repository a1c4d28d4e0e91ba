"""A FastAPI service deciding ON-DEVICE: no call to Target per request, the rules artifact polled in the background.

The app's lifespan creates ONE ``AsyncTargetClient`` with ``decisioning_method="on-device"``: it downloads
Target's rules artifact at startup, decides every request in-process from it (the same experience Target's edge
would give the visitor), checks for a new artifact every ``polling_interval`` seconds (``If-None-Match``: a 304
costs nothing, a new artifact replaces the old one atomically) and sends display notifications in the background.
Each request forwards the visitor's ``mbox`` cookie and sets the cookies the decision returns, so the visitor keeps
their session and tntId. ``/health`` reports what is loaded. Run it, then::

    python examples/ondevice_fastapi.py [--url URL] [--port 8000]    # or: uvicorn examples.ondevice_fastapi:app
    curl -i localhost:8000/offers/hero
    curl localhost:8000/health

Target is ``--url``, else ``$TARGET_EMULATOR_URL``, else an emulator embedded on loopback (``fixtures.json``).
The emulator serves the artifact as Target's CDN does, at ``{url}/emulator/production/v1/rules.json``; against
Target, leave ``artifact_location`` out (the client builds ``https://assets.adobetarget.com/{client}/production/
v1/rules.json``). To see a new artifact picked up, publish one to the emulator while the service runs::

    curl -X POST -H 'Content-Type: application/json' --data @examples/fixtures.json URL/_emulator/fixtures
"""

from __future__ import annotations

import argparse
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import uvicorn
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from target_async import AsyncTargetClient, ChannelType, Context, DeliveryRequest, ExecuteRequest, MboxRequest
from target_async.emulator import create_app as create_emulator
from target_async.models import Address
from target_async.testing import EMULATOR_CLIENT, EMULATOR_ORG_ID, serve

FIXTURES = Path(__file__).with_name("fixtures.json")  # the embedded emulator's A/B mbox "hero"


def create_app(target_base_url: str | None = None, *, polling_interval: float = 300) -> FastAPI:
    """The service, deciding from the artifact of the Target (emulator) at ``target_base_url`` (default: see the
    module docstring), polled every ``polling_interval`` seconds (300, the default, is also the minimum)."""

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
                server_domain=parts.netloc,  # where display notifications (and remote mboxes) go
                secure=parts.scheme == "https",
                decisioning_method="on-device",
                artifact_location=f"{url.rstrip('/')}/{EMULATOR_CLIENT}/production/v1/rules.json",
                polling_interval=polling_interval,
            ) as client:
                # Start serving with the artifact loaded: the download starts here, and the polling with it.
                # (Without this, the first request would start it and wait for it, up to its timeout.)
                await client.wait_until_ready(timeout=10)
                app.state.target = client
                yield  # the app serves requests here; aclose() stops the polling and sends pending notifications

    app = FastAPI(lifespan=lifespan)

    @app.get("/offers/{mbox}")
    async def offers(mbox: str, request: Request, response: Response) -> dict[str, object]:
        address = Address(url=str(request.url))
        context = Context(channel=ChannelType.WEB, address=address, user_agent=request.headers.get("user-agent"))
        target: AsyncTargetClient = request.app.state.target
        result = await target.get_offers(  # decided in-process: microseconds, no network
            request=DeliveryRequest(context=context, execute=ExecuteRequest(mboxes=[MboxRequest(name=mbox, index=0)])),
            target_cookie=request.cookies.get("mbox"),
            target_location_hint=request.cookies.get("mboxEdgeCluster"),
        )
        for cookie in (result.target_cookie, result.target_location_hint_cookie):
            if cookie is not None:
                response.set_cookie(cookie.name, cookie.value, max_age=cookie.max_age, path="/")
        mboxes = result.response.execute.mboxes if result.response.execute else None
        content = [option.content for item in mboxes or [] for option in item.options or []]
        return {
            "mbox": mbox,
            "content": content,
            "tntId": result.response.id.tnt_id if result.response.id else None,
            "decisioningMethod": result.meta.decisioning_method,  # "on-device"
            "remoteMboxes": result.meta.remote_mboxes,  # what the artifact cannot decide (needs a server call)
        }

    @app.get("/health")
    async def health(request: Request) -> JSONResponse:
        target: AsyncTargetClient = request.app.state.target
        status = target.artifact_status
        body: dict[str, Any] = {
            "ready": status.ready,
            "artifact": {
                "location": status.location,
                "version": status.version,
                "etag": status.etag,
                "generatedAt": status.generated_at,
                "fetchedAt": status.fetched_at,
                "checkedAt": status.checked_at,
                "retrievalCount": status.retrieval_count,
                "mboxRules": status.mbox_rules,
                "viewRules": status.view_rules,
                "pollingInterval": status.polling_interval,
                "lastError": None if status.last_error is None else str(status.last_error),
            },
        }
        return JSONResponse(body, status_code=200 if status.ready else 503)

    return app


app = create_app()

if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="Target/emulator base URL (default: $TARGET_EMULATOR_URL, else embedded)")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args()
    uvicorn.run(create_app(args.url), host="127.0.0.1", port=args.port)
