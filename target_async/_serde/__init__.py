"""JSON <-> model conversion: one naming rule, one cattrs converter (private)."""

from ._clone import CloneDoubt, clone
from ._converter import (
    JSON_DECODE_ERRORS,
    build_converter,
    converter,
    dumps,
    json_dumps,
    json_loads,
    loads,
    strict_converter,
    structure,
    unstructure,
)
from ._naming import json_key, wire_names

__all__ = [
    "JSON_DECODE_ERRORS",
    "CloneDoubt",
    "build_converter",
    "clone",
    "converter",
    "dumps",
    "json_dumps",
    "json_key",
    "json_loads",
    "loads",
    "strict_converter",
    "structure",
    "unstructure",
    "wire_names",
]
