"""Helpers for the Temporary Access Pass API tests: delegated tokens, store snapshots, policy, audit."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.services.context import Env
from passbridge.store.models import AuditEntry, TemporaryAccessPass, User
from passbridge.tokens.service import sign_claims

TAP_TYPE = "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
BASE = "http://localhost:8000"
WRITE = "UserAuthenticationMethod.ReadWrite.All"
PASS_KEYS = {
    "@odata.type",
    "id",
    "temporaryAccessPass",
    "createdDateTime",
    "startDateTime",
    "lifetimeInMinutes",
    "isUsableOnce",
    "isUsable",
    "methodUsabilityReason",
    # A Passbridge extension (docs/purpose-bound-passes.md), on every read: Graph clients ignore it.
    "purpose",
}


def user_auth(env: Env, user_id: str, *scopes: str) -> dict[str, str]:
    """Headers with a delegated (user) token holding `scopes`, as the sign-in flow will mint them."""
    now = int(env.clock.now().timestamp())
    claims = {
        "iss": env.settings.base_url,
        "aud": env.settings.base_url,
        "sub": user_id,
        "oid": user_id,
        "idtyp": "user",
        "scp": " ".join(scopes),
        "azp": str(uuid.uuid4()),
        # As a pass sign-in leaves them: changing one's own methods needs a recent multi-factor sign-in.
        "amr": ["tap", "mfa"],
        "acr": "mfa",
        "auth_time": now,
        "iat": now,
        "nbf": now,
        "exp": now + 3600,
        "jti": str(uuid.uuid4()),
        "ver": "2.0",
    }
    with env.db.transaction("read") as tx:
        return {"Authorization": f"Bearer {sign_claims(tx, env, claims)}"}


def snapshot(env: Env) -> tuple[Any, ...]:
    """Everything a refused request must leave as it was."""
    with env.db.transaction("read") as tx:
        passes = sorted(
            (r.id, r.user_id, r.start_at, r.lifetime_minutes, r.is_usable_once, r.secret_hash)
            for r in tx.session.scalars(select(TemporaryAccessPass))
        )
        audits = tx.session.scalar(select(func.count()).select_from(AuditEntry))
        users = sorted((u.id, u.sessions_valid_from) for u in tx.session.scalars(select(User)))
    return passes, audits, users


def set_policy(env: Env, policy: TapPolicy) -> None:
    with env.db.transaction() as tx:
        policy_store.save(tx, policy, now=env.clock.now())


def audits_of(env: Env, user_id: str, activity: str | None = None) -> list[AuditEntry]:
    """Entries naming the user, by time; entries of one transaction share a time, so ties go by name."""
    with env.db.transaction("read") as tx:
        query = select(AuditEntry).order_by(AuditEntry.activity_date_time, AuditEntry.activity_display_name)
        rows = tx.session.scalars(query).all()
    return [
        r
        for r in rows
        if any(t["id"] == user_id for t in r.target_resources)
        and (activity is None or r.activity_display_name == activity)
    ]


def passes_url(user: str, version: str = "v1.0") -> str:
    return f"/{version}/users/{user}/authentication/temporaryAccessPassMethods"
