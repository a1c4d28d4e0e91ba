"""A rule's consequence, shaped once per mode when the artifact loads, and turned into models per match.

execute (on-device.md §6): options without ``type`` or ``content`` are dropped, options lose their
``eventToken``, only ``click`` metrics stay (``metrics`` is omitted when none is left), and the display
notification carries the event tokens of the options. prefetch: an option without ``eventToken`` takes the one
of the ``display`` metric at its index; metrics are dropped except for views.

Everything that does not depend on the request is decided here; a match costs building the models. The
artifact's option ``content`` is shared between responses; a ``dict``/``list`` content is copied on output so
that a caller who edits a response cannot change what the engine serves next.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from ..models import Metric, MetricType, Option, OptionType

__all__ = [
    "DECISIONING_METHOD_TOKEN",
    "OptionShape",
    "Shaped",
    "copy_json",
    "js_string",
    "render_macros",
    "shape_consequence",
]

DECISIONING_METHOD_TOKEN = "activity.decisioningMethod"

_MACRO = re.compile(r"\$\{([a-zA-Z0-9_.]*?)\}")
_MACRO_RENAMES = {"campaign": "activity", "recipe": "experience"}


def copy_json(value: Any) -> Any:
    """A deep copy of JSON data (dicts, lists and immutable scalars), several times faster than ``deepcopy``."""
    cls = value.__class__
    if cls is dict:
        return {k: (copy_json(v) if v.__class__ is dict or v.__class__ is list else v) for k, v in value.items()}
    if cls is list:
        return [copy_json(v) if v.__class__ is dict or v.__class__ is list else v for v in value]
    return value


def js_string(value: Any) -> str:
    """``String(value)`` as JavaScript writes it (for macros): ``true``, ``1024``, ``1.5``, ``null``."""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    if value.__class__ is float and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return str(value)


def _has_macro(content: Any) -> bool:
    if isinstance(content, str):
        return "${" in content
    if isinstance(content, list):
        return any(isinstance(a, dict) and isinstance(a.get("content"), str) and "${" in a["content"] for a in content)
    return False


def render_macros(content: Any, meta: Mapping[str, Any], detail: Mapping[str, Any], params: Mapping[str, Any]) -> Any:
    """``content`` (an html string or a list of actions) with its campaign macros replaced (§6).

    The macro's name is read as Target reads it: ``campaign`` means ``activity`` and ``recipe`` means
    ``experience``, only the last two dotted parts count, and an ``mbox`` part is dropped. The key is looked up
    in the rule ``meta`` (``${campaign.name}`` is ``activity.name``), then in the request detail's own fields
    (``${mbox.name}`` is the mbox's name), then in its ``parameters`` (``${mbox.user}``). A macro nothing
    resolves stays as written. Returns new objects; ``content`` is not changed.
    """

    def replace(match: re.Match[str]) -> str:
        parts = [_MACRO_RENAMES.get(p, p) for p in match.group(1).split(".")][-2:]
        key = ".".join(p for p in parts if p != "mbox")
        value = meta.get(key)
        if value is None:
            value = detail.get(key)
            if value is None:
                value = params.get(key)
        return match.group(0) if value is None or not key else js_string(value)

    if isinstance(content, str):
        return _MACRO.sub(replace, content)
    if isinstance(content, list):
        out = []
        for action in content:
            action = copy_json(action)
            if isinstance(action, dict) and isinstance(action.get("content"), str):
                action["content"] = _MACRO.sub(replace, action["content"])
            out.append(action)
        return out
    return copy_json(content)


def _enum(cls: Callable[[Any], Any], value: Any) -> Any:
    try:
        return cls(value)
    except ValueError:
        return value  # a value this SDK does not know stays a plain str, as the converter does


class OptionShape:
    """One option of a consequence, ready for one mode."""

    __slots__ = ("content", "copy", "event_token", "macros", "tokens", "type")

    def __init__(self, type_: Any, content: Any, event_token: str | None, tokens: dict[str, Any]) -> None:
        self.type = type_
        self.content = content
        self.copy = content.__class__ is dict or content.__class__ is list
        self.event_token = event_token
        self.tokens = tokens
        self.macros = _has_macro(content)

    def build(
        self,
        geo_tokens: Mapping[str, Any] | None,
        meta: Mapping[str, Any],
        detail: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
    ) -> Option:
        content = self.content
        if self.macros:
            content = render_macros(content, meta, detail or {}, params or {})
        elif self.copy:
            content = copy_json(content)
        tokens = dict(self.tokens)
        if geo_tokens:
            tokens.update(geo_tokens)
        return Option(type=self.type, content=content, event_token=self.event_token, response_tokens=tokens)


class Shaped:
    """A consequence shaped for one mode: options, metrics (``None``: omitted), and notification tokens."""

    __slots__ = ("metrics", "options", "tokens")

    def __init__(
        self,
        options: tuple[OptionShape, ...],
        metrics: tuple[tuple[Any, str | None, str | None], ...] | None,
        tokens: tuple[str, ...],
    ) -> None:
        self.options = options
        self.metrics = metrics
        self.tokens = tokens

    def build_options(
        self,
        geo_tokens: Mapping[str, Any] | None,
        meta: Mapping[str, Any],
        detail: Mapping[str, Any] | None,
        params: Mapping[str, Any] | None,
    ) -> list[Option]:
        return [o.build(geo_tokens, meta, detail, params) for o in self.options]

    def build_metrics(self) -> list[Metric] | None:
        if self.metrics is None:
            return None
        return [Metric(type=t, selector=s, event_token=e) for t, s, e in self.metrics]


def _metric(raw: Mapping[str, Any]) -> tuple[Any, str | None, str | None]:
    type_ = raw.get("type")
    return (_enum(MetricType, type_) if type_ is not None else None, raw.get("selector"), raw.get("eventToken"))


def shape_consequence(consequence: Mapping[str, Any], tokens: dict[str, Any], *, view: bool) -> tuple[Shaped, Shaped]:
    """The (execute, prefetch) shapes of a rule's consequence; ``tokens`` are the rule's response tokens."""
    raw_options = consequence.get("options") or []
    raw_metrics = consequence.get("metrics") or []
    if not isinstance(raw_options, list):
        raw_options = []
    if not isinstance(raw_metrics, list):
        raw_metrics = []
    raw_metrics = [m for m in raw_metrics if isinstance(m, Mapping)]
    display = [m.get("eventToken") for m in raw_metrics if m.get("type") == "display"]

    execute_options: list[OptionShape] = []
    prefetch_options: list[OptionShape] = []
    notification_tokens: list[str] = []
    for index, raw in enumerate(raw_options):
        if not isinstance(raw, Mapping):
            continue
        type_ = raw.get("type")
        type_ = _enum(OptionType, type_) if type_ is not None else None
        content = raw.get("content")
        event_token = raw.get("eventToken")
        if event_token is None and index < len(display):
            event_token = display[index]
        if event_token is not None and event_token not in notification_tokens:
            notification_tokens.append(event_token)
        prefetch_options.append(OptionShape(type_, content, event_token, tokens))
        if type_ is not None and content is not None:
            execute_options.append(OptionShape(type_, content, None, tokens))

    clicks = tuple(_metric(m) for m in raw_metrics if m.get("type") == "click")
    execute = Shaped(tuple(execute_options), clicks or None, tuple(notification_tokens))
    prefetch_metrics = tuple(_metric(m) for m in raw_metrics) if view else None
    prefetch = Shaped(tuple(prefetch_options), prefetch_metrics, tuple(notification_tokens))
    return execute, prefetch
