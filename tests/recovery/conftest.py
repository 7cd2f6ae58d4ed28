"""Recovery's tests: people with a manager and a private address, sessions of a chosen strength, and the
outbox read back (the real outbox, its bodies unsealed as the sender would)."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from passbridge.directory.service import DirectoryService
from passbridge.directory.tenant import Initialised
from passbridge.mail.outbox import open_bodies
from passbridge.services.context import Env, operator
from passbridge.signin.sessions import SessionView, session_view
from passbridge.store.models import OutboxMessage, User, UserSession
from tests.web.conftest import web  # noqa: F401 - the in-process browser, shared

ADA = "ada@contoso.example"
GRACE = "grace@contoso.example"
ADA_PRIVATE = "ada.private@example.org"
PASSKEY_ACR = "phishing-resistant-mfa"


@dataclass(frozen=True)
class Sent:
    to: str
    subject: str
    kind: str
    text: str
    html: str


def outbox(env: Env) -> list[Sent]:
    with env.db.transaction("read") as tx:
        rows = tx.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at)).all()
        found = []
        for row in rows:
            text, html = open_bodies(env, row.id, row.text_sealed, row.html_sealed)
            found.append(Sent(row.to_address, row.subject, row.kind, text, html))
        return found


def recovery_mail(env: Env) -> list[Sent]:
    return [m for m in outbox(env) if m.kind.startswith("recovery-")]


def add_person(
    env: Env,
    upn: str,
    name: str,
    *,
    private: str | None = None,
    manager: str | None = None,
    enabled: bool = True,
    roles: tuple[str, ...] = (),
) -> User:
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        user = directory.add_user(
            upn,
            display_name=name,
            mail=upn,
            account_enabled=enabled,
            other_mails=[private] if private else None,
        )
        if manager:
            directory.set_manager(user.id, manager)
        for role in roles:
            directory.assign_role(role, user.id)
        return user


@pytest.fixture
def people(env: Env, tenant: Initialised) -> tuple[User, User]:
    """Grace, and Ada who reports to her and has a private address from HR."""
    grace = add_person(env, GRACE, "Grace Hopper")
    ada = add_person(env, ADA, "Ada Lovelace", private=ADA_PRIVATE, manager=grace.id)
    return ada, grace


def session_of(env: Env, user: User, *, acr: str = PASSKEY_ACR) -> tuple[SessionView, str]:
    """A session as a sign-in leaves it, and its cookie value."""
    amr = ["hwk", "mfa"] if acr != "mfa" else ["tap", "mfa"]
    cookie = secrets.token_urlsafe(32)
    now = env.clock.now()
    row = UserSession(
        id=str(uuid.uuid4()),
        token_hash=env.keeper.keyed_hash(cookie),
        user_id=user.id,
        created_at=now,
        auth_time=now,
        amr=amr,
        acr=acr,
        expires_at=now + timedelta(hours=8),
        register_by=None,
        pass_id=None,
        ip_address="127.0.0.1",
    )
    with env.db.transaction() as tx:
        tx.session.add(row)
        tx.session.flush()
        return session_view(row, user), cookie
