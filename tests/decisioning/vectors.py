"""The on-device conformance vectors (shared/spec/on-device/vectors) and a strict matcher for them.

Adobe's harness ignores extra keys and extra list items; this matcher does not (on-device.md §12): every list
must have the expected length, and a key the vector does not list is an error unless it is one of the few
non-decision keys named in :data:`ALLOWED_EXTRA` (or a case's documented override).
"""

from __future__ import annotations

import calendar
import json
from collections.abc import Callable, Iterator, Mapping
from functools import cache
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).resolve().parents[1] / "data" / "on-device"  # vendored from shared/spec (Apache-2.0)
REAL_ARTIFACT = VECTORS / "artifact.json"

PLACEHOLDERS: dict[str, Callable[[Any], bool]] = {
    "expect.any(String)": lambda v: isinstance(v, str),
    "expect.any(Number)": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "expect.any(Object)": lambda v: isinstance(v, (dict, list)),
}

# (path pattern, key) pairs whose presence the vectors do not list but which carry no decision:
#   * the response's own status/requestId/id/client (most vectors list only the decisions);
#   * `responseTokens` of an option: §6 puts `activity.decisioningMethod` on every option, and vectors written
#     before that list responseTokens only where they test them (where they do list them, they are matched);
#   * the notification request's own requestId/id/context/experienceCloud;
#   * telemetry `features` beyond decisioningMethod (the counts of §8).
ALLOWED_EXTRA: dict[str, frozenset[str]] = {
    "$": frozenset({"status", "requestId", "id", "client"}),
    "option": frozenset({"responseTokens"}),
    "$request": frozenset({"requestId", "id", "context", "experienceCloud"}),
    "features": frozenset(
        {"executeMboxCount", "executePageLoad", "prefetchMboxCount", "prefetchPageLoad", "prefetchViewCount"}
    ),
}


def _kind_of(path: str) -> str:
    if path == "$":
        return "$"
    if path == "$.request":
        return "$request"
    if ".options[" in path and path.endswith("]"):
        return "option"
    if path.endswith(".features"):
        return "features"
    return ""


def match(expected: Any, actual: Any, path: str = "$", *, extra: Callable[[str, str], bool] | None = None) -> list[str]:
    """The differences between ``expected`` (a vector's partial output) and ``actual``, strictly."""
    if isinstance(expected, str) and expected in PLACEHOLDERS:
        return [] if PLACEHOLDERS[expected](actual) else [f"{path}: expected {expected}, got {actual!r}"]
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {actual!r}"]
        errors: list[str] = []
        for key, value in expected.items():
            if key not in actual:
                errors.append(f"{path}.{key}: missing")
            else:
                errors += match(value, actual[key], f"{path}.{key}", extra=extra)
        allowed = ALLOWED_EXTRA.get(_kind_of(path), frozenset())
        for key in actual.keys() - expected.keys():
            if key not in allowed and not (extra and extra(path, key)):
                errors.append(f"{path}.{key}: not expected ({json.dumps(actual[key])[:120]})")
        return errors
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {actual!r}"]
        if len(expected) != len(actual):
            return [f"{path}: expected {len(expected)} items, got {len(actual)}: {json.dumps(actual)[:300]}"]
        errors = []
        for i, (e, a) in enumerate(zip(expected, actual, strict=True)):
            errors += match(e, a, f"{path}[{i}]", extra=extra)
        return errors
    if isinstance(expected, bool) or isinstance(actual, bool):
        same = expected is actual
    elif isinstance(expected, (int, float)) and isinstance(actual, (int, float)):
        same = expected == actual
    else:
        same = type(expected) is type(actual) and expected == actual
    return [] if same else [f"{path}: expected {expected!r}, got {actual!r}"]


@cache
def artifact_text(name: str) -> bytes:
    return (VECTORS / "artifacts" / f"{name}.json").read_bytes()


def mock_now(mock: Mapping[str, Any] | None) -> float | None:
    """The instant of a vector's ``mockDate`` (JavaScript's Date fields, month 0-based; UTC)."""
    if not mock:
        return None
    fields = (
        mock["year"],
        mock["month"] + 1,
        mock.get("date", 1),
        mock.get("hours", 0),
        mock.get("minutes", 0),
        mock.get("seconds", 0),
    )
    return float(calendar.timegm((*fields, 0, 0, 0)))


def mock_geo(headers: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """A geo lookup's result from a vector's ``mockGeo`` (the CDN's ``x-geo-*`` answer headers)."""
    if not headers:
        return None
    names = {
        "x-geo-latitude": "latitude",
        "x-geo-longitude": "longitude",
        "x-geo-country-code": "countryCode",
        "x-geo-region-code": "stateCode",
        "x-geo-city": "city",
    }
    return {names[k]: v for k, v in headers.items() if k in names}


def cases() -> Iterator[tuple[str, str, dict[str, Any], dict[str, Any], dict[str, Any]]]:
    """(suite, case, suite-level data, case data, conf) for every vector."""
    for path in sorted((VECTORS / "models").glob("TEST_SUITE_*.json")):
        suite = json.loads(path.read_text())
        name = path.stem.removeprefix("TEST_SUITE_")
        for key, case in suite["test"].items():
            conf = {**suite.get("conf", {}), **case.get("conf", {})}
            yield name, key, suite, case, conf
