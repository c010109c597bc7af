"""Stage configs read as strict JSON: a value that writes back unchanged, or why not (SPEC §3)."""

from __future__ import annotations

import json
import math
from typing import Any

from memora_cdn.core.documents import dumps

CONFIG_MAX_BYTES = 1_000_000
CONFIG_MAX_DEPTH = 64
_INT_RANGE = (-(2**63), 2**64 - 1)


def strict_json_object(text: str) -> tuple[dict[str, Any], str | None]:
    """A stage config parsed as a JSON object that writes back as strict JSON, or `{}` and
    why not (SPEC §3: NaN/Infinity, integers beyond 64 bits, nesting deeper than 64, lone
    surrogates, over 1 MB, not an object)."""
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > CONFIG_MAX_BYTES:
        return {}, f"is {size} bytes, over {CONFIG_MAX_BYTES}"
    try:
        value = json.loads(
            text,
            parse_constant=reject_constant,
            parse_int=_checked_int,
            parse_float=_checked_float,
        )
    except RecursionError:
        return {}, f"nests deeper than {CONFIG_MAX_DEPTH}"
    except ValueError as error:
        return {}, f"is not valid JSON ({error})"
    if not isinstance(value, dict):
        return {}, "is JSON but not an object"
    if _depth(value) > CONFIG_MAX_DEPTH:
        return {}, f"nests deeper than {CONFIG_MAX_DEPTH}"
    try:
        dumps(value)
    except (TypeError, ValueError) as error:  # orjson.JSONEncodeError: lone surrogates
        return {}, f"cannot be written as strict JSON ({error})"
    return value, None


def reject_constant(name: str) -> object:
    """`parse_constant` for `json.loads` that refuses NaN and ±Infinity."""
    raise ValueError(f"{name} is not a JSON number")


def _checked_int(text: str) -> int:
    number = int(text)
    if not _INT_RANGE[0] <= number <= _INT_RANGE[1]:
        raise ValueError(f"integer {text[:30]} is beyond 64 bits")
    return number


def _checked_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number {text[:30]} is not finite")
    return number


def _depth(value: object) -> int:
    """How deeply arrays and objects nest in a parsed JSON value (a scalar: 0)."""
    deepest = 0
    pending: list[tuple[object, int]] = [(value, 1)]
    while pending:
        item, level = pending.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            deepest = max(deepest, level)
            pending.extend((child, level + 1) for child in item)
    return deepest
