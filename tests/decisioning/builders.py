"""Small artifacts and requests for the engine's tests."""

from __future__ import annotations

from typing import Any

from target_async.decisioning import DecisionEngine, load_artifact
from target_async.models import (
    Address,
    Context,
    DeliveryRequest,
    ExecuteRequest,
    MboxRequest,
    PrefetchRequest,
    VisitorId,
)

CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_3) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/80.0.3987.163 Safari/537.36"
)


def rule(
    key: str,
    condition: Any = True,
    *,
    activity: int = 1,
    content: Any = None,
    token: str | None = None,
    mbox: str = "m",
    property_tokens: list[str] | None = None,
    meta: dict[str, Any] | None = None,
    metrics: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A rule whose consequence is one json option (``content`` defaults to ``{"rule": key}``)."""
    out: dict[str, Any] = {
        "ruleKey": key,
        "activityId": activity,
        "meta": {"activity.id": activity, "activity.type": "ab", "experience.id": 0, **(meta or {})},
        "condition": condition,
        "consequence": {
            "name": mbox,
            "options": [
                {
                    "type": "json",
                    "content": {"rule": key} if content is None else content,
                    "eventToken": token or f"token-{key}",
                }
            ],
            "metrics": metrics or [],
        },
    }
    if property_tokens is not None:
        out["propertyTokens"] = property_tokens
    return out


def artifact_dict(
    mboxes: dict[str, list[dict[str, Any]]] | None = None,
    views: dict[str, list[dict[str, Any]]] | None = None,
    **top: Any,
) -> dict[str, Any]:
    mboxes = mboxes or {}
    views = views or {}
    out: dict[str, Any] = {
        "version": "1.0.0",
        "meta": {"clientCode": "acme", "environment": "production"},
        "globalMbox": "target-global-mbox",
        "geoTargetingEnabled": False,
        "responseTokens": ["activity.id", "geo.city"],
        "remoteMboxes": [],
        "localMboxes": sorted(mboxes),
        "remoteViews": [],
        "localViews": sorted(views),
        "rules": {"mboxes": mboxes, "views": views},
    }
    out.update(top)
    return out


def engine(
    mboxes: dict[str, list[dict[str, Any]]] | None = None,
    views: dict[str, list[dict[str, Any]]] | None = None,
    **top: Any,
) -> DecisionEngine:
    return DecisionEngine(load_artifact(artifact_dict(mboxes, views, **top)), client="acme")


def request(
    *names: str,
    prefetch: bool = False,
    tnt_id: str | None = "visitor-1",
    url: str = "https://www.example.com/",
    **extra: Any,
) -> DeliveryRequest:
    mboxes = [MboxRequest(name=n, index=i) for i, n in enumerate(names)]
    section: dict[str, Any] = (
        {"prefetch": PrefetchRequest(mboxes=mboxes)} if prefetch else {"execute": ExecuteRequest(mboxes=mboxes)}
    )
    return DeliveryRequest(
        id=VisitorId(tnt_id=tnt_id) if tnt_id else None,
        context=Context(address=Address(url=url), user_agent=CHROME),
        **{**section, **extra},
    )
