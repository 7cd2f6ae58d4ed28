"""Finding people by what a helpdesk knows of them: the start of a display name, a sign-in name or an email
address (the admin portal's search).

Each of the three is an index range on its own (directory/queries.py); a page is the three ranges from the
same key (sign-in name, then id) merged and deduplicated, so the search costs what its matches cost, at
any size of directory, and pages by key like every other listing.
"""

from __future__ import annotations

from passbridge.directory import access
from passbridge.directory import queries as store
from passbridge.directory.service import USER_READ, Found
from passbridge.services.context import Principal
from passbridge.store.models import User
from passbridge.store.tx import Tx


def find_people(
    tx: Tx, principal: Principal, text: str, *, after: store.UserKey | None, limit: int
) -> Found[User]:
    """Users whose display name, sign-in name or email starts with `text` (any case), by sign-in name."""
    access.require_app_permission(principal, *USER_READ)
    wanted = text.strip()
    if not wanted:
        rows = store.find_users(tx, (), after=after, limit=limit + 1)
    else:
        found: dict[str, User] = {}
        for field in ("displayName", "userPrincipalName", "mail"):
            condition = store.Condition(field, "startswith", wanted)
            for user in store.find_users(tx, (condition,), after=after, limit=limit + 1):
                found.setdefault(user.id, user)
        rows = sorted(found.values(), key=store.user_key)[: limit + 1]
    more = len(rows) > limit
    return Found(rows[:limit], store.user_key(rows[limit - 1]) if more else None)
