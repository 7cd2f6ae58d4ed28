"""Where a finished sign-in may send the browser: a path on this site, or a registered redirect URI."""

from __future__ import annotations

from urllib.parse import urlsplit

from passbridge.directory import queries as directory_store
from passbridge.domain.errors import InvalidInput
from passbridge.store.tx import Tx


def is_local_path(value: str) -> bool:
    """A path on this site (no scheme, no host, not protocol-relative); a backslash is refused, as
    some browsers read it as a slash."""
    parts = urlsplit(value)
    if not parts.scheme and not parts.netloc and value.startswith("/") and not value.startswith("//"):
        if "\\" in value:
            raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")
        return True
    return False


def allowed_return_to(tx: Tx, value: str | None) -> str | None:
    """A path on this site, or an address registered as some application's redirect URI; else refused,
    so a link cannot send a freshly signed-in user to a stranger's site."""
    if value is None or value == "":
        return None
    if is_local_path(value):
        return value
    without_query = urlsplit(value)._replace(query="", fragment="").geturl()
    for app in directory_store.applications(tx):
        if without_query in (app.redirect_uris or []):
            return value
    raise InvalidInput("return_to must be a path on this site or a registered redirect URI.")
