"""Media URLs in a stage config: whether any sits under the configured `signed_keys`."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit


def holds_url(value: Any, keys: frozenset[str]) -> bool:
    """Whether a string under one of `keys`, in `value` or any object nested in it (as
    `signed_keys` are matched for signing), is an absolute URL."""
    if isinstance(value, dict):
        return any(
            (key in keys and _is_url(item)) or holds_url(item, keys) for key, item in value.items()
        )
    if isinstance(value, list):
        return any(holds_url(item, keys) for item in value)
    return False


def _is_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        parts = urlsplit(value.strip())
    except ValueError:  # such as an unclosed IPv6 bracket: not a URL a player can open
        return False
    return parts.scheme.lower() in ("http", "https", "s3") and bool(parts.netloc)
