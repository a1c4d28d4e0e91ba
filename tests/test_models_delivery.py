"""The Delivery API models against the OpenAPI spec they are written from.

The spec (vendored in ``tests/data/delivery-api``, Apache-2.0, or ``$TARGET_ASYNC_DELIVERY_SPEC``) is read
with PyYAML; every
example it carries (``example``/``examples`` of schemas and bodies, ``delivery/examples/*.json`` and the
JSON bodies of ``delivery/markdown/api-description.md``) and a synthetic full payload of every schema
round-trip through the strict converter, and every model field is checked against the spec's properties.
"""

from __future__ import annotations

import copy
import enum
import json
import os
import re
import types
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path, PurePosixPath
from typing import Any

import attrs
import cattrs
import pytest
import yaml
from hypothesis import HealthCheck, given, settings, strategies as st

import target_async._serde as serde
import target_async.models as models
import target_async.models.delivery as delivery
from target_async._exceptions import ValidationError
from target_async._serde import converter, strict_converter, wire_names
from target_async.models import (
    ChannelType,
    Context,
    DeliveryRequest,
    DeliveryResponse,
    ExecuteRequest,
    MboxRequest,
    Option,
    OptionType,
)

SPEC_ROOT = Path(
    os.environ.get(
        "TARGET_ASYNC_DELIVERY_SPEC",
        Path(__file__).resolve().parent / "data" / "delivery-api",
    )
)
needs_spec = pytest.mark.skipif(not SPEC_ROOT.is_dir(), reason=f"Delivery API spec not found at {SPEC_ROOT}")

# The discriminator property of RequestDetails and MboxResponse: an artifact of the spec's code generator,
# not a key any payload carries, so the models have no attribute for it.
DISCRIMINATOR_ARTIFACTS = frozenset({"$_type"})

MODEL_CLASSES: dict[str, type[Any]] = {
    name: obj for name in delivery.__all__ if isinstance(obj := getattr(delivery, name), type) and attrs.has(obj)
}
ENUM_CLASSES: dict[str, type[enum.Enum]] = {
    name: obj
    for name in delivery.__all__
    if isinstance(obj := getattr(delivery, name), type) and issubclass(obj, enum.Enum)
}


# --- reading the spec ---------------------------------------------------------------------------------------


@cache
def spec_doc(rel: str) -> Any:
    return yaml.safe_load((SPEC_ROOT / rel).read_text(encoding="utf-8"))


@dataclass(frozen=True)
class Located:
    """A schema node and the spec file its relative ``$ref``s are resolved against."""

    node: Any
    file: str


def resolve(ref: str, base: str) -> Located:
    target, _, pointer = ref.partition("#")
    file = base
    if target:
        parts: list[str] = []
        for part in (PurePosixPath(base).parent / target).parts:
            if part == "..":
                parts.pop()
            elif part != ".":
                parts.append(part)
        file = "/".join(parts)
    node = spec_doc(file)
    for token in filter(None, pointer.split("/")):
        node = node[token.replace("~1", "/").replace("~0", "~")]
    return Located(node, file)


@cache
def named_schemas() -> dict[str, Located]:
    """Every schema of the component files by name (top-level keys and ``components.schemas``)."""
    out: dict[str, Located] = {}
    if not SPEC_ROOT.is_dir():
        return out
    for path in sorted(SPEC_ROOT.glob("*/components/*.yaml")):
        rel = path.relative_to(SPEC_ROOT).as_posix()
        doc = spec_doc(rel)
        for key, node in doc.items():
            if key == "components":
                out.update((name, Located(s, rel)) for name, s in node.get("schemas", {}).items())
            elif isinstance(node, dict):
                out[key] = Located(node, rel)
    return out


def schema_name(loc: Located) -> str | None:
    return next((n for n, s in named_schemas().items() if s.node is loc.node), None)


def kind(schema: Any) -> str:
    if "enum" in schema:
        return "enum"
    if "properties" in schema or "allOf" in schema:
        return "object"
    return "map" if "additionalProperties" in schema else "scalar"


def properties(loc: Located) -> dict[str, Located]:
    """The properties of an object schema, ``allOf`` parts merged, discriminator artifacts left out."""
    node = loc.node
    if "$ref" in node:
        return properties(resolve(node["$ref"], loc.file))
    props: dict[str, Located] = {}
    for part in node.get("allOf", []):
        props.update(properties(Located(part, loc.file)))
    props.update((k, Located(v, loc.file)) for k, v in node.get("properties", {}).items())
    return {k: v for k, v in props.items() if k not in DISCRIMINATOR_ARTIFACTS}


