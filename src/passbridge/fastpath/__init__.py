"""Fast paths: the few places Passbridge steps past a library's general machinery, kept because each
was measured to save at least 5 % of the CPU of the request it serves (`bench/fastpath`, figures in
docs/architecture.md "Fast paths"), and nothing else of the kind anywhere.

One switch: `PASSBRIDGE_FASTPATH` (config.py, on by default). `PASSBRIDGE_FASTPATH=0` runs the plain
framework path everywhere, and the test suite runs both ways (scripts/test). Each bypass relies on
internals of the library versions its module's docstring names, listed again in `REQUIRES`: when the
installed version is another one, that bypass stays off, with one log line at start-up, so that a
version bump can make Passbridge slower but never wrong. pyproject.toml pins those libraries to the
same minor versions.

Switched at start-up (`configure`, which create_app calls with the setting): routes are built then.
The import-time state comes from the environment, for code that runs without an app (the CLI).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable
from importlib import metadata

from pydantic import TypeAdapter, ValidationError

log = logging.getLogger("passbridge.fastpath")

# Each bypass: the distributions (and their major.minor) whose internals it uses.
REQUIRES: dict[str, tuple[tuple[str, str], ...]] = {
    "routing": (("fastapi", "0.163"), ("starlette", "1.10")),
    "graph_route": (("fastapi", "0.163"),),
    "token_shortcut": (("starlette", "1.10"),),
    "prepared": (("sqlalchemy", "2.1"),),
    "jws": (("joserfc", "1.8"),),
}

_off: frozenset[str] = frozenset()
_without: frozenset[str] = frozenset()
_reported = False


def _installed(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def mismatched() -> dict[str, list[str]]:
    """The bypasses whose libraries are installed at versions other than the ones they were written
    for, each with what differs ("fastapi 0.164.0, written for 0.163")."""
    found: dict[str, list[str]] = {}
    for name, requirements in REQUIRES.items():
        for distribution, minor in requirements:
            version = _installed(distribution)
            if version is None or (version != minor and not version.startswith(minor + ".")):
                found.setdefault(name, []).append(f"{distribution} {version}, written for {minor}")
    return found


def configure(enabled: bool, *, without: Iterable[str] | None = None) -> None:
    """Switch the fast paths on (those whose library versions match, less `without`, which stays as
    given until given again: bench/fastpath switches them off one at a time) or all off. Apps built
    afterwards route accordingly."""
    global _off, _without, _reported
    if without is not None:
        unknown = set(without) - REQUIRES.keys()
        if unknown:
            raise ValueError(f"no such fast path: {', '.join(sorted(unknown))}")
        _without = frozenset(without)
    if not enabled:
        _off = frozenset(REQUIRES)
        return
    differ = mismatched()
    if differ and not _reported:
        _reported = True
        log.warning(
            "fast paths %s off (the plain path serves): %s",
            ", ".join(differ),
            "; ".join(sorted({d for ds in differ.values() for d in ds})),
        )
    _off = frozenset(differ) | _without


def active(name: str) -> bool:
    """Whether the named bypass serves (KeyError-safe: a misspelt name is simply never active)."""
    return name in REQUIRES and name not in _off


def setting_from_environment() -> bool:
    """PASSBRIDGE_FASTPATH as config.py reads it (pydantic's booleans: 0/1, false/true, off/on)."""
    try:
        return TypeAdapter(bool).validate_python(os.environ.get("PASSBRIDGE_FASTPATH", "1"))
    except ValidationError:
        return True  # load_settings refuses the value with one line when the app or CLI starts


configure(setting_from_environment())
