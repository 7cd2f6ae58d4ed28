"""Mail: an outbox written in the transaction of its cause, a sender that delivers it with retries, and
the templates (docs/mail.md)."""
