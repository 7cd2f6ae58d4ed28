"""OData query helpers shared by collections: paging with $top and @odata.nextLink."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from passbridge.graph.errors import GraphError

DEFAULT_PAGE = 100
MAX_PAGE = 999


@dataclass(frozen=True)
class Page:
    top: int
    offset: int


def page_of(request: Request, *, default: int = DEFAULT_PAGE) -> Page:
    params = request.query_params
    top_text = params.get("$top")
    top = default
    if top_text is not None:
        if not top_text.isdigit() or not 1 <= int(top_text) <= MAX_PAGE:
            raise GraphError(
                400,
                "badRequest",
                f"Invalid page size specified: '{top_text}'. Must be between 1 and {MAX_PAGE} inclusive.",
            )
        top = int(top_text)
    offset = 0
    token = params.get("$skiptoken")
    if token is not None:
        try:
            offset = int(base64.urlsafe_b64decode(token.encode()).decode().removeprefix("o:"))
        except (ValueError, UnicodeDecodeError):
            raise GraphError(400, "badRequest", "The $skiptoken is invalid.") from None
    return Page(top, offset)


def context_url(request: Request, fragment: str) -> str:
    version = request.url.path.split("/")[1]
    base = request.app.state.env.settings.base_url
    return f"{base}/{version}/$metadata#{fragment}"


def collection(
    request: Request,
    fragment: str,
    items: list[dict[str, Any]],
    *,
    page: Page,
    has_more: bool,
    count: int | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"@odata.context": context_url(request, fragment)}
    if count is not None:
        body["@odata.count"] = count
    if has_more:
        params = {k: v for k, v in request.query_params.items() if k != "$skiptoken"}
        params["$skiptoken"] = base64.urlsafe_b64encode(f"o:{page.offset + page.top}".encode()).decode()
        base = request.app.state.env.settings.base_url
        body["@odata.nextLink"] = f"{base}{request.url.path}?{urlencode(params)}"
    body["value"] = items
    return body
