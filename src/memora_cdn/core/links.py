"""Links (SPEC §3): a key in URL form, relative to the key of the document that holds it."""

from __future__ import annotations

from urllib.parse import parse_qs, quote, unquote, urljoin, urlsplit

VERSION_HEX = 12
"""A link's `?v=` is this many hex digits of the SHA-256 of the target's body."""

_BASE = "http://store.invalid/root/"
"""Where links are resolved for checking: any base works; this one shows a link that climbs
out of the store root (which a client under a prefix would follow out of the store)."""


def key_url(key: str) -> str:
    """The key in URL form: each path segment URL-encoded once more (`%` → `%25`), so that a
    static web server, S3/R2 or a CDN that decodes the path finds the file named by the key."""
    return "/".join(quote(part, safe="") for part in key.split("/"))


def link(from_key: str, to_key: str, version: str | None = None) -> str:
    """The relative reference from the document at `from_key` to the one at `to_key`, with
    `?v=version` when given: `subjects/S1.json?v=…` from a manifest, `../lessons/L1.json?v=…`
    from a unit. Resolved against the holding document's URL it gives `to_key` in URL form.
    """
    folder = from_key.split("/")[:-1]
    target = to_key.split("/")
    common = 0
    while common < min(len(folder), len(target) - 1) and folder[common] == target[common]:
        common += 1
    steps = [".."] * (len(folder) - common) + [quote(part, safe="") for part in target[common:]]
    reference = "/".join(steps)
    return f"{reference}?v={version}" if version is not None else reference


def resolve_link(from_key: str, reference: str) -> str | None:
    """The key a link held by the document at `from_key` names (its resolved path,
    percent-decoded), or None when it leads out of the store: another host, or above the root.
    """
    resolved = urlsplit(urljoin(_BASE + key_url(from_key), reference))
    root = urlsplit(_BASE)
    if (resolved.scheme, resolved.netloc) != (root.scheme, root.netloc):
        return None
    if not resolved.path.startswith(root.path) or resolved.path == root.path:
        return None
    return unquote(resolved.path[len(root.path) :], errors="replace")


def link_version(reference: str) -> str | None:
    """The `?v=` a link carries, or None."""
    values = parse_qs(urlsplit(reference).query).get("v")
    return values[0] if values else None
