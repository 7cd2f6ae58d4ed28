"""The one check every way of issuing a pass goes through (TapService.plan): whether dual control asks a
second administrator to approve this pass first (docs/dual-control.md). A caller that cannot hold a request
(bulk issuing, the joiner workflow) sees ApprovalRequired as a refusal; passes/approval.py turns it into
a stored request."""

from __future__ import annotations

from passbridge.directory import queries as directory_store
from passbridge.directory.rules import ADMIN_ROLES
from passbridge.domain.errors import DomainError
from passbridge.passes import approval_queries as store
from passbridge.passes.approval_rules import why_needed
from passbridge.passes.rules import PassTerms
from passbridge.store.models import User
from passbridge.store.tx import Tx

ADMIN_ROLE_IDS = frozenset(r.value for r in ADMIN_ROLES)


class ApprovalRequired(DomainError):
    """This pass needs a second administrator's approval before it exists; nothing was written."""

    def __init__(self, user: User, terms: PassTerms, why: str) -> None:
        super().__init__(f"This pass needs approval by a second administrator: {why}.")
        self.user, self.terms, self.why = user, terms, why


def check(tx: Tx, user: User, terms: PassTerms) -> None:
    """Raise ApprovalRequired when dual control applies to a pass on `terms` for `user`."""
    settings, _ = store.settings(tx)
    if not settings.enabled:
        return
    holds_role = settings.for_role_holders and bool(
        set(directory_store.role_ids_of(tx, user.id)) & ADMIN_ROLE_IDS
    )
    why = why_needed(settings, holds_role=holds_role, lifetime_minutes=terms.lifetime_minutes)
    if why is not None:
        raise ApprovalRequired(user, terms, why)
