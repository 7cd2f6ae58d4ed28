"""The tenant's live passes, and revoking several at once (the admin portal's "Live passes").

Reading every user's passes takes what reading any other user's methods takes (methods/access.py); each
revocation is TapService's own delete, in its own transaction, so the issuer tiers apply per pass and one
refusal leaves the others done.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from passbridge.domain.errors import DomainError
from passbridge.methods.access import check_reads_everyone
from passbridge.passes.inventory_queries import LiveFilter, LivePass, live_passes
from passbridge.passes.service import READ_SCOPES, TapService
from passbridge.services.context import Env, Principal
from passbridge.store.tx import Tx


def live(
    tx: Tx, env: Env, principal: Principal, wanted: LiveFilter, *, offset: int, limit: int
) -> list[LivePass]:
    check_reads_everyone(principal, READ_SCOPES)
    return live_passes(tx, env.clock.now(), wanted, offset=offset, limit=limit)


@dataclass(frozen=True)
class Revoked:
    done: int
    refused: list[str]  # one sentence per pass left alone, naming its holder


def revoke(env: Env, principal: Principal, chosen: Sequence[tuple[str, str]]) -> Revoked:
    """Delete each chosen (user id, pass id), each in its own transaction."""
    done, refused = 0, []
    for user_id, pass_id in chosen:
        try:
            with env.db.transaction() as tx:
                TapService(tx, env, principal).delete(user_id, pass_id)
        except DomainError as exc:
            refused.append(exc.message)
        else:
            done += 1
    return Revoked(done, refused)
