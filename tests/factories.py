"""One-line builders for test data, through the real services (so audit and rules apply)."""

from __future__ import annotations

import itertools

from passbridge.services.apps import ApplicationService, NewApplication
from passbridge.services.context import Env, operator
from passbridge.services.directory import DirectoryService
from passbridge.store.models import Group, User

_counter = itertools.count(1)


def make_user(
    env: Env,
    upn: str | None = None,
    *,
    display_name: str | None = None,
    roles: tuple[str, ...] = (),
    groups: tuple[str, ...] = (),
) -> User:
    with env.db.unit_of_work() as session:
        directory = DirectoryService(session, env, operator())
        user = directory.add_user(upn or f"user{next(_counter)}@contoso.example", display_name=display_name)
        for role in roles:
            directory.assign_role(role, user.id)
        for group in groups:
            directory.add_member(group, user.id)
        return user


def make_group(env: Env, name: str | None = None, *, members: tuple[str, ...] = ()) -> Group:
    with env.db.unit_of_work() as session:
        directory = DirectoryService(session, env, operator())
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
    with env.db.unit_of_work() as session:
        return ApplicationService(session, env, operator()).register(
            name or f"App {next(_counter)}",
            permissions=list(permissions),
            redirect_uris=list(redirect_uris),
            public=public,
        )
