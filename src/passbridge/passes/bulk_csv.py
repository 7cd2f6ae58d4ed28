"""The two CSV files of bulk issuing: the list of sign-in names read in, and the result handed out."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from passbridge.clock import iso_z
from passbridge.domain.errors import InvalidInput
from passbridge.domain.text import unstorable_reason
from passbridge.passes.bulk import MAX_TARGETS, Outcome

MAX_CSV_BYTES = 8 * 1024 * 1024  # 100,000 names of 80 characters; a spreadsheet's export of more is a mistake
NAME_COLUMNS = ("upn", "userprincipalname")
RESULT_COLUMNS = ("upn", "pass", "start", "end", "one-time", "status", "reason")


def read_names(data: bytes, name: str) -> list[str]:
    """The sign-in names in the `upn` (or `userPrincipalName`) column, in order, blank cells skipped.
    Every way the file can be wrong ends as one InvalidInput naming `name`."""
    if len(data) > MAX_CSV_BYTES:
        raise InvalidInput(f"{name} is larger than {MAX_CSV_BYTES // (1024 * 1024)} MiB; split it.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InvalidInput(f"{name} is not UTF-8 text; save it as CSV UTF-8.") from None
    refused = unstorable_reason(text)
    if refused is not None:
        raise InvalidInput(f"{name} contains {refused}.")
    try:
        rows = list(csv.reader(io.StringIO(text, newline="")))
    except csv.Error as exc:
        raise InvalidInput(f"{name} is not a readable CSV file: {exc}.") from None
    if not rows or not any(cell.strip() for cell in rows[0]):
        raise InvalidInput(f"{name} is empty: it needs a header row with a 'upn' column and a name per row.")
    header = [cell.strip().casefold() for cell in rows[0]]
    column = next((header.index(c) for c in NAME_COLUMNS if c in header), None)
    if column is None:
        raise InvalidInput(
            f"{name} has no 'upn' column in its first row (found: {', '.join(rows[0])[:200]})."
        )
    names = [row[column].strip() for row in rows[1:] if len(row) > column and row[column].strip()]
    if not names:
        raise InvalidInput(f"{name} lists nobody under its 'upn' column.")
    if len(names) > MAX_TARGETS:
        raise InvalidInput(f"{name} lists {len(names)} people; one run issues at most {MAX_TARGETS}.")
    return names


def result_csv(outcomes: Iterable[Outcome]) -> str:
    """upn, pass, start, end, one-time, status, reason: one row per target, in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for o in outcomes:
        writer.writerow(
            [
                _cell(o.upn or o.target),
                o.value or "",
                iso_z(o.start) if o.start else "",
                iso_z(o.end) if o.end else "",
                "" if o.one_time is None else ("yes" if o.one_time else "no"),
                o.status,
                _cell(o.reason or ""),
            ]
        )
    return out.getvalue()


def _cell(text: str) -> str:
    # A name from an uploaded file opens in a spreadsheet: never let it start a formula there.
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
