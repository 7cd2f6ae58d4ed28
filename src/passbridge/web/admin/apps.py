"""Admin portal: application registrations (OpenID Connect clients), their client secret shown once, and
rotating it, and the authentication strength each requires (any of the tenant's, built-in or custom: a select
of them all). Application Administrators register sign-in clients; granting application permissions takes a
Global Administrator, as admin consent does in Entra (directory/apps.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory.apps import MANAGERS, ApplicationService, NewApplication
from passbridge.directory.rules import PERMISSIONS
from passbridge.domain.errors import DomainError, InvalidInput, NotFound
from passbridge.methods import strength_policies
from passbridge.methods.strength import BUILT_IN_BY_STRENGTH, StrengthPolicy, built_in
from passbridge.services.context import Env
from passbridge.store.models import Application
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted_fields
from passbridge.web.pages import SCRIPT_CSP, page

router = APIRouter(include_in_schema=False)

ANY_SIGN_IN = "Any sign-in"
MAX_URIS = 10
# How the select names each mode: what an administrator knows the methods as.
MODE_WORDS = {
    "fido2": "passkey",
    "softwareOath": "authenticator app",
    "temporaryAccessPassOneTime": "one-time pass",
    "temporaryAccessPassMultiUse": "multi-use pass",
}


def _label(policy: StrengthPolicy) -> str:
    allowed = ", ".join(" + ".join(MODE_WORDS[m] for m in c.split(",")) for c in policy.allowed_combinations)
    return f"{policy.display_name} ({allowed})"


def _strengths(tx: Tx) -> dict[str, str]:
    """Every strength an application may require, by id ("" for none), and how the pages name it. Not
    behind the strength reader's roles: whoever registers an application chooses from these."""
    choices = {"": ANY_SIGN_IN}
    choices.update({p.id: _label(p) for p in strength_policies.all_policies(tx)})
    return choices


def _names(choices: dict[str, str]) -> dict[str, str]:
    """`choices`, and the older built-in names rows registered before strengths had ids may hold."""
    older = {s.value: choices.get(p.id, p.display_name) for s, p in BUILT_IN_BY_STRENGTH.items()}
    return {**older, **choices}


def _no_app(who: Admin) -> Response:
    return _problem(who, 404, "No such application", "No application has that id. It may have been removed.")


def _problem(who: Admin, status: int, title: str, message: str) -> Response:
    return page(
        "problem.html",
        status=status,
        tenant=who.tenant,
        title=title,
        message=message,
        link_href="/admin/apps",
        link_text="Back to applications",
    )


@router.get("/admin/apps")
async def apps(request: Request) -> Response:
    try:
        who = await administrator(request)
        found, choices = await in_tx(
            request, lambda tx, env: (ApplicationService(tx, env, who.principal).list(), _strengths(tx))
        )
    except Refused as refused:
        return refused.response
    except DomainError as exc:
        return _problem(who, 403, "You cannot see the applications", exc.message)
    return page("admin/apps.html", apps=found, strengths=_names(choices), **who.context("apps"))


def _new_form(
    who: Admin,
    *,
    values: dict[str, object],
    errors: dict[str, str],
    strengths: dict[str, str],
    status: int = 200,
) -> Response:
    return page(
        "admin/app_new.html",
        status=status,
        values=values,
        errors=errors,
        strengths=strengths,
        permissions=sorted(p.name for p in PERMISSIONS.values()),
        **who.context("apps"),
    )


