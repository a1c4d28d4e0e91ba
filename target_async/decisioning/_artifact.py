"""Loading a rules artifact (``rules.json`` or the obfuscated ``rules.bin``) into its compiled form.

Everything that does not depend on a request happens here, once per artifact: each condition is compiled to a
callable, the variables it reads are noted (so allocation is hashed only for rules that read it), rules are
indexed by mbox and view name, and every consequence is shaped for execute and for prefetch (:mod:`._shape`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from .._serde import json_loads
from ._errors import ArtifactError, UnsupportedArtifactError
from ._jsonlogic import JsonLogicError, compile_logic, variables
from ._shape import DECISIONING_METHOD_TOKEN, Shaped, shape_consequence

__all__ = ["BIN_HEADER_SIZE", "Artifact", "Rule", "RuleSet", "load_artifact", "obfuscate_artifact"]

SUPPORTED_MAJOR_VERSION = 1
BIN_HEADER_SIZE = 40
BIN_KEY_SIZE = 32
SUPPORTED_OBFUSCATION_VERSION = 1

# The first path segments a rule may read; a rule that reads anything else gets the whole context.
CONTEXT_KEYS = frozenset(
    {"current_timestamp", "current_time", "current_day", "user", "page", "referring", "mbox", "geo", "allocation"}
)

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class Rule:
    """One compiled rule of the artifact."""

    __slots__ = (
        "activity_id",
        "audience_ids",
        "condition",
        "condition_json",
        "execute",
        "key",
        "meta",
        "prefetch",
        "property_tokens",
        "reads",
        "reads_allocation",
        "view_key",
        "view_name",
    )

    def __init__(
        self,
        *,
        key: str,
        activity_id: Any,
        meta: Mapping[str, Any],
        property_tokens: frozenset[str],
        condition: Callable[[Mapping[str, Any]], Any],
        condition_json: Any,
        reads: frozenset[str],
        execute: Shaped,
        prefetch: Shaped,
        view_name: str | None,
        view_key: str | None,
    ) -> None:
        self.key = key
        self.activity_id = activity_id
        self.meta = meta
        self.property_tokens = property_tokens
        self.condition = condition
        self.condition_json = condition_json
        self.reads = reads
        self.reads_allocation = "allocation" in reads or not reads <= CONTEXT_KEYS
        self.execute = execute
        self.prefetch = prefetch
        self.view_name = view_name
        self.view_key = view_key
        audience = meta.get("audience.ids")
        self.audience_ids: tuple[Any, ...] = tuple(audience) if isinstance(audience, list) else ()

    def visible(self, property_token: str | None) -> bool:
        """Whether the rule applies under ``property_token`` (§3: no token sees only rules without tokens)."""
        return not self.property_tokens or (property_token is not None and property_token in self.property_tokens)

    def __repr__(self) -> str:
        return f"Rule(key={self.key!r}, activity_id={self.activity_id!r})"


class RuleSet:
    """The rules of one mbox or view, in artifact order, with what they read."""

    __slots__ = ("by_property", "reads", "rules")

    def __init__(self, rules: tuple[Rule, ...]) -> None:
        self.rules = rules
        reads: frozenset[str] = frozenset()
        for rule in rules:
            reads |= rule.reads
        self.reads = reads
        # property token -> the rules it sees (filtered once per artifact, not per request)
        self.by_property: dict[str | None, tuple[Rule, ...]] = {}
        tokens: set[str] = set()
        for rule in rules:
            tokens |= rule.property_tokens
        self.by_property[None] = tuple(r for r in rules if not r.property_tokens)
        for token in tokens:
            self.by_property[token] = tuple(r for r in rules if r.visible(token))

    def visible(self, property_token: str | None) -> tuple[Rule, ...]:
        """The rules under ``property_token``, in artifact order."""
        found = self.by_property.get(property_token)
        if found is None:  # a token no rule names sees the rules without tokens
            return self.by_property[None]
        return found

    def __len__(self) -> int:
        return len(self.rules)


class Artifact:
    """A loaded, compiled rules artifact (immutable; share it between engines and threads).

    Attributes:
        version: the artifact's ``version`` (major version 1).
        meta: its ``meta`` (``generatedAt``, ``organizationId``, ``clientCode``, ``workspace``, ``environment``).
        global_mbox: the mbox whose rules make the page load (``target-global-mbox``).
        geo_targeting_enabled: whether rules read geo (a request without geo then needs a geo lookup).
        response_tokens: the response tokens the account asked for.
        local_mboxes, remote_mboxes, local_views, remote_views: what can be decided here (frozensets).
        mboxes, views: name -> :class:`RuleSet`.
        payload: the decoded artifact (a dict; read it, do not change it).
    """

    __slots__ = (
        "geo_targeting_enabled",
        "global_mbox",
        "local_mboxes",
        "local_views",
        "mboxes",
        "meta",
        "payload",
        "remote_mboxes",
        "remote_views",
        "response_tokens",
        "version",
        "views",
    )

    def __init__(self, payload: Mapping[str, Any]) -> None:
        self.payload = payload
        version = payload.get("version")
        if version is None:
            raise ArtifactError("the artifact has no version")
        self.version = str(version)
        major = self.version.split(".", 1)[0].strip()
        if major != str(SUPPORTED_MAJOR_VERSION):
            raise UnsupportedArtifactError(
                f"artifact version {self.version} is not supported (this engine reads major version "
                f"{SUPPORTED_MAJOR_VERSION})"
            )
        rules = payload.get("rules")
        if not isinstance(rules, Mapping):
            raise ArtifactError(
                "the artifact has no rules" if rules is None else "the artifact's rules are not an object"
            )
        meta = payload.get("meta")
        self.meta: Mapping[str, Any] = meta if isinstance(meta, Mapping) else _EMPTY
        global_mbox = payload.get("globalMbox")
        self.global_mbox: str = global_mbox if isinstance(global_mbox, str) and global_mbox else "target-global-mbox"
        geo = payload.get("geoTargetingEnabled", payload.get("hasGeoTargeting", False))
        self.geo_targeting_enabled = bool(geo)
        self.response_tokens: tuple[str, ...] = tuple(_names(payload, "responseTokens"))
        self.local_mboxes = frozenset(_names(payload, "localMboxes"))
        self.remote_mboxes = frozenset(_names(payload, "remoteMboxes"))
        self.local_views = frozenset(_names(payload, "localViews"))
        self.remote_views = frozenset(_names(payload, "remoteViews"))
        self.mboxes: Mapping[str, RuleSet] = self._compile(rules, "mboxes")
        self.views: Mapping[str, RuleSet] = self._compile(rules, "views")

    @property
    def mbox_rule_count(self) -> int:
        """How many mbox rules the artifact holds (for a health check)."""
        return sum(len(s) for s in self.mboxes.values())

    @property
    def view_rule_count(self) -> int:
        """How many view rules the artifact holds (for a health check)."""
        return sum(len(s) for s in self.views.values())

    @property
    def rule_count(self) -> int:
        """How many rules the artifact holds."""
        return self.mbox_rule_count + self.view_rule_count

    def __repr__(self) -> str:
        return (
            f"Artifact(version={self.version!r}, mboxes={len(self.mboxes)}, views={len(self.views)}, "
            f"rules={self.rule_count})"
        )

    def _compile(self, rules: Mapping[str, Any], kind: str) -> Mapping[str, RuleSet]:
        section = rules.get(kind)
        if section is None:
            return _EMPTY
        if not isinstance(section, Mapping):
            raise ArtifactError(f"the artifact's rules.{kind} is not an object")
        out: dict[str, RuleSet] = {}
        for name, raw_rules in section.items():
            where = f"{'mbox' if kind == 'mboxes' else 'view'} {name!r}"
            if not isinstance(raw_rules, list):
                raise ArtifactError(f"the rules of {where} are not a list")
            out[name] = RuleSet(tuple(self._rule(r, where, kind == "views") for r in raw_rules))
        return MappingProxyType(out)

    def _rule(self, raw: Any, where: str, view: bool) -> Rule:
        if not isinstance(raw, Mapping):
            raise ArtifactError(f"a rule of {where} is not an object")
        key = raw.get("ruleKey")
        label = f"rule {key!r} of {where}"
        if "condition" not in raw:
            raise ArtifactError(f"{label} has no condition")
        condition_json = raw["condition"]
        try:
            condition = compile_logic(condition_json)
            reads = variables(condition_json)
        except JsonLogicError as exc:
            raise ArtifactError(f"{label}: the condition does not compile: {exc}") from exc
        consequence = raw.get("consequence")
        if not isinstance(consequence, Mapping):
            raise ArtifactError(f"{label} has no consequence")
        meta = raw.get("meta")
        if not isinstance(meta, Mapping):
            meta = _EMPTY
        tokens = {t: meta[t] for t in self.response_tokens if t in meta}
        tokens[DECISIONING_METHOD_TOKEN] = "on-device"
        execute, prefetch = shape_consequence(consequence, tokens, view=view)
        property_tokens = raw.get("propertyTokens") or ()
        if not isinstance(property_tokens, list | tuple):
            raise ArtifactError(f"rule {key!r}: propertyTokens must be a list of strings")
        activity_id = raw.get("activityId", meta.get("activity.id"))
        view_name = consequence.get("name") if view else None
        view_key = consequence.get("key") if view else None
        return Rule(
            key=str(key) if key is not None else f"{activity_id}",
            activity_id=activity_id,
            meta=meta,
            property_tokens=frozenset(t for t in property_tokens if isinstance(t, str)),
            condition=condition,
            condition_json=condition_json,
            reads=frozenset(reads),
            execute=execute,
            prefetch=prefetch,
            view_name=view_name if isinstance(view_name, str) else None,
            view_key=view_key if isinstance(view_key, str) else None,
        )


def _names(payload: Mapping[str, Any], key: str) -> list[str]:
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ArtifactError(f"the artifact's {key} is not a list")
    return [v for v in value if isinstance(v, str)]


def _deobfuscate(data: bytes, organization_id: str | None) -> bytes:
    if len(data) < BIN_HEADER_SIZE:
        raise ArtifactError(f"the rules.bin artifact is too short for its {BIN_HEADER_SIZE}-byte header")
    try:
        header = data[:BIN_HEADER_SIZE].decode("ascii")
    except UnicodeDecodeError:
        raise ArtifactError("the rules.bin header is not ASCII text") from None
    head, key = header[: BIN_HEADER_SIZE - BIN_KEY_SIZE], header[BIN_HEADER_SIZE - BIN_KEY_SIZE :]
    prefix, sep, version = head.partition(":")
    version = version.strip(" \x00")
    if not sep or not prefix:
        raise ArtifactError(f"the rules.bin header {head!r} is not '<prefix>:<version>'")
    try:
        obfuscation_version = int(version)
    except ValueError:
        raise ArtifactError(f"the rules.bin header {head!r} has no numeric version") from None
    if obfuscation_version != SUPPORTED_OBFUSCATION_VERSION:
        raise UnsupportedArtifactError(
            f"rules.bin obfuscation version {obfuscation_version} is not supported "
            f"(this engine reads version {SUPPORTED_OBFUSCATION_VERSION})"
        )
    if not organization_id:
        raise ArtifactError("a rules.bin artifact needs the organization id to be read")
    secret = (organization_id + key).encode()
    body = data[BIN_HEADER_SIZE:]
    return _xor(body, secret)


def _xor(body: bytes, secret: bytes) -> bytes:
    n = len(body)
    if not n:
        return b""
    reps, rest = divmod(n, len(secret))
    stream = secret * reps + secret[:rest]
    return (int.from_bytes(body, "little") ^ int.from_bytes(stream, "little")).to_bytes(n, "little")


def obfuscate_artifact(
    payload: bytes, *, organization_id: str, key: str = "0" * BIN_KEY_SIZE, prefix: str = "TGT", version: int = 1
) -> bytes:
    """The ``rules.bin`` form of a JSON artifact (what the CDN serves; for tests and tools).

    The header is ``"<prefix>:<version>"`` (the version zero-padded to 8 characters) and the 32-character key.
    """
    width = BIN_HEADER_SIZE - BIN_KEY_SIZE - len(prefix) - 1
    head = f"{prefix}:{version:0{max(width, 1)}d}"
    if len(head) + len(key) != BIN_HEADER_SIZE or len(key) != BIN_KEY_SIZE:
        raise ValueError(f"the header must be {BIN_HEADER_SIZE - BIN_KEY_SIZE} characters and the key {BIN_KEY_SIZE}")
    return (head + key).encode("ascii") + _xor(payload, (organization_id + key).encode())


def _looks_like_json(data: bytes) -> bool:
    return data.lstrip()[:1] in (b"{", b"[")


def load_artifact(
    payload: bytes | bytearray | memoryview | str | Mapping[str, Any],
    *,
    organization_id: str | None = None,
    format: str | None = None,
) -> Artifact:
    """Load and compile a rules artifact.

    Args:
        payload: the artifact: ``rules.json`` text or bytes, ``rules.bin`` bytes, or the decoded mapping.
        organization_id: the IMS organization id (``...@AdobeOrg``), needed to read ``rules.bin``.
        format: ``"json"``, ``"bin"``, or ``None`` to tell them apart from the bytes.

    Raises:
        UnsupportedArtifactError: the artifact's major version is not 1, or a ``rules.bin`` obfuscation
            version is not 1.
        ArtifactError: anything else that makes the artifact unusable (the message says what).
    """
    if format not in (None, "json", "bin"):
        raise ArtifactError(f"unknown artifact format {format!r} (expected 'json' or 'bin')")
    data: Any = payload
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)
    if isinstance(data, bytes):
        if format == "bin" or (format is None and not _looks_like_json(data)):
            data = _deobfuscate(data, organization_id)
        try:
            data = json_loads(data)
        except Exception as exc:  # the codec's error type depends on the codec installed
            raise ArtifactError(f"the artifact is not valid JSON: {exc}") from exc
    elif isinstance(data, str):
        if format == "bin":
            raise ArtifactError("a rules.bin artifact must be given as bytes")
        try:
            data = json_loads(data)
        except Exception as exc:
            raise ArtifactError(f"the artifact is not valid JSON: {exc}") from exc
    if not isinstance(data, Mapping):
        raise ArtifactError(f"the artifact must be a JSON object, not {type(data).__name__}")
    return Artifact(data)
