"""The one reader of posted forms, for the pages, the token endpoint, logout and userinfo.

Most of these endpoints take posts from anyone, so the body is bounded before it is read: a
Content-Length over the edge's limit is refused without reading a byte, and a body without one (chunked)
is read only until it passes the limit. Then at most `max_fields` fields are parsed, and a field holding
a NUL or a lone surrogate is refused: PostgreSQL refuses the first even in a lookup, UTF-8 the second,
and either would be a 500 wherever a field reaches a query. Each edge answers the two refusals in its
own shape (a page, or an OAuth JSON error): this module only says which it was.
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.types import Message

from passbridge.domain.text import unstorable_reason

URLENCODED = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"

Fields = list[tuple[str, str]]


class FormTooLarge(Exception):
    """The body is larger than any form this endpoint takes (answered 413)."""


class FormUnreadable(Exception):
    """The body is not a form we can read: not UTF-8, too many fields, or a field we cannot store."""


def media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


async def read_form(
    request: Request, *, max_bytes: int, max_fields: int, multipart: bool = False
) -> Fields | None:
    """The posted fields in order, repeated names kept; None when the body is not a form this endpoint
    reads (urlencoded, and multipart where `multipart`), in which case it is not read at all.
    Raises FormTooLarge past `max_bytes`, FormUnreadable as the class says."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise FormTooLarge()
    kind = media_type(request.headers.get("content-type"))
    if kind != URLENCODED and not (multipart and kind == MULTIPART):
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormTooLarge()
    if kind == URLENCODED:
        # parse_qsl reads it as Starlette's parser does (each name and value percent-decoded as UTF-8,
        # invalid sequences replaced) at a fraction of the cost of python-multipart's callback parser,
        # which is noticeable beside a sign-in's hash or a token grant.
        try:
            fields = parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=max_fields)
        except (UnicodeDecodeError, ValueError) as exc:
            raise FormUnreadable() from exc
    else:
        fields = await _multipart(request, bytes(body), max_fields)
    return _storable(fields)


async def _multipart(request: Request, body: bytes, max_fields: int) -> Fields:
    """Starlette's multipart parser, fed the body already read (and bounded) above; files refused."""
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": body, "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=0, max_fields=max_fields)
    except HTTPException as exc:
        raise FormUnreadable() from exc
    return [(key, value) for key, value in form.multi_items() if not isinstance(value, UploadFile)]


def _storable(fields: Fields) -> Fields:
    for key, value in fields:
        if unstorable_reason(key) is not None or unstorable_reason(value) is not None:
            raise FormUnreadable()
    return fields


async def read_upload(
    request: Request, *, max_bytes: int, max_fields: int
) -> tuple[Fields, dict[str, bytes]]:
    """A multipart form with files (the admin portal's CSV upload): its text fields, checked as `read_form`
    checks them, and each file's bytes by field name. The whole body is bounded by `max_bytes` before it
    is parsed. Raises FormTooLarge, or FormUnreadable for anything but a readable multipart body."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > max_bytes):
        raise FormTooLarge()
    if media_type(request.headers.get("content-type")) != MULTIPART:
        raise FormUnreadable()
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > max_bytes:
            raise FormTooLarge()
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if replayed:
            return {"type": "http.disconnect"}
        replayed = True
        return {"type": "http.request", "body": bytes(body), "more_body": False}

    try:
        form = await Request(request.scope, replay).form(max_files=1, max_fields=max_fields)
        fields: Fields = []
        files: dict[str, bytes] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                files[key] = await value.read()
            else:
                fields.append((key, value))
    except HTTPException as exc:
        raise FormUnreadable() from exc
    return _storable(fields), files
