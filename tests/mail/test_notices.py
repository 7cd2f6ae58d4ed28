"""Pass notices: the holder is mailed when a pass is issued for them and when it is first used (never the
pass), with a single-use "This wasn't me" link that revokes the pass and only the sessions it opened, audits
it and tells the helpdesk."""

from __future__ import annotations

import re
import uuid
from dataclasses import replace
from datetime import timedelta
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from passbridge.clock import ManualClock
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import InvalidInput
from passbridge.mail.sender import send_due
from passbridge.passes import notices
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, TapService
from passbridge.services.context import Env, operator
from passbridge.store.models import AuditEntry, RefreshTokenRow, TemporaryAccessPass, User, UserSession
from passbridge.store.tx import Tx
from tests.smtp import SmtpServer
from tests.unit.session_helpers import signed_in
from tests.web.conftest import browser, sign_in

ADA = "ada@contoso.example"
ADA_MAIL = "ada.lovelace@mail.contoso.example"
LINK = re.compile(r"http://localhost:8000/this-wasnt-me/([A-Za-z0-9_-]+)")


def _ada(env: Env, mail: str | None = ADA_MAIL) -> User:
    with env.db.transaction() as tx:
        return DirectoryService(tx, env, operator()).add_user(ADA, display_name="Ada Lovelace", mail=mail)


def _issue(env: Env, reason: str | None = "INC-4711 lost phone", *, once: bool = False) -> IssuedPass:
    with env.db.transaction() as tx:
        return TapService(tx, env, operator("Helpdesk script")).issue(
            ADA, PassRequest(is_usable_once=once, reason=reason)
        )


def _delivered(env: Env, smtp: SmtpServer, count: int) -> list[EmailMessage]:
    send_due(env)
    return smtp.inbox.wait_for(count)


def _bodies(message: EmailMessage) -> tuple[str, str]:
    text, html = message.get_body(("plain",)), message.get_body(("html",))
    assert text is not None and html is not None
    return text.get_content(), html.get_content()


def _token(message: EmailMessage) -> str:
    text, html = _bodies(message)
    found = LINK.search(text)
    assert found is not None and f"/this-wasnt-me/{found.group(1)}" in html
    return found.group(1)


def _ada_pass(tx: Tx) -> TemporaryAccessPass | None:
    holder = select(User.id).where(User.user_principal_name == ADA).scalar_subquery()
    query = select(TemporaryAccessPass).where(TemporaryAccessPass.user_id == holder)
    return tx.session.scalars(query).first()


def _with_helpdesk(env: Env) -> None:
    env.settings.mail_helpdesk = "helpdesk@contoso.example"


def test_issuing_mails_the_holder_who_when_and_why_but_never_the_pass(
    mail_env: Env, smtp: SmtpServer
) -> None:
    _ada(mail_env)
    issued = _issue(mail_env)
    [notice] = _delivered(mail_env, smtp, 1)
    assert notice["To"] == ADA_MAIL
    assert notice["Subject"] == "A Temporary Access Pass was issued for your account"
    text, html = _bodies(notice)
    for body in (text, html):
        assert issued.value not in body
        assert "Helpdesk script issued a Temporary Access Pass for your account (ada@contoso.example)" in body
        assert "Reason given:" in body and "INC-4711 lost phone" in body
        assert "This wasn't me" in body
    assert _token(notice)
    with mail_env.db.transaction("read") as tx:
        entries = tx.session.scalars(
            select(AuditEntry).where(AuditEntry.activity_display_name == "Admin registered security info")
        ).all()
    [entry] = [e for e in entries if e.target_resources[0]["userPrincipalName"] == ADA]
    assert entry.additional_details == [{"key": "reason", "value": "INC-4711 lost phone"}]


def test_no_mail_goes_to_someone_without_a_mail_address(mail_env: Env, smtp: SmtpServer) -> None:
    _ada(mail_env, mail=None)
    _issue(mail_env)
    assert send_due(mail_env).sent == 0
    assert smtp.inbox.offered == 0


