"""The few HTML pages the provider shows itself: errors it must not redirect, and sign-out."""

from __future__ import annotations

from html import escape

from starlette.responses import HTMLResponse

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def _page(title: str, body: str, status: int) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)} - Passbridge</title></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    # Frames could overlay these pages on another site; nothing here is embeddable.
    headers = {**NO_STORE, "X-Frame-Options": "DENY", "Content-Security-Policy": "frame-ancestors 'none'"}
    return HTMLResponse(html, status_code=status, headers=headers)


def error_page(message: str, *, status: int = 400, code: int | None = None) -> HTMLResponse:
    """An authorization error shown to the person, because redirecting it could reach a stranger."""
    detail = f"<p><small>AADSTS{code}</small></p>" if code is not None else ""
    body = f'<p role="alert">{escape(message)}</p>{detail}<p>Go back to the application and try again.</p>'
    return _page("Sorry, but we're having trouble signing you in", body, status)


def signed_out_page() -> HTMLResponse:
    return _page("You have signed out", "<p>You can close this window.</p>", 200)


def confirm_sign_out_page(action: str, fields: dict[str, str], *, who: str) -> HTMLResponse:
    hidden = "".join(
        f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items()
    )
    body = (
        f"<p>Sign out {escape(who)}?</p>"
        f'<form method="post" action="{escape(action)}">{hidden}'
        '<button type="submit">Sign out</button></form>'
    )
    return _page("Sign out", body, 200)