_SCALARS = {"string": str, "integer": int, "number": float, "boolean": bool}


def python_type(loc: Located) -> Any:
    """The Python type the models must use for a spec schema."""
    node = loc.node
    if "$ref" in node:
        return python_type(resolve(node["$ref"], loc.file))
    name = schema_name(loc)
    if name is not None and kind(node) in ("enum", "object", "map"):
        assert hasattr(models, name), f"schema {name} ({loc.file}) has no model"
        return getattr(models, name)
    if "oneOf" in node or "anyOf" in node:
        return Any
    type_ = node.get("type")
    if type_ == "array":
        return list[python_type(Located(node["items"], loc.file))]  # type: ignore[misc]
    if type_ == "object" or "additionalProperties" in node:
        values = node.get("additionalProperties")
        return dict[str, str] if isinstance(values, dict) and values.get("type") == "string" else dict[str, Any]
    return _SCALARS.get(type_, Any)


def synthetic(loc: Located, depth: int = 0) -> Any:
    """A type-correct payload for a schema with every property filled in, recursively."""
    node = loc.node
    assert depth < 20, "the spec's schemas are not expected to be recursive"
    if "$ref" in node:
        return synthetic(resolve(node["$ref"], loc.file), depth + 1)
    if "enum" in node:
        return node["enum"][-1]
    if kind(node) == "object":
        return {k: synthetic(v, depth + 1) for k, v in properties(loc).items()}
    if "oneOf" in node:  # the last alternative is the most structured one (an array of Action for Option)
        return synthetic(Located(node["oneOf"][-1], loc.file), depth + 1)
    type_ = node.get("type")
    if type_ == "array":
        return [synthetic(Located(node["items"], loc.file), depth + 1)]
    if type_ == "object" or "additionalProperties" in node:
        values = node.get("additionalProperties")
        return {"key": synthetic(Located(values, loc.file), depth + 1) if isinstance(values, dict) else "value"}
    return {"string": "text", "integer": 7, "number": 2.5, "boolean": True}[type_]


# --- the examples of the spec -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    id: str
    type: Any
    data: Any
    json_repair: str | None = None  # how the text was read when it is not valid JSON


_EXAMPLE_KEYS = ("example", "examples")


def _example_values(node: dict[str, Any], file: str) -> Iterator[tuple[str, Any]]:
    if "example" in node:
        yield "example", node["example"]
    examples = node.get("examples")
    if isinstance(examples, list):  # OpenAPI 3.1 schema examples
        yield from ((f"examples[{i}]", v) for i, v in enumerate(examples))
    elif isinstance(examples, dict):  # OpenAPI 3.0 media-type / parameter examples
        for key, ex in examples.items():
            ex = resolve(ex["$ref"], file).node if "$ref" in ex else ex
            if "value" in ex:
                yield f"examples/{key}", ex["value"]


def yaml_examples(file: str) -> Iterator[Example]:
    """Every example attached to a schema (or to a body/parameter with a schema) in a spec yaml file."""

    def walk(node: Any, path: tuple[str, ...], named: Any) -> Iterator[Example]:
        if isinstance(node, list):
            for i, item in enumerate(node):
                yield from walk(item, (*path, str(i)), None)
            return
        if not isinstance(node, dict):
            return
        if any(k in node for k in _EXAMPLE_KEYS):
            if "schema" in node:
                type_ = python_type(Located(node["schema"], file))
            else:
                type_ = named if named is not None else python_type(Located(node, file))
            for key, value in _example_values(node, file):
                yield Example(f"{file}:{'/'.join(path)}/{key}", type_, value)
        for key, value in node.items():
            if key in _EXAMPLE_KEYS or key == "description":
                continue
            top = path == () or path == ("components", "schemas")
            child_named = python_type(Located(value, file)) if top and key in named_schemas() else None
            yield from walk(value, (*path, str(key)), child_named)

    yield from walk(spec_doc(file), (), None)


def read_json_leniently(text: str) -> tuple[Any, str | None]:
    """The spec's hand-written JSON has trailing and missing commas; say which repair was needed."""
    try:
        return json.loads(text), None
    except json.JSONDecodeError:
        pass
    try:
        return yaml.safe_load(text), "trailing commas"
    except yaml.YAMLError:
        pass
    return yaml.safe_load(re.sub(r'"(\n\s*")', r'",\1', text)), "missing commas"


