"""Admin portal: application registrations (OpenID Connect clients), their client secret shown once, and
rotating it. Application Administrators register sign-in clients; granting application permissions takes a
Global Administrator, as admin consent does in Entra (directory/apps.py)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from passbridge.directory.apps import ApplicationService, NewApplication
from passbridge.directory.rules import PERMISSIONS
from passbridge.domain.errors import DomainError, NotFound
from passbridge.methods.strength import ORDER
from passbridge.services.context import Env
from passbridge.signin.rules import Strength
from passbridge.store.models import Application
from passbridge.store.tx import Tx
from passbridge.web.admin.base import Admin, BadForm, Refused, administrator, bad_form, in_tx, posted_fields
from passbridge.web.pages import SCRIPT_CSP, page

router = APIRouter(include_in_schema=False)

STRENGTHS = {
    "": "Any sign-in",
    Strength.MFA.value: "Multi-factor",
    Strength.PASSWORDLESS_MFA.value: "Passwordless multi-factor",
    Strength.PHISHING_RESISTANT_MFA.value: "Phishing-resistant (passkeys only)",
}
MAX_URIS = 10


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
        found = await in_tx(request, lambda tx, env: ApplicationService(tx, env, who.principal).list())
    except Refused as refused:
        return refused.response
    except DomainError as exc:
        return _problem(who, 403, "You cannot see the applications", exc.message)
    return page("admin/apps.html", apps=found, strengths=STRENGTHS, **who.context("apps"))


def _new_form(
    who: Admin, *, values: dict[str, object], errors: dict[str, str], status: int = 200
) -> Response:
    return page(
        "admin/app_new.html",
        status=status,
        values=values,
        errors=errors,
        strengths=STRENGTHS,
        permissions=sorted(p.name for p in PERMISSIONS.values()),
        **who.context("apps"),
    )


@router.get("/admin/apps/new")
async def new_app(request: Request) -> Response:
    try:
        who = await administrator(request)
    except Refused as refused:
        return refused.response
    return _new_form(who, values={}, errors={})


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
    if strength and strength not in ORDER:
        errors["strength"] = "Choose one of the listed strengths."
    if errors:
        return _new_form(who, values=values, errors=errors, status=400)

    def work(tx: Tx, env: Env) -> NewApplication:
        return ApplicationService(tx, env, who.principal).register(
            str(values["display_name"]),
            permissions=chosen,
            redirect_uris=uris,
            public=bool(values["public"]),
            required_strength=Strength(strength) if strength else None,
            home_page=str(values["home_page"]).strip() or None,
        )

    try:
        created = await in_tx(request, work, write=True)
    except DomainError as exc:
        errors[_field_of(exc.message)] = exc.message
        return _new_form(who, values=values, errors=errors, status=400)
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
        app = await in_tx(request, lambda tx, env: ApplicationService(tx, env, who.principal).get(app_id))
    except Refused as refused:
        return refused.response
    except NotFound:
        return _problem(
            who, 404, "No such application", "No application has that id. It may have been removed."
        )
    except DomainError as exc:
        return _problem(who, 403, "You cannot see the applications", exc.message)
    return _app(who, app)


def _app(who: Admin, app: Application, *, error: str | None = None) -> Response:
    return page(
        "admin/app.html",
        status=400 if error else 200,
        app=app,
        error=error,
        strengths=STRENGTHS,
        **who.context("apps"),
    )


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
            app = await in_tx(request, lambda tx, env: ApplicationService(tx, env, who.principal).get(app_id))
        except DomainError:
            return _problem(who, 403, "You cannot change this application", exc.message)
        return _app(who, app, error=exc.message)
    return _secret_page(who, rotated, new=False)
