"""The admin portal's Mail page: administrators who look after passes read the outbox; failed mail is
sent again from it; anyone else is refused."""

from __future__ import annotations

from passbridge.mail.outbox import Mail, enqueue
from passbridge.mail.sender import send_due
from passbridge.services.context import Env
from tests.smtp import SmtpServer, smtp_server
from tests.web.conftest import browser, csrf_of
from tests.web.test_admin_pages import _admin


def _failed_and_sent(env: Env, server: SmtpServer) -> None:
    with env.db.transaction() as tx:
        enqueue(tx, env, Mail("gone@contoso.example", "A notice <b>bold</b>", "t", "<p>h</p>", "pass-issued"))
        enqueue(tx, env, Mail("ada@contoso.example", "Welcome", "t", "<p>h</p>", "pass-issued"))
    send_due(env)
    assert len(server.inbox.wait_for(1)) == 1


def test_the_mail_page_lists_the_outbox_and_sends_failed_mail_again(mail_env: Env) -> None:
    with smtp_server(refuse_permanently=frozenset({"gone@contoso.example"})) as server:
        env = mail_env
        env.settings.smtp_url = server.url
        _failed_and_sent(env, server)
        with browser(env) as web:
            _admin(env, web, "Authentication Administrator")
            page = web.get("/admin/mail")
            assert page.status_code == 200
            html = page.text
            assert 'href="/admin/mail" aria-current="page"' in html
            assert "gone@contoso.example" in html and "ada@contoso.example" in html
            assert "A notice &lt;b&gt;bold&lt;/b&gt;" in html
            assert "Refused: 550 5.1.1 No such mailbox here" in html
            assert html.count("Send again</button>") == 1
            failed_only = web.get("/admin/mail?state=failed").text
            assert "gone@contoso.example" in failed_only and "ada@contoso.example" not in failed_only

            action = html.split('action="/admin/mail/')[1].split('"')[0]
            forged = web.post(f"/admin/mail/{action}", data={"csrf_token": "forged"})
            assert forged.status_code == 400
            done = web.post(f"/admin/mail/{action}", data={"csrf_token": csrf_of(html)})
            assert (done.status_code, done.headers["location"]) == (303, "/admin/mail?retried=1")
            assert "The mail will be sent again shortly." in web.get("/admin/mail?retried=1").text
            again = web.post(f"/admin/mail/{action}", data={"csrf_token": csrf_of(html)})
            assert again.status_code == 400 and "this one is not failed" in again.text


def test_a_global_reader_reads_the_mail_page_without_send_again(mail_env: Env, smtp: SmtpServer) -> None:
    with mail_env.db.transaction() as tx:
        enqueue(tx, mail_env, Mail("ada@contoso.example", "Welcome", "t", "<p>h</p>", "pass-issued"))
    with browser(mail_env) as web:
        _admin(mail_env, web, "Global Reader")
        page = web.get("/admin/mail")
        assert page.status_code == 200 and "ada@contoso.example" in page.text
        assert "Send again" not in page.text


def test_a_groups_administrator_is_told_they_may_not_read_the_outbox(mail_env: Env, smtp: SmtpServer) -> None:
    with mail_env.db.transaction() as tx:
        enqueue(tx, mail_env, Mail("ada@contoso.example", "Welcome", "t", "<p>h</p>", "pass-issued"))
    with browser(mail_env) as web:
        _admin(mail_env, web, "Groups Administrator")
        page = web.get("/admin/mail")
        assert page.status_code == 200
        assert "ada@contoso.example" not in page.text
        assert "Only these roles may read the mail outbox" in page.text


def test_someone_without_a_role_is_refused_the_mail_page(mail_env: Env, smtp: SmtpServer) -> None:
    from tests.factories import make_user
    from tests.web.test_admin_pages import _signed_in

    with browser(mail_env) as web:
        make_user(mail_env, "ada@contoso.example")
        _signed_in(mail_env, web, "ada@contoso.example")
        assert web.get("/admin/mail").status_code == 403
