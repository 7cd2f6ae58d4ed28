"""The query options of the two logs, auditLogs/directoryAudits and auditLogs/signIns: a subset of
OData $filter (clauses joined with `and`, each a comparison the log's store can run) and $orderby on
the entry's time. Anything outside the subset is refused, never ignored: a silently dropped condition
would return entries the caller did not ask for."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from fastapi import Request

from passbridge.graph.errors import GraphError
from passbridge.graph.odata import INVALID_TOKEN, Page
from passbridge.logs.queries import EntryKey

FILTER_STRING = r"'((?:[^']|'')*)'"
_AND = re.compile(r"\s+and\s+", re.IGNORECASE)
_TIMESTAMP = r"('?)(\d{4}-\d{2}-\d{2}(?:T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?)\2"

# Reads one clause at the start of the text it is given and records it: its match, or None when the
# text does not start with a clause it knows.
ClauseReader = Callable[[str], re.Match[str] | None]


def time_comparison(prop: str, operators: str) -> re.Pattern[str]:
    """`prop op timestamp`, quoted or not; groups: operator, quote, timestamp."""
    return re.compile(rf"{prop}\s+({operators})\s+{_TIMESTAMP}", re.IGNORECASE)


def filter_timestamp(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise GraphError(400, "badRequest", f"Invalid timestamp '{text}' in $filter.") from None
    # Graph reads a timestamp without an offset as UTC.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def unquoted(text: str) -> str:
    """An OData string literal's content: '' stands for one quote."""
    return text.replace("''", "'")


def unsupported_filter(text: str, supported: str) -> GraphError:
    return GraphError(
        400, "badRequest", f"Unsupported or invalid $filter near '{text[:60]}'. Supported: {supported}."
    )


def read_clauses(text: str, supported: str, readers: Sequence[ClauseReader]) -> None:
    """Walk `text`, clauses joined with `and`, giving each to the first reader that knows it."""
    rest = text.strip()
    if not rest:
        raise GraphError(400, "badRequest", f"$filter is empty. Supported: {supported}.")
    while True:
        found = next((m for read in readers if (m := read(rest)) is not None), None)
        if found is None:
            raise unsupported_filter(rest, supported)
        rest = rest[found.end() :]
        if not rest.strip():
            return
        joiner = _AND.match(rest)
        if joiner is None:
            raise unsupported_filter(rest.strip(), supported)
        rest = rest[joiner.end() :]


def oldest_first(request: Request, prop: str) -> bool:
    """Whether $orderby asks for `prop` ascending; newest first (descending) is the default."""
    text = request.query_params.get("$orderby")
    if text is None:
        return False
    wanted, name = " ".join(text.split()).casefold(), prop.casefold()
    if wanted == f"{name} desc":
        return False
    if wanted in (name, f"{name} asc"):
        return True
    raise GraphError(400, "badRequest", f"Unsupported $orderby '{text}'. Supported: {prop} asc|desc.")


def entry_after(page: Page) -> EntryKey | None:
    """The log entry a page starts after, from its `$skiptoken` (`entry_token`'s text)."""
    if page.after is None:
        return None
    try:
        return (datetime.fromisoformat(page.after[0]), page.after[1])
    except ValueError:
        raise GraphError(400, "badRequest", INVALID_TOKEN) from None


def entry_token(key: EntryKey | None) -> tuple[str, str] | None:
    return None if key is None else (key[0].isoformat(), key[1])
