"""What every admin page shares: who may enter, the administrator as the services see them, and the layout.

Only people holding an administrator role, signed in with a multi-factor method, enter; everyone else gets a
page saying why (services/admin.py). Every form posts the session's CSRF token, checked before anything runs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import Response

from passbridge import forms
from passbridge.services import admin, portal
from passbridge.services.context import Env, Principal
from passbridge.signin.sessions import SessionService, SessionView
from passbridge.store import runner
from passbridge.store.tx import Tx
from passbridge.web.pages import (
    MAX_FORM_BYTES,
    FormTooLarge,
    FormUnreadable,
    client_ip,
    current_session,
    env_of,
    page,
    read_form,
    to_login,
)

T = TypeVar("T")


@dataclass(frozen=True)
class Admin:
    """The signed-in administrator on an admin page."""

    view: SessionView
    principal: Principal
    tenant: str
    csrf_token: str

    @property
    def reads_only(self) -> bool:
        return admin.reads_only(self.principal)

    def context(self, active: str) -> dict[str, Any]:
        """What the admin layout shows: the top bar, the sign-out form, the role and the active section."""
        return {
            "tenant": self.tenant,
            "user": self.view,
            "signout_csrf": self.csrf_token,
            "csrf_token": self.csrf_token,
            "active": active,
            "is_admin": True,
            "role_names": ", ".join(sorted(r.display_name for r in self.principal.roles)),
            "reads_only": self.reads_only,
        }


class Refused(Exception):
    """The visitor may not use the admin portal; `response` says why (or sends them to sign in)."""

    def __init__(self, response: Response) -> None:
        self.response = response


async def administrator(request: Request) -> Admin:
    """The administrator behind this request, or Refused."""
    view = await current_session(request)
    if view is None:
        raise Refused(to_login(request))
    env = env_of(request)
    ip = client_ip(request)

    def work() -> tuple[str, Principal | Exception]:
        with env.db.transaction("read") as tx:
            tenant = portal.tenant_name(tx)
            try:
                return tenant, admin.administrator(tx, view, ip)
            except (admin.NotAnAdministrator, admin.NeedsMultiFactor) as exc:
                return tenant, exc

    tenant, found = await runner.off_loop(work)
    if isinstance(found, admin.NotAnAdministrator):
        raise Refused(
            _refusal(
                tenant,
                "The admin portal is for administrators",
                "Your account holds no administrator role. Ask your helpdesk if you need one.",
                "/apps",
                "Back to My apps",
            )
        )
    if isinstance(found, admin.SetUpOnlySession):
        raise Refused(
            _refusal(
                tenant,
                "Your pass only sets up sign-in methods",
                "You signed in with a Temporary Access Pass meant for setting up or recovering your sign-in "
                "methods, which opens nothing else. Sign in with your passkey or authenticator app to use "
                "the admin portal.",
                f"/login?return_to={quote(request.url.path, safe='/')}",
                "Sign in with your passkey",
            )
        )
    if isinstance(found, Exception):
        here = request.url.path
        raise Refused(
            _refusal(
                tenant,
                "Sign in again with a passkey or a pass",
                "The admin portal needs a multi-factor sign-in: a passkey, a Temporary Access Pass, or an "
                "authenticator-app code together with another method. You signed in with one factor.",
                f"/login?return_to={quote(here, safe='/')}",
                "Sign in again",
            )
        )
    return Admin(view, found, tenant, SessionService(env).csrf_token(view))


def _refusal(tenant: str, title: str, message: str, href: str, text: str) -> Response:
    return page(
        "problem.html",
        status=403,
        tenant=tenant,
        title=title,
        message=message,
        link_href=href,
        link_text=text,
    )


async def in_tx(request: Request, work: Callable[[Tx, Env], T], *, write: bool = False) -> T:
    """Run `work(tx, env)` in one transaction, off the event loop (admin pages list and hash)."""
    env = env_of(request)

    def run() -> T:
        with env.db.transaction("write" if write else "read") as tx:
            return work(tx, env)

    return await runner.off_loop(run)


class BadForm(Exception):
    """A post that is not one of our forms (too large, unreadable, or without this session's token)."""


async def posted(request: Request, who: Admin) -> dict[str, str]:
    """The posted fields, once the CSRF token is this session's; BadForm otherwise."""
    try:
        form = await read_form(request)
    except (FormTooLarge, FormUnreadable):
        raise BadForm() from None
    if not SessionService(env_of(request)).check_csrf(who.view, form.get("csrf_token")):
        raise BadForm()
    return form


# "Revoke selected" posts one field per chosen pass: a page of them and the token.
MAX_SELECTED = 100


async def posted_fields(request: Request, who: Admin) -> list[tuple[str, str]]:
    """Every posted field in order, repeated names kept (checkboxes), once the CSRF token is this
    session's; BadForm otherwise, or for more than MAX_SELECTED fields."""
    try:
        fields = await forms.read_form(request, max_bytes=MAX_FORM_BYTES, max_fields=MAX_SELECTED + 20)
    except (FormTooLarge, FormUnreadable):
        raise BadForm() from None
    pairs = fields or []
    token = next((v for k, v in reversed(pairs) if k == "csrf_token"), None)
    if not SessionService(env_of(request)).check_csrf(who.view, token):
        raise BadForm()
    return pairs


async def posted_choices(request: Request, who: Admin, name: str) -> list[str]:
    """Every value posted under `name` (checkboxes): see `posted_fields`."""
    return [v for k, v in await posted_fields(request, who) if k == name]


def no_such_user(who: Admin) -> Response:
    return page(
        "problem.html",
        status=404,
        tenant=who.tenant,
        title="No such user",
        message="Nobody in the directory has that id or sign-in name. They may have been deleted.",
        link_href="/admin/users",
        link_text="Find a user",
    )


def bad_form(who: Admin) -> Response:
    return page(
        "problem.html",
        status=400,
        tenant=who.tenant,
        title="That form has expired",
        message="The page was open too long or came from elsewhere, so nothing was changed. Open it again "
        "and repeat what you did.",
        link_href="/admin",
        link_text="Back to the admin portal",
    )
