"""What a search of either log may ask for: the conditions of Graph's $filter subset, as values the
queries run (audit_queries.py, signin_log_queries.py). Pure: graph/log_query.py reads the text into them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

AuditComparison = Literal["ge", "le", "gt", "lt"]


@dataclass(frozen=True)
class AuditFilter:
    """Conditions that must all hold (the OData filter's `and`)."""

    times: tuple[tuple[AuditComparison, datetime], ...] = ()
    activities: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    target_ids: tuple[str, ...] = field(default=())
    results: tuple[str, ...] = ()  # "success", "failure" (the admin portal's filter)


SignInComparison = Literal["eq", "ge", "le", "gt", "lt"]


@dataclass(frozen=True)
class SignInFilter:
    """Conditions that must all hold (the OData filter's `and`)."""

    times: tuple[tuple[SignInComparison, datetime], ...] = ()
    user_principal_names: tuple[str, ...] = ()
    user_ids: tuple[str, ...] = ()
    app_ids: tuple[str, ...] = ()
    error_codes: tuple[int, ...] = ()
    failed: bool | None = None  # only failures (error code not 0), only successes, or both (the portal's)
