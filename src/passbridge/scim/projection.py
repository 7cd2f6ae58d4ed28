"""`attributes` and `excludedAttributes` (RFC 7644 §3.4.2.5, §3.9): which attributes a response carries.

`id` and `schemas` are always returned; `meta` too unless excluded by name. Names are case-insensitive and
may carry their schema's URN (`urn:...:enterprise:2.0:User:department`) or a sub-attribute (`emails.value`).
"""

from __future__ import annotations

from typing import Any

from passbridge.scim.schemas import GROUP_SCHEMA, USER_SCHEMA

Document = dict[str, Any]
_ALWAYS = {"id", "schemas"}
_CORE = (USER_SCHEMA.lower() + ":", GROUP_SCHEMA.lower() + ":")


def parse_names(text: str | None) -> list[str]:
    if not text:
        return []
    return [name.strip() for name in text.split(",") if name.strip()]


def _split(name: str, extensions: list[str]) -> tuple[str | None, str, str | None]:
    """(extension URN or None, attribute, sub-attribute) of a requested name."""
    lowered = name.lower()
    for prefix in _CORE:
        if lowered.startswith(prefix):
            lowered = lowered[len(prefix) :]
            break
    for urn in extensions:
        if lowered.startswith(urn.lower() + ":"):
            rest = lowered[len(urn) + 1 :]
            attr, _, sub = rest.partition(".")
            return urn, attr, sub or None
        if lowered == urn.lower():
            return urn, "", None
    attr, _, sub = lowered.partition(".")
    return None, attr, sub or None


def _pick(value: Any, sub: str | None) -> Any:
    if sub is None:
        return value
    if isinstance(value, list):
        kept = [
            {k: v for k, v in entry.items() if k.lower() == sub} for entry in value if isinstance(entry, dict)
        ]
        return [entry for entry in kept if entry]
    if isinstance(value, dict):
        return {k: v for k, v in value.items() if k.lower() == sub}
    return value


def _find(container: Document, attr: str) -> str | None:
    return next((key for key in container if key.lower() == attr), None)


def project(document: Document, attributes: list[str], excluded: list[str]) -> Document:
    if not attributes and not excluded:
        return document
    extensions = [s for s in document.get("schemas", []) if s not in (USER_SCHEMA, GROUP_SCHEMA)]
    if attributes:
        result: Document = {k: v for k, v in document.items() if k in _ALWAYS}
        for name in attributes:
            urn, attr, sub = _split(name, extensions)
            source = document.get(urn, {}) if urn else document
            if urn and not attr:
                result[urn] = source
                continue
            key = _find(source, attr) if isinstance(source, dict) else None
            if key is None:
                continue
            picked = _pick(source[key], sub)
            target = result.setdefault(urn, {}) if urn else result
            if sub is not None and key in target and isinstance(target[key], list):
                target[key] = [dict(a, **b) for a, b in zip(target[key], picked, strict=False)]
            else:
                target[key] = picked
        return result
    result = dict(document)
    for name in excluded:
        urn, attr, sub = _split(name, extensions)
        container = result.get(urn) if urn else result
        if not isinstance(container, dict):
            continue
        if urn and not attr:
            result.pop(urn, None)
            continue
        key = _find(container, attr)
        if key is None or key in _ALWAYS:
            continue
        if sub is None:
            container = dict(container)
            container.pop(key)
        if urn:
            result[urn] = container
        else:
            result = container
    return result
