"""How Graph routes learn their caller: `caller` runs on every route; `established` reads its result."""

from __future__ import annotations

import pytest
from starlette.requests import Request

from passbridge.graph.auth import established
from passbridge.tokens.service import TokenRejected


def test_established_fails_closed_when_no_caller_was_verified_for_the_request() -> None:
    request = Request({"type": "http", "method": "GET", "path": "/v1.0/me", "headers": []})
    with pytest.raises(TokenRejected) as raised:
        established(request)
    assert raised.value.message == "Access token is empty."
