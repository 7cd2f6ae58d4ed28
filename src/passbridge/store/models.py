"""Tables. Every change here needs a migration; tests/unit/test_migrations.py proves they agree."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Stores UTC and always hands back an aware UTC datetime (SQLite forgets the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


Guid = String(36)


class Tenant(Base):
    __tablename__ = "tenant"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class User(Base):
    __tablename__ = "app_user"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_principal_name: Mapped[str] = mapped_column(String(113))
    # casefolded UPN: uniqueness is case-insensitive on every database.
    upn_key: Mapped[str] = mapped_column(String(113), unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    mail: Mapped[str | None] = mapped_column(String(256), nullable=True)
    account_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Refresh tokens and sessions issued before this instant are void (revokeSignInSessions).
    sessions_valid_from: Mapped[datetime] = mapped_column(UTCDateTime)


class Group(Base):
    __tablename__ = "app_group"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class GroupMember(Base):
    __tablename__ = "group_member"
    group_id: Mapped[str] = mapped_column(ForeignKey("app_group.id", ondelete="CASCADE"), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    __table_args__ = (Index("ix_group_member_user_id", "user_id"),)


class RoleAssignment(Base):
    __tablename__ = "role_assignment"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    role_template_id: Mapped[str] = mapped_column(Guid)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    __table_args__ = (UniqueConstraint("role_template_id", "user_id"),)


class Application(Base):
    __tablename__ = "application"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    app_id: Mapped[str] = mapped_column(Guid, unique=True)
    display_name: Mapped[str] = mapped_column(String(256))
    secret_hash: Mapped[str] = mapped_column(String(128))
    redirect_uris: Mapped[list[str]] = mapped_column(JSON, default=list)
    permissions: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SigningKey(Base):
    __tablename__ = "signing_key"
    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(16))
    public_jwk: Mapped[dict[str, Any]] = mapped_column(JSON)
    # Encrypted with a key derived from the pepper, which never lives in the database.
    private_jwk_sealed: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Keys sign from activation until retirement and stay published in the JWKS while tokens live.
    activates_at: Mapped[datetime] = mapped_column(UTCDateTime)
    retired_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TemporaryAccessPass(Base):
    __tablename__ = "temporary_access_pass"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    # One pass per user, enforced by the database so racing issuers cannot leave two.
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    lifetime_minutes: Mapped[int] = mapped_column(Integer)
    is_usable_once: Mapped[bool] = mapped_column(Boolean)
    secret_hash: Mapped[str] = mapped_column(String(256))
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class TapPolicyRow(Base):
    __tablename__ = "tap_policy"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    default_lifetime: Mapped[int] = mapped_column(Integer)
    default_length: Mapped[int] = mapped_column(Integer)
    minimum_lifetime: Mapped[int] = mapped_column(Integer)
    maximum_lifetime: Mapped[int] = mapped_column(Integer)
    is_usable_once: Mapped[bool] = mapped_column(Boolean)
    include_targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    exclude_targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class MethodsPolicyRow(Base):
    """The authentication methods policy as a whole: its version moves on every change to any
    method configuration, so clients can tell that something changed."""

    __tablename__ = "auth_methods_policy"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class AuditEntry(Base):
    """A directory audit record in Graph's directoryAudit shape. Never holds a secret."""

    __tablename__ = "audit_entry"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    activity_date_time: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    activity_display_name: Mapped[str] = mapped_column(String(256))
    category: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(Guid)
    logged_by_service: Mapped[str] = mapped_column(String(128))
    operation_type: Mapped[str] = mapped_column(String(32))
    result: Mapped[str] = mapped_column(String(16))
    result_reason: Mapped[str] = mapped_column(String(512))
    initiated_by: Mapped[dict[str, Any]] = mapped_column(JSON)
    target_resources: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    additional_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON)


class AuditTarget(Base):
    """Index of audit entries by target id, for `targetResources/any(t: t/id eq '...')`."""

    __tablename__ = "audit_target"
    audit_id: Mapped[str] = mapped_column(ForeignKey("audit_entry.id", ondelete="CASCADE"), primary_key=True)
    target_id: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
