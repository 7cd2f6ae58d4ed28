"""Text every edge may store: the one check Graph bodies, the CLI and (later) SCIM share.

Python strings can hold what no database column can: a lone UTF-16 surrogate (JSON's `"\\ud800"`, or
invalid UTF-8 bytes in argv, which Python decodes with surrogateescape) fails to encode to UTF-8, and
PostgreSQL refuses NUL in text. Either would surface as a 500 at the database, or when an error message
quoting the value is encoded, so both are refused first, with a message that never quotes the value.
"""

from __future__ import annotations

from passbridge.domain.errors import InvalidInput


def unstorable_reason(text: str) -> str | None:
    """Why `text` cannot be stored, in words; None when it can."""
    if "\x00" in text:
        return "a NUL character"
    if text.isascii():
        return None
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return "a lone surrogate character (half of a UTF-16 pair)"
    return None


def check_storable(text: str, *, what: str) -> str:
    """`text` unchanged, or InvalidInput naming `what` (never quoting `text`)."""
    reason = unstorable_reason(text)
    if reason is not None:
        raise InvalidInput(f"{what} contains {reason}, which is not valid text; send valid Unicode.")
    return text
