"""The demo relying party: mounted only in demo mode, and a full round trip through it."""

from __future__ import annotations

from dataclasses import replace

from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.oidc import demo_rp
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.factories import make_app
from tests.oidc.conftest import ADA, BASE, Browser, issue_pass


def test_demo_relying_party_is_not_served_outside_demo_mode(browser: Browser) -> None:
    assert browser.client.get("/demo-rp").status_code == 404


def test_demo_relying_party_shows_the_validated_id_token_after_a_pass_sign_in(
    env: Env, tenant: Initialised, ada: User
) -> None:
    demo_env = replace(env, settings=env.settings.model_copy(update={"demo_rp": True}))
    make_app(demo_env, demo_rp.DEMO_RP_NAME, redirect_uris=tuple(demo_rp.redirect_uris(BASE)), public=True)
    with TestClient(create_app(demo_env), base_url=BASE, follow_redirects=False) as client:
        browser = Browser(demo_env, client)
        start = client.get("/demo-rp/start")
        assert start.status_code == 303
        authorize = client.get(start.headers["location"].removeprefix(BASE))
        assert authorize.status_code == 303
        back = client.get(browser.sign_in(authorize.headers["location"], ADA, issue_pass(env, ADA)))
        callback = back.headers["location"]
        assert callback.startswith(f"{BASE}/demo-rp/callback?")
        page = client.get(callback.removeprefix(BASE))
        assert page.status_code == 200, page.text
        assert "signature, issuer, audience, nonce and expiry checked out" in page.text
        assert "<li><code>tap</code> Temporary Access Pass</li>" in page.text
        replay = client.get(callback.removeprefix(BASE))
        assert "unknown or was already used" in replay.text


def test_demo_relying_party_shows_amr_as_a_list_acr_in_words_and_auth_time_as_a_utc_date(
    env: Env, tenant: Initialised, ada: User
) -> None:
    demo_env = replace(env, settings=env.settings.model_copy(update={"demo_rp": True}))
    make_app(demo_env, demo_rp.DEMO_RP_NAME, redirect_uris=tuple(demo_rp.redirect_uris(BASE)), public=True)
    with TestClient(create_app(demo_env), base_url=BASE, follow_redirects=False) as client:
        browser = Browser(demo_env, client)
        authorize = client.get(client.get("/demo-rp/start").headers["location"].removeprefix(BASE))
        back = client.get(browser.sign_in(authorize.headers["location"], ADA, issue_pass(env, ADA)))
        page = client.get(back.headers["location"].removeprefix(BASE)).text
    now = env.clock.now()
    # In the site's look: its stylesheet and layout.
    assert '<link rel="stylesheet" href="/static/style.css">' in page and 'class="panel demo-rp"' in page
    assert '<h1 id="page-title">Signed in as Ada Lovelace</h1>' in page
    # amr: one list item per value, each in words; acr in words; auth_time a date in UTC.
    assert (
        '<ul class="claim-list"><li><code>tap</code> Temporary Access Pass</li>'
        "<li><code>tap-multi-use</code> a multi-use pass</li>"
        "<li><code>mfa</code> multiple factors</li></ul>"
    ) in page
    assert "<code>mfa</code> Multifactor authentication" in page
    stamp = int(now.timestamp())
    shown = f"{now.day} {now:%b %Y, %H:%M:%S} UTC"
    assert f'<time datetime="{now:%Y-%m-%dT%H:%M:%S}Z">{shown}</time> <code>{stamp}</code>' in page
    assert "[&#x27;tap&#x27;" not in page  # never a Python list's repr
