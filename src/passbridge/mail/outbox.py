"""The outbox: mail is added in the transaction of its cause (so a mail exists exactly when its cause
committed) and read, listed and retried here; sender.py delivers it.

Bodies are sealed with the pepper's AES-GCM key (a notice or a joiner's mail may carry a pass) and
dropped once the mail is sent, or once a failed one is older than PASSBRIDGE_MAIL_MAX_AGE_HOURS.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidTag

from passbridge.directory.rules import Role
from passbridge.domain.errors import InvalidInput, NotFound, PermissionDenied
from passbridge.domain.text import unstorable_reason
from passbridge.ids import new_guid
from passbridge.mail import queries as store
from passbridge.mail.queries import Listed
from passbridge.mail.rules import State
from passbridge.services.context import Env, Principal
from passbridge.store.models import OutboxMessage
from passbridge.store.tx import Tx

# Who may see the outbox (recipients and subjects of people's security mail) and send a failed one again.
READERS = frozenset(
    {
        Role.GLOBAL_ADMINISTRATOR,
        Role.GLOBAL_READER,
        Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR,
        Role.AUTHENTICATION_ADMINISTRATOR,
    }
)
RETRIERS = READERS - {Role.GLOBAL_READER}
SUBJECT_MAX = 512
ADDRESS_MAX = 320
KIND_MAX = 64


@dataclass(frozen=True)
class Mail:
    """One message. `kind` labels it for the lists ("pass-issued", "joiner", ...)."""

    to: str
    subject: str
    text: str
    html: str
    kind: str


def _context(message_id: str, part: str) -> bytes:
    # Bound to the row and the part: a sealed body copied to another row or part does not open.
    return f"passbridge outbox {message_id} {part}".encode()


def _check(message: Mail) -> None:
    local, at, domain = message.to.rpartition("@")
    if not (at and local and domain) or len(message.to) > ADDRESS_MAX or any(c.isspace() for c in message.to):
        raise InvalidInput(f"A mail cannot go to {message.to[:80]!r}: that is not a mail address.")
    if (
        not message.subject
        or len(message.subject) > SUBJECT_MAX
        or "\n" in message.subject
        or "\r" in message.subject
    ):
        raise InvalidInput("A mail's subject must be one line of at most 512 characters.")
    if not message.kind or len(message.kind) > KIND_MAX:
        raise InvalidInput("A mail's kind must be 1 to 64 characters.")
    for text in (message.to, message.subject, message.kind):
        reason = unstorable_reason(text)
        if reason is not None:
            raise InvalidInput(
                f"A mail's address, subject and kind must be storable text: one holds {reason}."
            )


def enqueue(tx: Tx, env: Env, message: Mail) -> str:
    """Add `message` to the outbox in the caller's transaction; returns its id. Nothing is sent until
    that transaction commits and a sender finds it."""
    _check(message)
    now = env.clock.now()
    message_id = new_guid()
    store.add(
        tx,
        OutboxMessage(
            id=message_id,
            kind=message.kind,
            to_address=message.to,
            subject=message.subject,
            text_sealed=env.keeper.seal(message.text.encode(), _context(message_id, "text")),
            html_sealed=env.keeper.seal(message.html.encode(), _context(message_id, "html")),
            state=State.PENDING.value,
            attempts=0,
            created_at=now,
            next_attempt_at=now,
            last_error=None,
            sent_at=None,
        ),
    )
    return message_id


def open_bodies(
    env: Env, message_id: str, text_sealed: str | None, html_sealed: str | None
) -> tuple[str, str]:
    """The plain-text and HTML bodies of a claimed message (sender.py)."""
    if text_sealed is None or html_sealed is None:
        raise ValueError("the message's content is gone")
    try:
        text = env.keeper.unseal(text_sealed, _context(message_id, "text")).decode()
        html = env.keeper.unseal(html_sealed, _context(message_id, "html")).decode()
    except InvalidTag:
        # Sealed for another row, or under another pepper: nothing this node can send.
        raise ValueError("the message's content does not open with this server's pepper") from None
    return text, html


def _require(principal: Principal, allowed: frozenset[Role], what: str) -> None:
    if principal.is_operator or (principal.kind == "user" and principal.roles & allowed):
        return
    names = ", ".join(sorted(r.display_name for r in allowed))
    raise PermissionDenied(f"Only these roles may {what}: {names}.")


def may_retry(principal: Principal) -> bool:
    return principal.is_operator or bool(principal.kind == "user" and principal.roles & RETRIERS)


def list_messages(
    tx: Tx,
    principal: Principal,
    *,
    state: State | None = None,
    limit: int = 50,
    before: tuple[datetime, str] | None = None,
) -> list[Listed]:
    _require(principal, READERS, "read the mail outbox")
    return store.listing(tx, state=state, limit=limit, before=before)


def retry(tx: Tx, env: Env, principal: Principal, message_id: str) -> None:
    """A failed message is tried once more, now. Its attempts are not reset: should that attempt fail
    too, it is failed again at once, and the list shows one attempt more."""
    _require(principal, RETRIERS, "send failed mail again")
    refused = store.retry(tx, message_id.strip().lower(), now=env.clock.now())
    if refused == "missing":
        raise NotFound(f"No mail with id '{message_id}' is in the outbox.")
    if refused == "not-failed":
        raise InvalidInput("Only a failed mail can be sent again; this one is not failed.")
    if refused == "no-body":
        raise InvalidInput(
            "This mail's content was dropped when it grew too old to send, so it cannot be sent again."
        )