def file_examples() -> Iterator[Example]:
    for path in sorted((SPEC_ROOT / "delivery" / "examples").glob("*.json")):
        data, repair = read_json_leniently(path.read_text(encoding="utf-8"))
        type_ = DeliveryResponse if path.name.startswith("response") else DeliveryRequest
        yield Example(path.relative_to(SPEC_ROOT).as_posix(), type_, data, repair)


def markdown_examples() -> Iterator[Example]:
    """The JSON bodies of the API description: ``curl -d`` requests and the responses shown after them.

    Bodies elided with ``...`` and non-JSON blocks (Analytics URLs) are left out.
    """
    rel = "delivery/markdown/api-description.md"
    text = (SPEC_ROOT / rel).read_text(encoding="utf-8")
    for m in re.finditer(r"^ *```[^\n]*\n(.*?)^ *```", text, flags=re.M | re.S):
        block = m.group(1)
        body = re.search(r"-d '(.*)'", block, flags=re.S)
        payload = body.group(1) if body else block
        if "..." in payload or not payload.lstrip().startswith("{"):
            continue
        data, repair = read_json_leniently(payload)
        type_ = DeliveryResponse if "status" in data else DeliveryRequest
        line = text.count("\n", 0, m.start()) + 1
        yield Example(f"{rel}:{line}", type_, data, repair)


@cache
def all_examples() -> list[Example]:
    if not SPEC_ROOT.is_dir():
        return []
    files = ["delivery/api.yaml", *sorted({s.file for s in named_schemas().values()})]
    return [
        *(ex for f in files for ex in yaml_examples(f)),
        *file_examples(),
        *markdown_examples(),
    ]


@dataclass(frozen=True)
class Quirk:
    why: str
    strict_error: str  # a fragment of the strict converter's error on the example as written
    fix: Callable[[Any], Any]


def _wrap_in_list(*path: str | int) -> Callable[[Any], Any]:
    def fix(data: Any) -> Any:
        parent = data
        for key in path[:-1]:
            parent = parent[key]
        parent[path[-1]] = [parent[path[-1]]]
        return data

    return fix


def _drop_view_ids(data: Any) -> Any:
    for view in data["prefetch"]["views"]:
        del view["id"]
    return data


_VIEW_ID = Quirk(
    "views carry an 'id' the View schema lacks (the lenient converter keeps it in View.extras)",
    "extra fields found (id) @ $.prefetch.views[0]",
    _drop_view_ids,
)

# Examples that contradict the spec's own schemas: what is wrong, and the fix that makes them valid.
QUIRKS: dict[str, Quirk] = {
    "delivery/api.yaml:paths//rest/v1/delivery/post/requestBody/content/application/json/examples/"
    "1_1_PrefetchViewsForWebChannel": Quirk(
        "prefetch.mboxes is written as an object instead of an array",
        "@ $.prefetch.mboxes",
        _wrap_in_list("prefetch", "mboxes"),
    ),
    "delivery/api.yaml:paths//rest/v1/delivery/post/responses/200/content/application/json/examples/"
    "1_1_ResponseForPrefetchViewsForWebChannel": Quirk(
        "prefetch.mboxes[0].options is written as an object instead of an array",
        "@ $.prefetch.mboxes[0].options",
        _wrap_in_list("prefetch", "mboxes", 0, "options"),
    ),
    "delivery/examples/responseForPrefetchViewsForMobileChannel.json": _VIEW_ID,
    "delivery/markdown/api-description.md:789": _VIEW_ID,
}

# Examples whose text is not valid JSON (read after the repair named).
NOT_JSON = {
    "delivery/examples/responseForPrefetchViewsForWebChannel.json": "trailing commas",
    "delivery/markdown/api-description.md:454": "trailing commas",
    "delivery/markdown/api-description.md:597": "trailing commas",
    "delivery/markdown/api-description.md:702": "missing commas",
    "delivery/markdown/api-description.md:967": "trailing commas",
    "delivery/markdown/api-description.md:1148": "trailing commas",
}


def _validation_messages(exc: BaseException) -> str:
    assert isinstance(exc, cattrs.BaseValidationError), exc
    return "\n".join(cattrs.transform_error(exc))


# --- 1. the documented example ------------------------------------------------------------------------------