@pytest.mark.parametrize(
    ("reason", "message"),
    [("x" * 257, "at most 256 characters"), ("two\nlines", "one line"), ("nul\x00", "NUL")],
)
def test_a_reason_must_be_one_storable_line_of_at_most_256_characters(
    mail_env: Env, reason: str, message: str
) -> None:
    _ada(mail_env)
    with pytest.raises(InvalidInput, match=message):
        _issue(mail_env, reason)


def test_the_policy_can_require_a_reason(mail_env: Env) -> None:
    _ada(mail_env)
    with mail_env.db.transaction() as tx:
        policy, _ = policy_store.load(tx)
        policy_store.save(tx, replace(policy, require_reason=True), now=mail_env.clock.now())
    for missing in (None, "   "):
        with pytest.raises(InvalidInput, match="requires a reason"):
            _issue(mail_env, missing)
    assert _issue(mail_env, "HR-12").value


def test_the_first_sign_in_with_a_pass_mails_the_holder_once(mail_env: Env, smtp: SmtpServer) -> None:
    _ada(mail_env)
    issued = _issue(mail_env)
    for _ in range(2):  # a reusable pass, used twice
        with browser(mail_env) as client:
            assert sign_in(client, ADA, issued.value).proved.status_code == 303
    _, used = _delivered(mail_env, smtp, 2)
    assert used["Subject"] == "Your Temporary Access Pass was used to sign in"
    text, _ = _bodies(used)
    assert issued.value not in text and "from testclient" in text and "INC-4711 lost phone" in text
    assert send_due(mail_env).sent == 0 and len(smtp.inbox.received) == 2


def _pass_session(env: Env, client: TestClient, value: str) -> UserSession:
    assert sign_in(client, ADA, value).proved.status_code == 303
    with env.db.transaction("read") as tx:
        return tx.session.scalars(select(UserSession).where(UserSession.pass_id.is_not(None))).one()


