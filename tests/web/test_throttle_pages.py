"""Issue 12 §2.2-2.5 and 2.9 through the pages, behind a trusted reverse proxy: every browser here
reaches Passbridge through a proxy at 10.0.0.1 that sends X-Forwarded-For, and the attacker rotates
through several source addresses as a botnet would."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import cycle

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from passbridge.app import create_app
from passbridge.clock import ManualClock
from passbridge.directory.tenant import Initialised
from passbridge.methods.passkeys import PasskeyService
from passbridge.services.context import Env
from passbridge.signin.flow import SignInService
from passbridge.signin.rules import CONSECUTIVE_CEILING, LockedOut, SignInFailed
from passbridge.signin.strategies import Pass
from passbridge.store.models import SignInFlow, SignInLogEntry, User
from passbridge.tokens.service import reset_key_cache
from tests.factories import make_user
from tests.softkey import SoftAuthenticator
from tests.unit.session_helpers import signed_in
from tests.web.conftest import ADA, BASE, csrf_of, issue, username_form

PROXY = "10.0.0.1"
HOME = "198.51.100.10"  # where Ada signs in every day
ATTACKERS = [f"203.0.113.{n}" for n in range(1, 9)]
NOBODY = "nobody@contoso.example"


@pytest.fixture
def proxied(env: Env, tenant: Initialised) -> Iterator[Callable[[], TestClient]]:
    """Browsers (each its own cookie jar) whose requests arrive from the trusted proxy."""
    env.settings.trusted_proxies = f"{PROXY}/32"
    reset_key_cache(env)
    opened: list[TestClient] = []

    def open_browser() -> TestClient:
        client = TestClient(create_app(env), base_url=BASE, follow_redirects=False, client=(PROXY, 40000))
        opened.append(client.__enter__())
        return client

    yield open_browser
    for client in opened:
        client.__exit__(None, None, None)


@pytest.fixture
def ada(env: Env, tenant: Initialised) -> User:
    return make_user(env, ADA, display_name="Ada Lovelace")


def via(source: str) -> dict[str, str]:
    return {"X-Forwarded-For": source}


def to_pass_page(client: TestClient, username: str, source: str) -> str:
    """A new flow at the pass step; returns its CSRF token. ("Use another account": the browser may be
    signed in already, and then plain /login shows who is.)"""
    login = client.get("/login?another=1", headers=via(source))
    named = client.post("/login", data=username_form(login.text, username), headers=via(source))
    assert named.status_code == 303, named.text
    return csrf_of(client.get("/login/pass", headers=via(source)).text)


def guess(client: TestClient, csrf: str, value: str, source: str) -> httpx.Response:
    return client.post("/login/pass", data={"csrf_token": csrf, "pass": value}, headers=via(source))


def attempt(client: TestClient, username: str, value: str, source: str) -> httpx.Response:
    return guess(client, to_pass_page(client, username, source), value, source)


def count(env: Env, model: type[object]) -> int:
    with env.db.transaction("read") as tx:
        return int(tx.session.scalar(select(func.count()).select_from(model)) or 0)


def passkey_for(env: Env, user: User) -> SoftAuthenticator:
    key = SoftAuthenticator(BASE)
    view = signed_in(env, user)
    with env.db.transaction() as tx:
        started = PasskeyService(tx, env, view).begin_registration()
    answer = key.create(started.options)
    with env.db.transaction() as tx:
        PasskeyService(tx, env, view).finish_registration(started.ceremony_id, answer)
    return key


def passkey_sign_in(client: TestClient, key: SoftAuthenticator, source: str) -> httpx.Response:
    login = client.get("/login", headers=via(source))
    form = username_form(login.text, "")
    options = client.post(
        "/login/passkey/options",
        data={"csrf_token": form["csrf_token"], "return_to": form["return_to"]},
        headers=via(source),
    )
    assert options.status_code == 200, options.text
    answer = key.get(options.json()["publicKey"])
    return client.post(
        "/login/passkey",
        data={
            "csrf_token": form["csrf_token"],
            "ceremony_id": options.json()["ceremonyId"],
            "credential": answer,
        },
        headers=via(source),
    )


# --- 2.2: the client address, and a source's lockout never blocks a passkey ---------------------------


def test_the_sign_in_log_records_the_address_a_trusted_proxy_forwarded_for(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    issued = issue(env, ADA)
    assert attempt(proxied(), ADA, issued.value, HOME).status_code == 303
    # A client talking to Passbridge directly cannot choose its address with the same header.
    direct = TestClient(create_app(env), base_url=BASE, follow_redirects=False, client=("192.0.2.77", 1))
    with direct:
        assert attempt(direct, ADA, "WRONG", "198.51.100.99").status_code == 401
    with env.db.transaction("read") as tx:
        addresses = list(
            tx.session.scalars(select(SignInLogEntry.ip_address).order_by(SignInLogEntry.created_at))
        )
    assert sorted(addresses) == sorted([HOME, "192.0.2.77"])


def test_a_source_locked_out_for_guessing_still_signs_in_with_a_passkey(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    env.settings.lockout_ip_threshold = 3
    key = passkey_for(env, ada)
    issued = issue(env, ADA)
    office = ATTACKERS[0]  # one NAT address for a whole office, one of whose machines guesses
    attacker = proxied()
    statuses = [attempt(attacker, f"user{n}@contoso.example", "WRONG", office).status_code for n in range(4)]
    assert statuses == [401, 401, 401, 429]
    # Guessing from that address is slowed, for passes too...
    assert attempt(proxied(), ADA, issued.value, office).status_code == 429
    # ...but a passkey cannot be guessed, so nobody behind that address is kept from it.
    done = passkey_sign_in(proxied(), key, office)
    assert (done.status_code, done.headers["location"]) == (303, "/apps"), done.text
    # And other addresses behind the same proxy were never affected.
    assert attempt(proxied(), ADA, issued.value, HOME).status_code == 303


# --- 2.3: a device that signed in before is not locked out by guesses from elsewhere --------------------


def test_guesses_from_elsewhere_never_lock_out_a_browser_that_signed_in_before(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    issued = issue(env, ADA)
    home = proxied()
    assert attempt(home, ADA, issued.value, HOME).status_code == 303
    assert home.cookies.get("pb_device")

    attacker = proxied()
    sources = cycle(ATTACKERS)
    csrf = to_pass_page(attacker, ADA, next(sources))
    answers = [guess(attacker, csrf, f"WRONG{n}", next(sources)).status_code for n in range(12)]
    assert answers == [401] * env.settings.lockout_threshold + [429, 429]
    # Untrusted attempts are paused for everyone untrusted, the right pass included...
    assert attempt(proxied(), ADA, issued.value, ATTACKERS[0]).status_code == 429
    # ...but the browser Ada signed in with before carries on, as often as she likes.
    for _ in range(3):
        assert attempt(home, ADA, issued.value, HOME).status_code == 303


def test_untrusted_lockouts_grow_so_polling_gains_ever_fewer_guesses(
    env: Env, ada: User, proxied: Callable[[], TestClient], clock: ManualClock
) -> None:
    issue(env, ADA)
    attacker = proxied()
    sources = cycle(ATTACKERS)
    waits = []
    for _ in range(3):
        csrf = to_pass_page(attacker, ADA, next(sources))
        for _ in range(env.settings.lockout_threshold):
            assert guess(attacker, csrf, "WRONG", next(sources)).status_code == 401
        locked = guess(attacker, csrf, "WRONG", next(sources))
        assert locked.status_code == 429
        waits.append(int(locked.headers["retry-after"]))
        # Polling while locked gains nothing and does not extend anything.
        clock.advance(seconds=waits[-1] - 1)
        assert attempt(attacker, ADA, "WRONG", next(sources)).status_code == 429
        clock.advance(seconds=1)
    window = env.settings.lockout_window_minutes * 60
    assert waits == [window, 2 * window, 4 * window]


def test_a_device_holders_failures_lock_that_device_only(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    issued = issue(env, ADA)
    shared = proxied()  # a browser Ada once used, now in someone else's hands
    assert attempt(shared, ADA, issued.value, HOME).status_code == 303
    csrf = to_pass_page(shared, ADA, HOME)
    answers = [guess(shared, csrf, "WRONG", HOME).status_code for _ in range(11)]
    assert answers == [401] * env.settings.lockout_threshold + [429]
    assert attempt(proxied(), ADA, issued.value, ATTACKERS[0]).status_code == 303


def test_a_forged_or_another_users_device_cookie_is_untrusted(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    issued = issue(env, ADA)
    grace_pass = issue(env, make_user(env, "grace@contoso.example").user_principal_name)
    grace = proxied()
    assert attempt(grace, "grace@contoso.example", grace_pass.value, HOME).status_code == 303
    held = grace.cookies["pb_device"]
    ada_id = str(ada.id)
    forged = [held, ada_id + held[held.index(".") :], f"{ada_id}.x.{'0' * 64}", "garbage", "x" * 300]
    for n, cookie in enumerate(forged):
        browser = proxied()
        browser.cookies.set("pb_device", cookie)
        csrf = to_pass_page(browser, ADA, HOME)
        # Each counts as an untrusted attempt at Ada: after the threshold they are all refused.
        assert guess(browser, csrf, "WRONG", HOME).status_code == 401, n
    for _ in range(env.settings.lockout_threshold - len(forged)):
        assert attempt(proxied(), ADA, "WRONG", HOME).status_code == 401
    locked = proxied()
    locked.cookies.set("pb_device", forged[2])
    assert attempt(locked, ADA, issued.value, HOME).status_code == 429


def test_no_more_than_100_consecutive_failures_even_from_a_trusted_device(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    env.settings.lockout_threshold = 100  # the most the setting allows: the untrusted limit meets the ceiling
    issued = issue(env, ADA)
    home = proxied()
    assert attempt(home, ADA, issued.value, HOME).status_code == 303
    attacker = proxied()
    sources = cycle(ATTACKERS)
    csrf = to_pass_page(attacker, ADA, next(sources))
    answers = [guess(attacker, csrf, "WRONG", next(sources)).status_code for _ in range(CONSECUTIVE_CEILING)]
    assert answers == [401] * CONSECUTIVE_CEILING
    refused = attempt(home, ADA, issued.value, HOME)
    assert refused.status_code == 429 and "retry-after" not in refused.headers
    assert "ask your helpdesk for a new Temporary Access Pass" in refused.text.replace("&#39;", "'")
    # The recovery NIST asks for: a new pass from an administrator opens the account again.
    renewed = issue(env, ADA)
    assert attempt(home, ADA, renewed.value, HOME).status_code == 303


# --- 2.4: unknown usernames behave exactly as real ones ------------------------------------------------


def test_unknown_and_known_usernames_answer_alike_and_lock_alike(
    env: Env, ada: User, proxied: Callable[[], TestClient], monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(env, ADA)
    verifies: list[str] = []
    real = env.keeper.slow_hash_matches

    def counted(secret: str, stored: str) -> bool:
        verifies.append(stored)
        return real(secret, stored)

    monkeypatch.setattr(env.keeper, "slow_hash_matches", counted)
    seen = {}
    for username in (ADA, NOBODY):
        verifies.clear()
        browser = proxied()
        sources = cycle(ATTACKERS)
        csrf = to_pass_page(browser, username, next(sources))
        answers = [guess(browser, csrf, "WRONG", next(sources)) for _ in range(12)]
        seen[username] = (
            [a.status_code for a in answers],
            [a.headers.get("retry-after") for a in answers],
            [a.text.replace(username, "USER").replace(csrf, "CSRF") for a in answers],
            len(verifies),
        )
    assert seen[ADA] == seen[NOBODY]
    statuses, _, _, hashed = seen[NOBODY]
    assert statuses == [401] * env.settings.lockout_threshold + [429, 429]
    assert hashed == env.settings.lockout_threshold  # the same Argon2 work, none once locked


def test_an_unknown_name_is_counted_by_its_normalised_key(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    spellings = cycle([NOBODY, NOBODY.upper(), f"  {NOBODY}  ", "NoBody@Contoso.Example"])
    sources = cycle(ATTACKERS)
    statuses = [attempt(proxied(), next(spellings), "WRONG", next(sources)).status_code for _ in range(11)]
    assert statuses == [401] * env.settings.lockout_threshold + [429]


# --- 2.5: parallel guesses never check more than the limit ----------------------------------------------


def test_parallel_wrong_passes_check_no_more_than_the_threshold(
    env: Env, ada: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    issue(env, ADA)
    service = SignInService(env)
    flows = []
    for _ in range(60):
        pending, _tenant = service.login_page()
        flows.append(service.identify(pending.id, pending.csrf_token, ADA))
    checked = []
    real = env.keeper.slow_hash_matches

    def counted(secret: str, stored: str) -> bool:
        checked.append(stored)
        return real(secret, stored)

    monkeypatch.setattr(env.keeper, "slow_hash_matches", counted)
    start = threading.Barrier(len(flows))
    outcomes: list[type[Exception]] = []

    def guess_once(n: int) -> None:
        start.wait()
        try:
            service.prove(flows[n].id, flows[n].csrf_token, Pass("WRONG"), ip_address=f"198.18.0.{n}")
        except (SignInFailed, LockedOut) as refused:
            outcomes.append(type(refused))

    threads = [threading.Thread(target=guess_once, args=(n,)) for n in range(len(flows))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    threshold = env.settings.lockout_threshold
    assert (
        sorted(o.__name__ for o in outcomes)
        == ["LockedOut"] * (60 - threshold) + ["SignInFailed"] * threshold
    )
    assert len(checked) == threshold


# --- 2.9: an anonymous visit writes nothing --------------------------------------------------------------


def test_anonymous_login_pages_create_no_flow_until_the_first_post(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    browser = proxied()
    pages = [browser.get("/login", headers=via(ATTACKERS[0])) for _ in range(20)]
    pages += [browser.get("/login?return_to=/security-info", headers=via(ATTACKERS[1])) for _ in range(5)]
    assert {p.status_code for p in pages} == {200}
    assert count(env, SignInFlow) == 0
    named = browser.post("/login", data=username_form(pages[-1].text, ADA))
    assert (named.status_code, named.headers["location"]) == (303, "/login/pass")
    with env.db.transaction("read") as tx:
        [flow] = tx.session.scalars(select(SignInFlow)).all()
    assert (flow.state, flow.username, flow.return_to) == ("prove", ADA, "/security-info")


def test_a_pending_flows_destination_cannot_be_changed_by_the_form(
    env: Env, ada: User, proxied: Callable[[], TestClient]
) -> None:
    browser = proxied()
    page = browser.get("/login?return_to=/security-info")
    form = username_form(page.text, ADA) | {"return_to": "/apps"}
    refused = browser.post("/login", data=form)
    assert refused.status_code == 400 and "Start again" in refused.text
    assert count(env, SignInFlow) == 0
