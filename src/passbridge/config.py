"""Configuration from the environment (12-factor).

Every setting is read once at start-up; an invalid value stops the process with one
clear line (`ConfigError`) rather than a traceback deep inside a request.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from passbridge.mail.smtp_url import SmtpTarget, parse_smtp_url


class ConfigError(Exception):
    """The environment describes a configuration Passbridge cannot run with."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PASSBRIDGE_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    base_url: str = "http://localhost:8000"
    # When set, used instead of the pepper file: lets several nodes share one pepper.
    pepper: str | None = Field(default=None, repr=False)
    # Argon2id parameters for low-entropy secrets (passes). OWASP's minimum is m=19 MiB, t=2, p=1.
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1, le=16)
    access_token_minutes: int = Field(default=60, ge=5, le=1440)
    # Browser sessions last this long at most (a pass sign-in ends earlier: with its pass).
    session_minutes: int = Field(default=480, ge=5, le=43200)
    # A sign-in flow (username, then proof) must be finished within this many minutes.
    flow_minutes: int = Field(default=15, ge=1, le=120)
    refresh_token_days: int = Field(default=14, ge=1, le=90)
    # Brute force: failed proofs for one user within the window before that user is refused until the
    # window passes (NIST SP 800-63B allows at most 100), and failures from one source address.
    lockout_threshold: int = Field(default=10, ge=1, le=100)
    lockout_window_minutes: int = Field(default=15, ge=1, le=1440)
    lockout_ip_threshold: int = Field(default=100, ge=1, le=100000)
    # Reverse proxies whose X-Forwarded-For / Forwarded headers are believed (client_address.py):
    # comma-separated addresses or CIDRs. None by default: the TCP peer is the client.
    trusted_proxies: str = ""
    # Serve the demo relying party at /demo-rp (set by `passbridge demo`; never needed in production).
    demo_rp: bool = False
    # The measured bypasses of FastAPI, Authlib, SQLAlchemy and joserfc internals (passbridge/fastpath);
    # off, every request takes the libraries' plain path.
    fastpath: bool = True
    # Mail (passbridge/mail, docs/mail.md). No SMTP URL: mail waits in the outbox and nothing sends it.
    smtp_url: str | None = Field(default=None, repr=False)
    # The sender's address; empty: passbridge@ the base URL's host.
    mail_from: str = ""
    # Where "This wasn't me" reports go (the helpdesk); empty: nobody is mailed, the audit log has it.
    mail_helpdesk: str = ""
    # A message is given up after this many attempts, or once it is this old, whichever comes first.
    mail_max_attempts: int = Field(default=10, ge=1, le=100)
    mail_max_age_hours: int = Field(default=48, ge=1, le=720)
    # How often each server process looks for mail that is due.
    mail_poll_seconds: float = Field(default=10.0, ge=0.1, le=3600)
    # How often each server process looks for new hires whose pass is due (the joiner workflow).
    joiner_poll_seconds: float = Field(default=60.0, ge=0.1, le=3600)
    # Operations (docs/operations.md): GET /metrics is off, open, or needs `Authorization: Bearer` with
    # PASSBRIDGE_METRICS_TOKEN; logs as text or one JSON object per line.
    metrics: Literal["off", "token", "open"] = "off"
    metrics_token: str | None = Field(default=None, repr=False)
    log_format: Literal["text", "json"] = "text"

    @field_validator("base_url")
    @classmethod
    def _base_url_is_http(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL such as http://localhost:8000")
        if parts.query or parts.fragment:
            raise ValueError("must not carry a query or fragment")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _trusted_proxies_are_networks(cls, value: str) -> str:
        for entry in _entries(value):
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"{entry!r} is not an IP address or CIDR (such as 10.0.0.0/8)") from None
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url_supported(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        scheme = value.split("://", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgresql+psycopg"):
            raise ValueError("must start with sqlite:// or postgresql+psycopg://")
        if scheme == "postgresql":
            # psycopg 3 is the driver we ship; SQLAlchemy's bare "postgresql" means psycopg2.
            value = "postgresql+psycopg://" + value.split("://", 1)[1]
        return value

    @field_validator("smtp_url")
    @classmethod
    def _smtp_url_readable(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_smtp_url(value)  # its errors never quote the URL: it may hold a password
        return value.strip()

    @field_validator("mail_from", "mail_helpdesk")
    @classmethod
    def _address_or_nothing(cls, value: str) -> str:
        value = value.strip()
        if value and not _looks_like_address(value):
            raise ValueError("must be a mail address such as helpdesk@example.com")
        return value

    @property
    def smtp(self) -> SmtpTarget | None:
        return parse_smtp_url(self.smtp_url) if self.smtp_url else None

    @property
    def mail_sender(self) -> str:
        return self.mail_from or f"passbridge@{urlsplit(self.base_url).hostname}"

    @model_validator(mode="after")
    def _metrics_token_when_needed(self) -> Settings:
        if self.metrics == "token" and len(self.metrics_token or "") < 32:
            raise ValueError(
                "PASSBRIDGE_METRICS=token needs PASSBRIDGE_METRICS_TOKEN of at least 32 characters"
            )
        return self

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'passbridge.db').resolve()}"

    @property
    def pepper_file(self) -> Path:
        return self.data_dir / "pepper"

    @property
    def trusted_proxy_networks(self) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
        return tuple(ipaddress.ip_network(entry, strict=False) for entry in _entries(self.trusted_proxies))

    @property
    def is_local(self) -> bool:
        return urlsplit(self.base_url).hostname in ("localhost", "127.0.0.1", "::1")


def _looks_like_address(value: str) -> bool:
    local, at, domain = value.rpartition("@")
    return bool(at and local and domain) and not any(c.isspace() or c in "<>,;" for c in value)


def _entries(value: str) -> list[str]:
    return [entry.strip() for entry in value.split(",") if entry.strip()]


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment; raise `ConfigError` with one readable line."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = "PASSBRIDGE_" + str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"invalid {name}: {message}") from None