def test_seed_example_runs_as_written() -> None:
    context = Context(channel=ChannelType.WEB)
    mboxes = [MboxRequest(name="a1-serverside-ab", index=1)]
    execute = ExecuteRequest(mboxes=mboxes)
    delivery_request = DeliveryRequest(context=context, execute=execute)

    expected = {
        "context": {"channel": "web"},
        "execute": {"mboxes": [{"index": 1, "name": "a1-serverside-ab"}]},
    }
    assert serde.unstructure(delivery_request) == expected
    assert json.loads(serde.dumps(delivery_request)) == expected
    assert ChannelType.WEB == "web"
    assert serde.structure(expected, DeliveryRequest) == delivery_request


def test_none_is_omitted_and_irregular_keys_are_mapped() -> None:
    request = DeliveryRequest(
        context=Context(
            channel=ChannelType.MOBILE,
            client_hints=models.ClientHints(browser_ua_with_major_version="x", mobile=False),
            browser=models.Browser(web_gl_renderer="gl", host=None),
            time_offset_in_minutes=-60.0,
        ),
        property=models.Property(token="t"),
        qa_mode=models.QAMode(evaluate_as_true_audience_ids=[]),
    )
    assert serde.unstructure(request) == {
        "context": {
            "channel": "mobile",
            "browser": {"webGLRenderer": "gl"},
            "timeOffsetInMinutes": -60.0,
            "clientHints": {"mobile": False, "browserUAWithMajorVersion": "x"},
        },
        "property": {"token": "t"},
        "qaMode": {"evaluateAsTrueAudienceIds": []},
    }


def test_telemetry_server_token_on_response() -> None:
    response = serde.loads(b'{"status": 200, "telemetryServerToken": "abc"}', DeliveryResponse)
    assert response.telemetry_server_token == "abc"


# --- 2. the spec: examples, synthetic payloads, fields ------------------------------------------------------


@needs_spec
@pytest.mark.parametrize("example", all_examples(), ids=lambda ex: ex.id)
def test_spec_example_round_trips(example: Example) -> None:
    assert example.json_repair == NOT_JSON.get(example.id)
    data = example.data
    quirk = QUIRKS.get(example.id)
    if quirk is not None:
        with pytest.raises(cattrs.BaseValidationError) as info:
            strict_converter.structure(data, example.type)
        assert quirk.strict_error in _validation_messages(info.value)
        data = quirk.fix(copy.deepcopy(data))
    obj = strict_converter.structure(data, example.type)
    assert strict_converter.unstructure(obj) == data
    assert converter.unstructure(converter.structure(data, example.type)) == data


@needs_spec
def test_spec_examples_are_all_found() -> None:
    ids = {ex.id for ex in all_examples()}
    assert set(QUIRKS) <= ids
    assert set(NOT_JSON) <= ids
    sources = ("delivery/api.yaml:", "delivery/examples/", "delivery/markdown/")
    count = {src: sum(i.startswith(src) for i in ids) for src in sources}
    assert count == {"delivery/api.yaml:": 2, "delivery/examples/": 3, "delivery/markdown/": 26}


@needs_spec
def test_unknown_view_id_of_spec_examples_is_kept() -> None:
    example = next(ex for ex in all_examples() if ex.id.endswith("ForMobileChannel.json"))
    response = converter.structure(example.data, DeliveryResponse)
    assert response.prefetch is not None and response.prefetch.views is not None
    assert [v.extras for v in response.prefetch.views] == [{"id": 1}, {"id": 2}]
    assert converter.unstructure(response) == example.data


@needs_spec
@pytest.mark.parametrize("name", sorted(named_schemas()))
def test_every_spec_schema_has_a_model(name: str) -> None:
    loc = named_schemas()[name]
    model = getattr(models, name, None)
    assert model is not None, f"no model for {name} ({loc.file})"
    schema_kind = kind(loc.node)
    if schema_kind == "enum":
        assert issubclass(model, str) and issubclass(model, enum.Enum)
        assert [m.value for m in model] == loc.node["enum"]
        assert all(m.name == m.value.upper().replace("-", "_") for m in model)
    elif schema_kind == "object":
        assert attrs.has(model)
    else:
        assert schema_kind == "map"
        assert model == python_type(Located({"type": "object", **loc.node}, loc.file))


