"""graph/log_query.py: the logs' $filter walk and $orderby, shared by directoryAudits and signIns."""

from __future__ import annotations

import re

import pytest
from starlette.requests import Request

from passbridge.graph.errors import GraphError
from passbridge.graph.log_query import oldest_first, read_clauses

_WORD = re.compile(r"w(\d)")
SUPPORTED = "w<digit>"


def read(text: str) -> list[str]:
    seen: list[str] = []

    def word(rest: str) -> re.Match[str] | None:
        if found := _WORD.match(rest):
            seen.append(found.group(1))
        return found

    read_clauses(text, SUPPORTED, (lambda rest: None, word))
    return seen


def test_clauses_joined_with_and_are_read_in_order_by_the_first_reader_that_knows_them() -> None:
    assert read("  w1 and w2   AND  w3 ") == ["1", "2", "3"]


@pytest.mark.parametrize(
    ("text", "near"),
    [("w1 or w2", "or w2"), ("w1 and x", "x"), ("w1 and", "and"), ("w1w2", "w2"), ("x", "x")],
)
def test_anything_outside_the_subset_is_refused_naming_where(text: str, near: str) -> None:
    with pytest.raises(GraphError) as raised:
        read(text)
    assert raised.value.status == 400
    assert f"near '{near}'" in raised.value.message and SUPPORTED in raised.value.message


def test_an_empty_filter_is_refused() -> None:
    with pytest.raises(GraphError, match="empty"):
        read("   ")


def request(query: bytes) -> Request:
    return Request({"type": "http", "method": "GET", "path": "/", "query_string": query, "headers": []})


@pytest.mark.parametrize(
    ("query", "ascending"),
    [
        (b"", False),
        (b"%24orderby=createdDateTime%20desc", False),
        (b"%24orderby=createddatetime", True),
        (b"%24orderby=createdDateTime%20%20ASC", True),
    ],
)
def test_newest_first_unless_asked_for_the_time_ascending(query: bytes, ascending: bool) -> None:
    assert oldest_first(request(query), "createdDateTime") is ascending


def test_ordering_by_anything_else_is_refused() -> None:
    with pytest.raises(GraphError, match=re.escape("Supported: createdDateTime asc|desc.")):
        oldest_first(request(b"%24orderby=userId"), "createdDateTime")
