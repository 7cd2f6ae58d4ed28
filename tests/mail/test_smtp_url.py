"""PASSBRIDGE_SMTP_URL: every form the docs name reads as documented; anything else is one line that never
shows the password."""

from __future__ import annotations

import pytest

from passbridge.config import ConfigError, load_settings
from passbridge.mail.smtp_url import SmtpUrlError, parse_smtp_url


def test_plain_starttls_and_implicit_tls_urls_read_as_documented() -> None:
    plain = parse_smtp_url("smtp://mail.example.com")
    assert (plain.host, plain.port, plain.security, plain.username) == ("mail.example.com", 25, "plain", None)
    starttls = parse_smtp_url("smtp://relay.example.com?starttls=1")
    assert (starttls.port, starttls.security) == (587, "starttls")
    tls = parse_smtp_url("smtps://relay.example.com")
    assert (tls.port, tls.security) == (465, "tls")
    assert parse_smtp_url("smtp://h:2525?starttls=0").security == "plain"


def test_credentials_are_url_decoded() -> None:
    target = parse_smtp_url("smtps://bot%40example.com:p%40ss%3Aw%2Frd@relay.example.com:465")
    assert target.username == "bot@example.com"
    assert target.password == "p@ss:w/rd"


def test_the_password_is_in_no_repr_and_no_description() -> None:
    target = parse_smtp_url("smtp://bot:hunter2-secret@relay.example.com:25")
    assert "hunter2-secret" not in repr(target)
    assert "hunter2-secret" not in target.describe()
    settings = load_settings(smtp_url="smtp://bot:hunter2-secret@relay.example.com:25")
    assert "hunter2-secret" not in repr(settings)


@pytest.mark.parametrize(
    "url",
    [
        "http://bot:hunter2-secret@relay.example.com",
        "smtp://bot:hunter2-secret@",
        "smtp://bot:hunter2-secret@relay.example.com:notaport",
        "smtp://bot:hunter2-secret@relay.example.com/path",
        "smtps://bot:hunter2-secret@relay.example.com?starttls=1",
        "smtp://bot:hunter2-secret@relay.example.com?tls=maybe",
        "smtp://:hunter2-secret@relay.example.com",
    ],
)
def test_an_unusable_smtp_url_is_one_line_without_the_password(url: str) -> None:
    with pytest.raises(SmtpUrlError) as parsed:
        parse_smtp_url(url)
    assert "hunter2-secret" not in str(parsed.value)
    with pytest.raises(ConfigError) as loaded:
        load_settings(smtp_url=url)
    message = str(loaded.value)
    assert message.startswith("invalid PASSBRIDGE_SMTP_URL: ")
    assert "\n" not in message and "hunter2-secret" not in message


def test_mail_addresses_in_the_configuration_must_be_addresses() -> None:
    with pytest.raises(ConfigError, match="PASSBRIDGE_MAIL_HELPDESK"):
        load_settings(mail_helpdesk="not an address")
    assert load_settings(base_url="https://id.contoso.example").mail_sender == "passbridge@id.contoso.example"
    assert load_settings(mail_from="it@contoso.example").mail_sender == "it@contoso.example"