@router.get("/admin/apps/new")
async def new_app(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    choices = await in_tx(request, lambda tx, env: _strengths(tx))
    return _new_form(who, values={}, errors={}, strengths=choices)


def _field_of(message: str) -> str:
    lowered = message.lower()
    for needle, field in (
        ("redirect uri", "redirect_uris"),
        ("home page", "home_page"),
        ("permission", "form"),
    ):
        if needle in lowered:
            return field
    return "display_name" if "displayname" in lowered or "name" in lowered else "form"


@router.post("/admin/apps/new")
async def register(request: Request) -> Response:
    try:
        who = await administrator(request)
        fields = await posted_fields(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    form = dict(fields)
    uris = [line.strip() for line in form.get("redirect_uris", "").splitlines() if line.strip()]
    chosen = [v for k, v in fields if k == "permission"]
    strength = form.get("strength", "")
    values: dict[str, object] = {
        "display_name": form.get("display_name", ""),
        "redirect_uris": form.get("redirect_uris", ""),
        "home_page": form.get("home_page", ""),
        "public": form.get("public") == "yes",
        "strength": strength,
        "permission": chosen,
    }
    errors: dict[str, str] = {}
    if not str(values["display_name"]).strip():
        errors["display_name"] = "Enter the application's name, as people will see it on My apps."
    if len(uris) > MAX_URIS:
        errors["redirect_uris"] = f"At most {MAX_URIS} redirect URIs."
    choices = await in_tx(request, lambda tx, env: _strengths(tx))
    if strength not in choices and built_in(strength) is None:  # older forms post the built-in names
        errors["strength"] = "Choose one of the listed strengths."
    if errors:
        return _new_form(who, values=values, errors=errors, strengths=choices, status=400)

    def work(tx: Tx, env: Env) -> NewApplication:
        return ApplicationService(tx, env, who.principal).register(
            str(values["display_name"]),
            permissions=chosen,
            redirect_uris=uris,
            public=bool(values["public"]),
            required_strength=strength or None,
            home_page=str(values["home_page"]).strip() or None,
        )

    try:
        created = await in_tx(request, work, write=True)
    except DomainError as exc:
        errors[_field_of(exc.message)] = exc.message
        return _new_form(who, values=values, errors=errors, strengths=choices, status=400)
    return _secret_page(who, created, new=True)


def _secret_page(who: Admin, created: NewApplication, *, new: bool) -> Response:
    return page(
        "admin/app_secret.html",
        headers=SCRIPT_CSP,
        app=created.application,
        secret=created.client_secret,
        new=new,
        **who.context("apps"),
    )


@router.get("/admin/apps/{app_id}")
async def app_page(request: Request, app_id: str) -> Response:
    try:
        who = await administrator(request)
        app, choices = await in_tx(request, lambda tx, env: _app_and_strengths(tx, env, who, app_id))
    except Refused as refused:
        return refused.response
    except NotFound:
        return _problem(
            who, 404, "No such application", "No application has that id. It may have been removed."
        )
    except DomainError as exc:
        return _problem(who, 403, "You cannot see the applications", exc.message)
    return _app(who, app, choices)


def _app_and_strengths(tx: Tx, env: Env, who: Admin, app_id: str) -> tuple[Application, dict[str, str]]:
    return ApplicationService(tx, env, who.principal).get(app_id), _strengths(tx)


def _app(
    who: Admin, app: Application, choices: dict[str, str], *, error: str | None = None, saved: bool = False
) -> Response:
    return page(
        "admin/app.html",
        status=400 if error else 200,
        app=app,
        error=error,
        saved=saved,
        choices=choices,
        # Who may change registrations (directory/apps.py), which includes Application Administrators.
        may_change=bool(who.principal.roles & MANAGERS),
        strengths=_names(choices),
        **who.context("apps"),
    )


@router.post("/admin/apps/{app_id}/strength")
async def require_strength(request: Request, app_id: str) -> Response:
    try:
        who = await administrator(request)
        form = dict(await posted_fields(request, who))
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    chosen = form.get("strength", "")

    def work(tx: Tx, env: Env) -> tuple[Application, dict[str, str]]:
        choices = _strengths(tx)
        if chosen not in choices:
            raise InvalidInput("Choose one of the listed strengths.")
        return ApplicationService(tx, env, who.principal).require_strength(app_id, chosen or None), choices

    try:
        app, choices = await in_tx(request, work, write=True)
    except NotFound:
        return _no_app(who)
    except DomainError as exc:
        try:
            app, choices = await in_tx(request, lambda tx, env: _app_and_strengths(tx, env, who, app_id))
        except DomainError:
            return _problem(who, 403, "You cannot change this application", exc.message)
        return _app(who, app, choices, error=exc.message)
    return _app(who, app, choices, saved=True)


@router.post("/admin/apps/{app_id}/rotate-secret")
async def rotate(request: Request, app_id: str) -> Response:
    try:
        who = await administrator(request)
        await posted_fields(request, who)
    except Refused as refused:
        return refused.response
    except BadForm:
        return bad_form(who)
    try:
        rotated = await in_tx(
            request,
            lambda tx, env: ApplicationService(tx, env, who.principal).rotate_secret(app_id),
            write=True,
        )
    except NotFound:
        return _problem(
            who, 404, "No such application", "No application has that id. It may have been removed."
        )
    except DomainError as exc:
        try:
            app, choices = await in_tx(request, lambda tx, env: _app_and_strengths(tx, env, who, app_id))
        except DomainError:
            return _problem(who, 403, "You cannot change this application", exc.message)
        return _app(who, app, choices, error=exc.message)
    return _secret_page(who, rotated, new=False)
