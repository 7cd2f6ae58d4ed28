"""The provider's own pages (an authorization error it must not redirect, RP-initiated sign-out) wear the
site's stylesheet and card like every other page, not bare HTML."""

from __future__ import annotations

from tests.oidc.conftest import Browser

LOOK = (
    '<link rel="stylesheet" href="/static/style.css"></head><body><main class="card" '
    'aria-labelledby="page-title"><h1 id="page-title">'
)


def test_an_authorization_error_page_is_in_the_sites_look(browser: Browser) -> None:
    page = browser.client.get("/oauth2/v2.0/authorize", params={"client_id": "not-registered"})
    assert page.status_code == 400
    assert LOOK + "Sorry, but we&#x27;re having trouble signing you in</h1>" in page.text
    assert '<p class="lead" role="alert">' in page.text


def test_the_signed_out_page_after_an_applications_sign_out_is_in_the_sites_look(browser: Browser) -> None:
    done = browser.client.get("/oauth2/v2.0/logout")  # nobody signed in: nothing to confirm
    assert done.status_code == 200
    assert LOOK + "You have signed out</h1>" in done.text
    assert '<footer class="site-footer">Secured by Passbridge</footer>' in done.text
