"""The few HTML pages the provider shows itself: errors it must not redirect, and sign-out."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _page(title: str, body: str, status: int) -> HTMLResponse:
    # The sign-in pages' card and stylesheet (web/static/style.css), so these look like the rest.
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - Passbridge</title>"
        '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">'
        '<link rel="stylesheet" href="/static/style.css"></head>'
        '<body><main class="card" aria-labelledby="page-title">'
        f'<h1 id="page-title">{escape(title)}</h1>{body}</main>'
        '<footer class="site-footer">Secured by Passbridge</footer></body></html>'
    )
    # Frames could overlay these pages on another site; nothing here is embeddable.
    headers = {**NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
    return HTMLResponse(html, status_code=status, headers=headers)


def error_page(message: str, *, status: int = 400, code: int | None = None) -> HTMLResponse:
    """An authorization error shown to the person, because redirecting it could reach a stranger."""
    detail = f"<p><small>AADSTS{code}</small></p>" if code is not None else ""
    body = (
        f'<p class="lead" role="alert">{escape(message)}</p>{detail}'
        "<p>Go back to the application and try again.</p>"
    )
    return _page("Sorry, but we're having trouble signing you in", body, status)


def signed_out_page() -> HTMLResponse:
    return _page("You have signed out", '<p class="lead">You can close this window.</p>', 200)


def confirm_sign_out_page(action: str, fields: dict[str, str], *, who: str) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = (
        f'<p class="lead">Sign out {escape(who)}?</p>'
        f'<form method="post" action="{escape(action)}" class="actions">{hidden}'
        '<button type="submit" class="primary">Sign out</button></form>'
    )
    return _page("Sign out", body, 200)
