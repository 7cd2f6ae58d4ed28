"""Delivering the outbox: claim a due message, send it with smtplib, say how it went; back off and
retry until it is delivered or given up (rules.py). Runs in every server process (background.py) and as
`passbridge mail send` (one pass, for cron). Several senders on one PostgreSQL never send one message
twice: each claim takes a different row (queries.claim_one) and holds it for a lease.

Never logs or stores a body; errors are kept without the SMTP password.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass, field
from datetime import timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from passbridge import metrics
from passbridge.mail import queries as store
from passbridge.mail.outbox import open_bodies
from passbridge.mail.queries import Claimed
from passbridge.mail.rules import LEASE, Limits, State, after_failure, error_text, random_jitter
from passbridge.mail.smtp_url import SmtpTarget
from passbridge.services.context import Env

log = logging.getLogger("passbridge.mail")
TIMEOUT_SECONDS = 30
# One pass sends at most this many; the next pass (seconds later) goes on.
PASS_LIMIT = 200


@dataclass
class Report:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    given_up_old: int = 0
    errors: list[str] = field(default_factory=list)


class _Refused(Exception):
    """The server refused this one message; `permanent` for a 5xx answer."""

    def __init__(self, text: str, *, permanent: bool) -> None:
        super().__init__(text)
        self.text = text
        self.permanent = permanent


class Connection:
    """One SMTP session for a pass, opened at the first message."""

    def __init__(self, target: SmtpTarget) -> None:
        self.target = target
        self._smtp: smtplib.SMTP | None = None

    def _open(self) -> smtplib.SMTP:
        t = self.target
        context = ssl.create_default_context(cafile=t.cafile)
        smtp: smtplib.SMTP
        if t.security == "tls":
            smtp = smtplib.SMTP_SSL(t.host, t.port, timeout=TIMEOUT_SECONDS, context=context)
        else:
            smtp = smtplib.SMTP(t.host, t.port, timeout=TIMEOUT_SECONDS)
        try:
            smtp.ehlo()
            if t.security == "starttls":
                smtp.starttls(context=context)
                smtp.ehlo()
            if t.username:
                smtp.login(t.username, t.password or "")
        except BaseException:
            smtp.close()
            raise
        return smtp

    def send(self, message: EmailMessage) -> None:
        if self._smtp is None:
            self._smtp = self._open()
        try:
            refused = self._smtp.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            code, answer = next(iter(exc.recipients.values()))
            raise _Refused(f"{code} {_text(answer)}", permanent=500 <= code < 600) from None
        except (smtplib.SMTPDataError, smtplib.SMTPSenderRefused) as exc:
            raise _Refused(
                f"{exc.smtp_code} {_text(exc.smtp_error)}", permanent=500 <= exc.smtp_code < 600
            ) from None
        if refused:  # one recipient only, so never reached; kept in case a message gains more
            code, answer = next(iter(refused.values()))
            raise _Refused(f"{code} {_text(answer)}", permanent=500 <= code < 600)

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        if smtp is None:
            return
        try:
            smtp.quit()
        except (smtplib.SMTPException, OSError):
            smtp.close()


def _text(answer: bytes | str) -> str:
    return answer.decode("utf-8", "replace") if isinstance(answer, bytes) else answer


def build(env: Env, claimed: Claimed, text: str, html: str) -> EmailMessage:
    sender = env.settings.mail_sender
    message = EmailMessage()
    message["From"] = sender
    message["To"] = claimed.to_address
    message["Subject"] = claimed.subject
    message["Date"] = format_datetime(env.clock.now())
    # The outbox id: the same message, should it ever go twice, is recognisably the same.
    message["Message-ID"] = f"<{claimed.id}@{sender.rpartition('@')[2]}>"
    message["Auto-Submitted"] = "auto-generated"
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def limits_of(env: Env) -> Limits:
    return Limits(env.settings.mail_max_attempts, timedelta(hours=env.settings.mail_max_age_hours))


def send_due(env: Env, *, limit: int = PASS_LIMIT) -> Report:
    """One pass over the due messages: send each, or note why not. Safe to run in any number of
    processes at once. Does nothing without PASSBRIDGE_SMTP_URL."""
    report = Report()
    target = env.settings.smtp
    if target is None:
        return report
    limits = limits_of(env)
    with env.db.transaction() as tx:
        now = env.clock.now()
        report.given_up_old = store.give_up_older_than(
            tx,
            now - limits.max_age,
            now=now,
            error=f"Given up: not delivered within {env.settings.mail_max_age_hours} hours.",
        )
    connection = Connection(target)
    try:
        for _ in range(limit):
            with env.db.transaction() as tx:
                now = env.clock.now()
                claimed = store.claim_one(tx, now=now, lease_until=now + LEASE)
            if claimed is None:
                break
            if not _deliver(env, connection, claimed, limits, report):
                # The server itself is unreachable or refuses us: the rest waits for the next pass.
                break
    finally:
        connection.close()
    return report


def _deliver(env: Env, connection: Connection, claimed: Claimed, limits: Limits, report: Report) -> bool:
    """Send one claimed message and record the outcome; False when the server could not be reached."""
    password = env.settings.smtp.password if env.settings.smtp else None
    try:
        text, html = open_bodies(env, claimed.id, claimed.text_sealed, claimed.html_sealed)
        connection.send(build(env, claimed, text, html))
    except _Refused as exc:
        _failed(env, claimed, limits, report, error_text(f"Refused: {exc.text}", password), exc.permanent)
        return True
    except (smtplib.SMTPException, OSError) as exc:
        connection.close()
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        _failed(env, claimed, limits, report, error_text(reason, password), permanent=False)
        return False
    except ValueError as exc:  # no content left (or unsealable): sending it again cannot help
        _failed(env, claimed, limits, report, error_text(f"Unsendable: {exc}"), permanent=True)
        return True
    with env.db.transaction() as tx:
        mine = store.mark_sent(tx, claimed.id, claimed.attempt, now=env.clock.now())
    if mine:
        report.sent += 1
        metrics.mail_sent("sent")
        log.info("mail %s (%s) sent, attempt %d", claimed.id, claimed.kind, claimed.attempt)
    return True


def _failed(env: Env, claimed: Claimed, limits: Limits, report: Report, error: str, permanent: bool) -> None:
    now = env.clock.now()
    outcome = after_failure(
        attempts=claimed.attempt,
        created_at=claimed.created_at,
        now=now,
        limits=limits,
        permanent=permanent,
        jitter=random_jitter(),
    )
    with env.db.transaction() as tx:
        store.mark_failed_attempt(
            tx,
            claimed.id,
            claimed.attempt,
            state=outcome.state,
            next_attempt_at=outcome.next_attempt_at,
            error=error,
        )
    report.errors.append(error)
    metrics.mail_sent("failed" if outcome.state is State.FAILED else "retry")
    if outcome.state is State.FAILED:
        report.failed += 1
        log.warning(
            "mail %s (%s) given up after %d attempts: %s", claimed.id, claimed.kind, claimed.attempt, error
        )
    else:
        report.retrying += 1
        log.info(
            "mail %s (%s) attempt %d failed, next at %s: %s",
            claimed.id,
            claimed.kind,
            claimed.attempt,
            outcome.next_attempt_at.isoformat(),
            error,
        )


def run_periodically(env: Env) -> None:
    """background.py's task: one pass (errors are the caller's to log)."""
    send_due(env)