@needs_spec
@pytest.mark.parametrize("name", sorted(n for n, s in named_schemas().items() if kind(s.node) == "object"))
def test_model_fields_are_the_spec_properties(name: str) -> None:
    model = MODEL_CLASSES[name]
    props = properties(named_schemas()[name])
    keys = wire_names(model)
    assert sorted(keys.values()) == sorted(props), "model fields and spec properties differ"
    hints = typing.get_type_hints(model)
    for attr, key in keys.items():
        expected = python_type(props[key])
        assert hints[attr] == (expected if expected is Any else expected | None), attr


@needs_spec
@pytest.mark.parametrize("name", sorted(n for n, s in named_schemas().items() if kind(s.node) == "object"))
def test_synthetic_full_payload_round_trips(name: str) -> None:
    data = synthetic(named_schemas()[name])
    model = MODEL_CLASSES[name]
    obj = strict_converter.structure(data, model)
    assert strict_converter.unstructure(obj) == data
    assert all(getattr(obj, attr) is not None for attr in wire_names(model))


@needs_spec
def test_every_model_is_a_spec_schema() -> None:
    assert set(MODEL_CLASSES) | set(ENUM_CLASSES) <= set(named_schemas())


# --- model conventions --------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(MODEL_CLASSES))
def test_model_conventions(name: str) -> None:
    model = MODEL_CLASSES[name]
    fields = attrs.fields(model)
    assert fields[-1].name == "extras"
    assert fields[-1].eq is False and fields[-1].repr is False
    assert model().extras == {} and model().extras is not model().extras
    assert all(f.kw_only for f in fields)
    assert all(f.default is None for f in fields[:-1])
    assert not hasattr(model(), "__dict__"), "models are slotted"
    assert model.__doc__ and "\n" not in model.__doc__.strip()
    attrs.resolve_types(model)  # every annotation resolves


def test_package_exports() -> None:
    assert models.__all__ == sorted(models.__all__)
    assert delivery.__all__ == sorted(delivery.__all__)
    assert models.converter is serde.converter
    assert "converter" in models.__all__
    assert set(delivery.__all__) <= set(models.__all__)
    assert all(getattr(models, name) is getattr(delivery, name) for name in delivery.__all__)
    assert len(MODEL_CLASSES) == 50 and len(ENUM_CLASSES) == 10
    assert {"Parameters", "ResponseTokens", "TraceResponse"} <= set(delivery.__all__)


# --- 3. unknown keys ----------------------------------------------------------------------------------------


def test_unknown_response_keys_are_kept() -> None:
    payload = {"status": 200, "newKey": 1}
    response = converter.structure(payload, DeliveryResponse)
    assert response.extras == {"newKey": 1}
    assert converter.unstructure(response) == payload
    assert response == DeliveryResponse(status=200)  # extras take no part in equality


def test_unknown_nested_keys_are_kept() -> None:
    payload = {"execute": {"mboxes": [{"index": 1, "options": [{"type": "html", "future": {"a": [1]}}]}]}}
    response = converter.structure(payload, DeliveryResponse)
    assert response.execute is not None and response.execute.mboxes is not None
    options = response.execute.mboxes[0].options
    assert options is not None and options[0].extras == {"future": {"a": [1]}}
    assert converter.unstructure(response) == payload


def test_strict_converter_rejects_unknown_keys() -> None:
    with pytest.raises(cattrs.BaseValidationError) as info:
        strict_converter.structure({"status": 200, "newKey": 1}, DeliveryResponse)
    assert "newKey" in _validation_messages(info.value)
    with pytest.raises(ValidationError, match="newKey"):
        serde.structure({"status": 200, "newKey": 1}, DeliveryResponse, conv=strict_converter, what="response")


# --- 4. property test ---------------------------------------------------------------------------------------

_JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text()
)
_JSON = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
_MAX_DEPTH = 4


