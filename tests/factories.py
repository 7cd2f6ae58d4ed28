"""One-line builders for test data, through the real services (so audit and rules apply)."""

from __future__ import annotations

import base64
import itertools
import secrets
import uuid
from datetime import datetime

from passbridge.directory.apps import ApplicationService, NewApplication
from passbridge.directory.service import DirectoryService
from passbridge.methods import oath_queries as oath_store
from passbridge.methods import passkey_queries as passkey_store
from passbridge.services.context import Env, operator
from passbridge.store.models import Fido2Credential, Group, SoftwareOathMethod, User

_counter = itertools.count(1)


def make_user(
    env: Env,
    upn: str | None = None,
    *,
    display_name: str | None = None,
    roles: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> User:
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        user = directory.add_user(upn or f"user{next(_counter)}@contoso.example", display_name=display_name)
        for role in roles:
            directory.assign_role(role, user.id)
        for group in groups:
            directory.add_member(group, user.id)
        return user


def make_group(env: Env, name: str | None = None, *, members: tuple[str, ...] = ()) -> Group:
    with env.db.transaction() as tx:
        directory = DirectoryService(tx, env, operator())
        group = directory.add_group(name or f"Group {next(_counter)}")
        for member in members:
            directory.add_member(group.id, member)
        return group


def make_app(
    env: Env,
    name: str | None = None,
    *,
    permissions: tuple[str, ...] = (),
    redirect_uris: tuple[str, ...] = (),
    public: bool = False,
) -> NewApplication:
    with env.db.transaction() as tx:
        return ApplicationService(tx, env, operator()).register(
            name or f"App {next(_counter)}",
            permissions=list(permissions),
            redirect_uris=list(redirect_uris),
            public=public,
        )


# A well-known AAGUID (Google Password Manager) and a COSE_Key-shaped placeholder: reads never parse it.
GPM_AAGUID = "ea9b8d66-4d01-1d21-3ce4-b6b48cb575d4"
_COSE_PLACEHOLDER = bytes.fromhex("a501020326200121582000") + bytes(32) + bytes.fromhex("225820") + bytes(32)


def make_passkey(
    env: Env,
    user: User,
    *,
    display_name: str = "Pixel 9",
    aaguid: str = GPM_AAGUID,
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
) -> Fido2Credential:
    """A passkey row straight through the store, as registration would leave it (attestation "none")."""
    row = Fido2Credential(
        id=str(uuid.uuid4()),
        user_id=user.id,
        credential_id=base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
        public_key=_COSE_PLACEHOLDER,
        sign_count=0,
        aaguid=aaguid,
        transports=["internal", "hybrid"],
        backup_eligible=True,
        backed_up=True,
        attestation_format="none",
        display_name=display_name,
        created_at=created_at or env.clock.now(),
        last_used_at=last_used_at,
    )
    with env.db.transaction() as tx:
        passkey_store.add(tx, row)
    return row


def make_authenticator_app(
    env: Env,
    user: User,
    *,
    display_name: str = "Authenticator app",
    created_at: datetime | None = None,
    last_used_at: datetime | None = None,
) -> SoftwareOathMethod:
    """An authenticator app row through the store, its random seed sealed as set-up seals it."""
    seed = base64.b32encode(secrets.token_bytes(20)).decode()
    row = SoftwareOathMethod(
        id=str(uuid.uuid4()),
        user_id=user.id,
        # The context methods/oath.py seals with, so the lead's code could check codes against it.
        secret_sealed=env.keeper.seal(seed.encode(), f"totp-seed|{user.id}".encode()),
        display_name=display_name,
        last_step=None,
        created_at=created_at or env.clock.now(),
        last_used_at=last_used_at,
    )
    with env.db.transaction() as tx:
        oath_store.add(tx, row)
    return row