def _refresh_token(env: Env, user_id: str, session_id: str | None) -> str:
    now = env.clock.now()
    row = RefreshTokenRow(
        id=str(uuid.uuid4()),
        token_hash=str(uuid.uuid4()),
        family_id=str(uuid.uuid4()),
        client_id=str(uuid.uuid4()),
        user_id=user_id,
        session_id=session_id,
        scope="openid",
        auth_time=now,
        amr=["tap", "mfa"],
        acr="mfa",
        not_after=now + timedelta(hours=1),
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    with env.db.transaction() as tx:
        tx.session.add(row)
    return row.id


def test_this_wasnt_me_revokes_the_pass_and_only_the_sessions_it_opened(
    mail_env: Env, smtp: SmtpServer
) -> None:
    _with_helpdesk(mail_env)
    ada = _ada(mail_env)
    issued = _issue(mail_env)
    token = _token(_delivered(mail_env, smtp, 1)[0])
    other = signed_in(mail_env, ada, amr=("hwk", "mfa"))  # Ada's own passkey session elsewhere
    with browser(mail_env) as intruder:
        begun = _pass_session(mail_env, intruder, issued.value)
        from_pass = _refresh_token(mail_env, ada.id, begun.id)
        from_other = _refresh_token(mail_env, ada.id, other.id)

        with browser(mail_env) as owner:
            page = owner.get(f"/this-wasnt-me/{token}")
            assert page.status_code == 200 and "Was this pass yours?" in page.text
            assert "INC-4711 lost phone" in page.text and issued.value not in page.text
            assert page.headers["referrer-policy"] == "no-referrer"
            assert page.headers["cache-control"] == "no-store"
            with mail_env.db.transaction("read") as tx:  # a GET changes nothing
                assert _ada_pass(tx) is not None

            done = owner.post(f"/this-wasnt-me/{token}")
            assert done.status_code == 200
            assert "Done: the pass no longer works" in done.text
            assert "1\n  sign-in made with it has ended" in done.text
            assert "Your helpdesk has been told." in done.text

            again = owner.post(f"/this-wasnt-me/{token}")
            assert again.status_code == 200 and "This was already done" in again.text
            assert "This was already done" in owner.get(f"/this-wasnt-me/{token}").text

        assert intruder.get("/apps").status_code == 303  # signed out
    with mail_env.db.transaction("read") as tx:
        assert _ada_pass(tx) is None
        sessions = {s.id: s.ended_at for s in tx.session.scalars(select(UserSession))}
        tokens = {t.id: t.revoked_at for t in tx.session.scalars(select(RefreshTokenRow))}
        entry = tx.session.scalars(
            select(AuditEntry).where(
                AuditEntry.activity_display_name == "User reported a Temporary Access Pass as not theirs"
            )
        ).one()
    assert sessions[begun.id] is not None and sessions[other.id] is None
    assert tokens[from_pass] is not None and tokens[from_other] is None
    assert entry.initiated_by["user"]["userPrincipalName"] == ADA
    assert {d["key"]: d["value"] for d in entry.additional_details} == {
        "temporaryAccessPassId": issued.view.id,
        "sessionsEnded": "1",
        "issueReason": "INC-4711 lost phone",
    }
    report = _delivered(mail_env, smtp, 3)[2]  # the issue notice, the first-use notice, the report
    assert report["To"] == "helpdesk@contoso.example"
    text, _ = _bodies(report)
    assert "Ada Lovelace (ada@contoso.example) said a Temporary Access Pass was not theirs" in text
    assert "1 sign-in session begun with it ended" in text and issued.value not in text


def test_each_notice_link_of_a_pass_works_once_between_them(mail_env: Env, smtp: SmtpServer) -> None:
    _ada(mail_env)
    issued = _issue(mail_env)
    with browser(mail_env) as client:
        _pass_session(mail_env, client, issued.value)
    issued_notice, used_notice = _delivered(mail_env, smtp, 2)
    with browser(mail_env) as owner:
        assert "Done" in owner.post(f"/this-wasnt-me/{_token(used_notice)}").text
        assert "This was already done" in owner.post(f"/this-wasnt-me/{_token(issued_notice)}").text
    assert send_due(mail_env).sent == 0  # no helpdesk configured: no report mail


def test_an_expired_or_unknown_link_does_nothing(mail_env: Env, smtp: SmtpServer, clock: ManualClock) -> None:
    _ada(mail_env)
    _issue(mail_env)
    token = _token(_delivered(mail_env, smtp, 1)[0])
    with browser(mail_env) as owner:
        unknown = owner.post("/this-wasnt-me/" + "A" * 43)
        assert unknown.status_code == 404 and "This link does not work" in unknown.text
        assert owner.get("/this-wasnt-me/" + "A" * 500).status_code == 404
        clock.advance(minutes=61)  # the pass (60 minutes) has ended, and its link with it
        expired = owner.post(f"/this-wasnt-me/{token}")
        assert expired.status_code == 410 and "This link has expired" in expired.text
    with mail_env.db.transaction("read") as tx:
        assert _ada_pass(tx) is not None
        assert notices.look(tx, mail_env, token).status is notices.LinkStatus.EXPIRED


def test_a_link_for_a_replaced_pass_leaves_the_new_pass_alone(mail_env: Env, smtp: SmtpServer) -> None:
    _with_helpdesk(mail_env)
    _ada(mail_env)
    _issue(mail_env, "first")
    newer = _issue(mail_env, "second")
    first_notice, _ = _delivered(mail_env, smtp, 2)
    with browser(mail_env) as owner:
        done = owner.post(f"/this-wasnt-me/{_token(first_notice)}")
        assert "Done: the pass no longer works" in done.text
    with mail_env.db.transaction("read") as tx:
        kept = _ada_pass(tx)
    assert kept is not None and kept.id == newer.view.id
    report = _delivered(mail_env, smtp, 3)[2]
    assert "the pass was already gone, and 0 sign-in sessions begun with it ended" in _bodies(report)[0]