def strategy_for(tp: Any, depth: int = 0) -> st.SearchStrategy[Any]:
    """Values of a model annotation, built generically from the attrs fields (nesting bounded)."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        rest = [a for a in args if a is not type(None)]
        assert len(rest) == 1, tp
        return st.none() if depth >= _MAX_DEPTH else st.none() | strategy_for(rest[0], depth)
    if tp is Any:
        return _JSON
    if origin is list:
        return st.lists(strategy_for(args[0], depth + 1), max_size=2)
    if origin is dict:
        return st.dictionaries(st.text(max_size=8), strategy_for(args[1], depth + 1), max_size=3)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return st.sampled_from(tp)
    if attrs.has(tp):
        hints = typing.get_type_hints(tp)
        fields = {f.name: strategy_for(hints[f.name], depth + 1) for f in attrs.fields(tp) if f.name != "extras"}
        return st.builds(tp, **fields)
    scalars: dict[Any, st.SearchStrategy[Any]] = {
        str: st.text(max_size=12),
        int: st.integers(-(2**63), 2**63 - 1),
        float: st.floats(allow_nan=False, allow_infinity=False),
        bool: st.booleans(),
    }
    return scalars[tp]


@settings(max_examples=150, database=None, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(request=strategy_for(DeliveryRequest), response=strategy_for(DeliveryResponse))
def test_random_models_round_trip(request: DeliveryRequest, response: DeliveryResponse) -> None:
    for obj in (request, response):
        cls = type(obj)
        assert strict_converter.structure(serde.unstructure(obj), cls) == obj
        assert serde.loads(serde.dumps(obj), cls) == obj


# --- 5. enums -----------------------------------------------------------------------------------------------


def test_unknown_enum_value_stays_a_str() -> None:
    response = converter.structure(
        {"execute": {"pageLoad": {"options": [{"type": "hologram", "content": "x"}]}}}, DeliveryResponse
    )
    assert response.execute is not None and response.execute.page_load is not None
    options = response.execute.page_load.options
    assert options is not None and options[0].type == "hologram"
    assert type(options[0].type) is str
    assert converter.unstructure(options[0]) == {"type": "hologram", "content": "x"}
    context = converter.structure({"channel": "tv"}, Context)
    assert context.channel == "tv" and converter.unstructure(context) == {"channel": "tv"}


def test_enum_values_compare_with_wire_strings() -> None:
    option = converter.structure({"type": "json", "content": {"a": 1}}, Option)
    assert option.type == OptionType.JSON == "json"
    assert serde.unstructure(Option(type=OptionType.ACTIONS)) == {"type": "actions"}
    assert models.DecisioningMethod.ON_DEVICE == "on-device"
    assert models.AuthenticatedState.LOGGED_OUT == "logged_out"


def test_strict_converter_rejects_unknown_enum_value() -> None:
    with pytest.raises(cattrs.BaseValidationError) as info:
        strict_converter.structure({"context": {"channel": "tv"}}, DeliveryRequest)
    assert "$.context.channel" in _validation_messages(info.value)
    with pytest.raises(ValidationError) as err:
        serde.structure({"context": {"channel": "tv"}}, DeliveryRequest, conv=strict_converter)
    assert err.value.field == "request.context.channel"


def test_known_enum_value_becomes_a_member() -> None:
    assert converter.structure({"channel": "web"}, Context).channel is ChannelType.WEB
    assert strict_converter.structure({"channel": "web"}, Context).channel is ChannelType.WEB
    assert type(serde.unstructure(Context(channel=ChannelType.WEB))["channel"]) is str


# --- 6. validation errors -----------------------------------------------------------------------------------


def test_wrong_type_names_the_field() -> None:
    with pytest.raises(ValidationError) as info:
        serde.structure({"index": "1", "name": "m"}, MboxRequest)
    assert info.value.field == "request.index"

    with pytest.raises(ValidationError) as info:
        serde.structure({"context": {"channel": "web"}, "execute": {"mboxes": [{"index": "1"}]}}, DeliveryRequest)
    assert info.value.field == "request.execute.mboxes[0].index"

    with pytest.raises(ValidationError) as info:
        serde.loads(b'{"status": "200"}', DeliveryResponse)
    assert info.value.field == "response.status"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"context": {"beacon": "true"}}, "request.context.beacon"),
        ({"context": {"screen": {"width": "1"}}}, "request.context.screen.width"),
        ({"notifications": [{"timestamp": 1.5}]}, "request.notifications[0].timestamp"),
        ({"execute": {"mboxes": [{"parameters": {"a": 1}}]}}, "request.execute.mboxes[0].parameters['a']"),
        (
            {"id": {"customerIds": [{"authenticatedState": 2}]}},
            "request.id.customer_ids[0].authenticated_state",
        ),
    ],
)
def test_wrong_types_are_rejected(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        serde.structure(payload, DeliveryRequest)
    assert info.value.field == field


def test_a_string_is_not_a_list() -> None:
    with pytest.raises(ValidationError) as info:
        serde.structure({"notifications": [{"tokens": "abc"}]}, DeliveryRequest)
    assert info.value.field == "request.notifications[0].tokens"
