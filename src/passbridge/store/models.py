"""Tables. Every change here needs a migration; tests/unit/test_migrations.py proves they agree."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    false,
    func,
    literal_column,
    text,
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

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # On SQLite: process_bind_param and then SQLite's DATETIME text, in one step. isoformat writes
        # SQLAlchemy's default storage format, "YYYY-MM-DD HH:MM:SS.ffffff", character for character
        # (tests/unit/test_models.py compares), in a fraction of its %-formatting of seven fields: a
        # refresh grant binds seven datetimes.
        def process(value: datetime | None) -> str | None:
            if value is None:
                return None
            if value.tzinfo is None:
                raise ValueError("naive datetimes are not stored; pass an aware UTC datetime")
            return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")

        return process

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any] | None:
        if dialect.name != "sqlite":
            return super().result_processor(dialect, coltype)

        # On SQLite: SQLAlchemy's parse of the DATETIME text (datetime.fromisoformat) and then
        # process_result_value, in one step instead of two calls per value (tests/unit/test_models.py).
        def process(value: str | None) -> datetime | None:
            if value is None:
                return None
            parsed = datetime.fromisoformat(value)
            return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)

        return process


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
    # Indexed for the joiner workflow: users added since it was switched on.
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Refresh tokens and sessions issued before this instant are void (revokeSignInSessions).
    sessions_valid_from: Mapped[datetime] = mapped_column(UTCDateTime)
    # What HR systems set (Graph's names; lengths are Graph's limits, directory/rules.py checks them).
    employee_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    employee_type: Mapped[str | None] = mapped_column(String(64), nullable=True)
    employee_hire_date: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    department: Mapped[str | None] = mapped_column(String(64), nullable=True)
    job_title: Mapped[str | None] = mapped_column(String(128), nullable=True)
    company_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    office_location: Mapped[str | None] = mapped_column(String(128), nullable=True)
    usage_location: Mapped[str | None] = mapped_column(String(2), nullable=True)
    mobile_phone: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Private addresses, the HR system's among them (Graph's otherMails).
    other_mails: Mapped[list[str]] = mapped_column(JSON, default=list, server_default="[]")
    # SCIM's externalId: the provisioning client's own id for the user; not a Graph property.
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    manager_id: Mapped[str | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="SET NULL"), nullable=True, index=True
    )
    # What `$filter` compares (directory/queries.py): lower() is the database's own, as the filters'
    # case rules have always been. On PostgreSQL the pattern opclass also serves `LIKE 'p%'` whatever
    # the database's collation; SQLite searches a prefix as a range of the index instead.
    __table_args__ = (
        Index(
            "ix_app_user_display_name_lower",
            func.lower(display_name).label("display_name_lower"),
            postgresql_ops={"display_name_lower": "text_pattern_ops"},
        ),
        Index(
            "ix_app_user_mail_lower",
            func.lower(mail).label("mail_lower"),
            postgresql_ops={"mail_lower": "text_pattern_ops"},
        ),
        # SQLite ranges over the unique index; PostgreSQL's LIKE needs the pattern opclass.
        Index(
            "ix_app_user_upn_key_pattern", upn_key, postgresql_ops={"upn_key": "varchar_pattern_ops"}
        ).ddl_if(dialect="postgresql"),
        # accountEnabled filters in UPN order without visiting the other users.
        Index("ix_app_user_account_enabled_upn_key", account_enabled, upn_key),
        # $orderby=displayName (asc or desc, any case) pages by (lower(display_name), id) along this one;
        # the default opclass, as PostgreSQL orders only by that (the pattern one above serves LIKE).
        Index("ix_app_user_display_name_order", func.lower(display_name).label("display_name_order"), id),
        # HR's properties, filtered as displayName is (eq and startswith on lower()).
        *(
            Index(
                f"ix_app_user_{name}_lower",
                func.lower(column).label(f"{name}_lower"),
                postgresql_ops={f"{name}_lower": "text_pattern_ops"},
            )
            for name, column in (
                ("employee_id", employee_id),
                ("employee_type", employee_type),
                ("department", department),
                ("job_title", job_title),
                ("company_name", company_name),
                ("office_location", office_location),
                ("usage_location", usage_location),
                ("mobile_phone", mobile_phone),
            )
        ),
    )


# A group's description may be 1,024 characters of up to 4 bytes each, more than a PostgreSQL index
# entry holds (~2,700 bytes): its index holds the first DESCRIPTION_HEAD characters of lower(description).
DESCRIPTION_HEAD = 200


class Group(Base):
    __tablename__ = "app_group"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256), index=True)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # SCIM's externalId: the provisioning client's own id for the group; not a Graph property.
    external_id: Mapped[str | None] = mapped_column(String(256), nullable=True, index=True)
    __table_args__ = (
        Index(
            "ix_app_group_display_name_lower",
            func.lower(display_name).label("display_name_lower"),
            postgresql_ops={"display_name_lower": "text_pattern_ops"},
        ),
        Index(
            "ix_app_group_description_head",
            func.substr(
                func.lower(description), literal_column("1"), literal_column(str(DESCRIPTION_HEAD))
            ).label("description_head"),
            postgresql_ops={"description_head": "text_pattern_ops"},
        ),
    )


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
    # A public client (a single-page or native app) holds no secret: it must use PKCE, and its
    # secret_hash is empty, which no presented secret matches.
    is_public_client: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The authentication strength (methods/strength.py) a sign-in to this app must reach, or None.
    required_strength: Mapped[str | None] = mapped_column(String(64), nullable=True)
    # Where My apps sends people (Graph's web.homePageUrl); None: the origin of the first redirect URI.
    home_page_url: Mapped[str | None] = mapped_column(String(2048), nullable=True)


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
    # start_at + lifetime_minutes, stored so the tenant's live passes are an index range.
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Who issued it (a user's or an application's object id and name; None for the operator's CLI, and
    # for passes issued before this was recorded), for the admin portal's inventory.
    created_by_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    created_by_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # Why it was issued, as the issuer said (passes/rules.py issue_reason), for the holder's notices.
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    # What the pass may be used for (passes/rules.py Purpose): signIn, enrol or recover.
    purpose: Mapped[str] = mapped_column(String(16), default="signIn", server_default="signIn")
    # An enrol or recover one-time pass burns on success: sign-ins with it and set-ups begun in their
    # sessions are counted here, and it burns (used_at) at a method's registration or at the limit.
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")


class TapPolicyRow(Base):
    __tablename__ = "tap_policy"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    default_lifetime: Mapped[int] = mapped_column(Integer)
    default_length: Mapped[int] = mapped_column(Integer)
    minimum_lifetime: Mapped[int] = mapped_column(Integer)
    maximum_lifetime: Mapped[int] = mapped_column(Integer)
    is_usable_once: Mapped[bool] = mapped_column(Boolean)
    # A Passbridge extension: passes hold symbols only when the policy asks (passes/rules.py).
    include_symbols: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # A Passbridge extension: issuing a pass needs a reason (a ticket id or a few words).
    require_reason: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Passbridge extensions (docs/purpose-bound-passes.md): every pass gets at least this purpose, and a
    # multi-use pass is revoked once its holder registers a passkey.
    enforced_purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    revoke_multi_use_after_passkey: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
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


# --- passwordless methods ------------------------------------------------------------------------


class Fido2Credential(Base):
    """A passkey or FIDO2 security key (Graph's fido2AuthenticationMethod). Holds only public material."""

    __tablename__ = "fido2_credential"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # base64url of the authenticator's credential id (at most 1,023 bytes raw, WebAuthn Level 3).
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)  # COSE_Key
    sign_count: Mapped[int] = mapped_column(Integer)
    aaguid: Mapped[str] = mapped_column(String(36))
    transports: Mapped[list[str]] = mapped_column(JSON)
    backup_eligible: Mapped[bool] = mapped_column(Boolean)
    backed_up: Mapped[bool] = mapped_column(Boolean)
    attestation_format: Mapped[str] = mapped_column(String(32))
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SoftwareOathMethod(Base):
    """An authenticator app (TOTP, RFC 6238; Graph's softwareOathAuthenticationMethod). The seed is sealed
    under a key derived from the pepper, which lives outside the database."""

    __tablename__ = "software_oath_method"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    secret_sealed: Mapped[str] = mapped_column(String(256))
    display_name: Mapped[str] = mapped_column(String(200))
    # The last time step a code was accepted for: a code is never accepted twice (RFC 6238, 5.2).
    last_step: Mapped[int | None] = mapped_column(Integer, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class MethodConfigurationRow(Base):
    """An authentication method configuration of the policy other than the TAP's (which has its own
    columns in tap_policy): `Fido2`, `SoftwareOath`. Its method-specific settings travel in `settings`."""

    __tablename__ = "method_configuration"
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    include_targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    exclude_targets: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class Ceremony(Base):
    """A challenge waiting for its answer: a WebAuthn registration or assertion, or an authenticator app
    being set up (its new seed, sealed, until a valid code confirms it). Bound to the session or the
    sign-in flow that asked for it; used at most once, and only by a successful answer, so a failed or
    cancelled attempt can be retried."""

    __tablename__ = "ceremony"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=True, index=True
    )
    session_id: Mapped[str | None] = mapped_column(
        ForeignKey("user_session.id", ondelete="CASCADE"), nullable=True, index=True
    )
    flow_id: Mapped[str | None] = mapped_column(
        ForeignKey("sign_in_flow.id", ondelete="CASCADE"), nullable=True, index=True
    )
    challenge: Mapped[str] = mapped_column(String(128))  # base64url
    secret_sealed: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- sign-in ---------------------------------------------------------------------------------------


class SignInFlow(Base):
    """A sign-in in progress (DESIGN.md, "Flows are explicit state"): identify -> prove -> done.

    Any server process can continue it; the browser holds only its id (in a cookie) and posts the
    CSRF token with every step."""

    __tablename__ = "sign_in_flow"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    state: Mapped[str] = mapped_column(String(16))
    csrf_token: Mapped[str] = mapped_column(String(64))
    user_id: Mapped[str | None] = mapped_column(
        ForeignKey("app_user.id", ondelete="CASCADE"), nullable=True, index=True
    )
    # What the person typed, to show it back ("Signing in as ..."); never used to find the user again.
    username: Mapped[str | None] = mapped_column(String(256), nullable=True)
    methods_satisfied: Mapped[list[str]] = mapped_column(JSON, default=list)
    return_to: Mapped[str | None] = mapped_column(Text, nullable=True)
    # An OpenID Connect authorization request waiting for this sign-in (its validated parameters).
    auth_request: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    client_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    force_login: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class UserSession(Base):
    """A browser session. The cookie carries a random value; only its keyed hash is stored."""

    __tablename__ = "user_session"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON)
    acr: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # After a one-time pass the user must register a method before this instant, then the session ends.
    register_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The pass this session was begun with, if any (not a foreign key: the pass may be deleted).
    pass_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    # That pass's purpose (passes/rules.py Purpose); None when no pass began the session.
    pass_purpose: Mapped[str | None] = mapped_column(String(16), nullable=True)
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class SignInThrottle(Base):
    """One throttle counter (signin/rules.py `Counter`): a username's untrusted attempts, a trusted
    device's, a source address's, or an account's consecutive failures. In the database, not in a
    process, so every server process counts the same attempts."""

    __tablename__ = "sign_in_throttle"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    attempts: Mapped[int] = mapped_column(Integer)
    lockouts: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True, index=True)
    version: Mapped[int] = mapped_column(Integer)


class SignInLogEntry(Base):
    """One sign-in attempt in Graph's signIn shape (`/auditLogs/signIns`). Never holds a secret."""

    __tablename__ = "sign_in_log"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[str | None] = mapped_column(Guid, nullable=True, index=True)
    user_principal_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    user_display_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    app_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    app_display_name: Mapped[str] = mapped_column(String(256))
    ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    client_app_used: Mapped[str] = mapped_column(String(64))
    correlation_id: Mapped[str] = mapped_column(Guid)
    is_interactive: Mapped[bool] = mapped_column(Boolean)
    error_code: Mapped[int] = mapped_column(Integer)
    failure_reason: Mapped[str | None] = mapped_column(String(512), nullable=True)
    authentication_details: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    authentication_requirement: Mapped[str] = mapped_column(String(64))
    # The log's filter by userPrincipalName compares lower() of the stored name (logs/signin_log_queries.py).
    __table_args__ = (Index("ix_sign_in_log_user_principal_name_lower", func.lower(user_principal_name)),)


# --- OpenID Connect --------------------------------------------------------------------------------


class AuthorizationCodeRow(Base):
    """An authorization code, stored by keyed hash and usable once."""

    __tablename__ = "authorization_code"
    code_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    client_id: Mapped[str] = mapped_column(Guid)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text, nullable=True)
    code_challenge: Mapped[str | None] = mapped_column(String(128), nullable=True)
    code_challenge_method: Mapped[str | None] = mapped_column(String(16), nullable=True)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON)
    acr: Mapped[str] = mapped_column(String(64))
    # Everything issued from a pass sign-in ends no later than the pass (and its session).
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class RefreshTokenRow(Base):
    """A refresh token, stored by keyed hash. Rotated on every use; a family shares one lineage, so
    presenting a used token revokes the whole family (reuse detection)."""

    __tablename__ = "refresh_token"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(128), unique=True)
    family_id: Mapped[str] = mapped_column(Guid, index=True)
    client_id: Mapped[str] = mapped_column(Guid)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    session_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    scope: Mapped[str] = mapped_column(Text)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime)
    amr: Mapped[list[str]] = mapped_column(JSON)
    acr: Mapped[str] = mapped_column(String(64))
    not_after: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


class ProvisioningToken(Base):
    """A bearer token an HR system or upstream directory provisions with over SCIM. Only its keyed hash
    is kept: the token is shown once, when it is made."""

    __tablename__ = "provisioning_token"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    secret_hash: Mapped[str] = mapped_column(String(128), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(256))
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- Mail ------------------------------------------------------------------------------------------


class OutboxMessage(Base):
    """One mail to send (passbridge/mail). Written in the transaction of its cause; the bodies are sealed
    (a notice or a joiner's mail may carry a pass) and dropped once the mail is sent or given up."""

    __tablename__ = "outbox"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    kind: Mapped[str] = mapped_column(String(64))
    to_address: Mapped[str] = mapped_column(String(320))
    subject: Mapped[str] = mapped_column(String(512))
    text_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    html_sealed: Mapped[str | None] = mapped_column(Text, nullable=True)
    # pending -> sending (claimed, leased until next_attempt_at) -> sent | failed; back to pending to retry.
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # Pending: when to try next. Sending: when the claim's lease ends (a crashed sender's mail is due again).
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(String(512), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    # The sender's claim reads due rows in this order: one index range.
    __table_args__ = (Index("ix_outbox_state_next_attempt_at", state, next_attempt_at),)


class PassNoticeLink(Base):
    """A "This wasn't me" link from a pass notice: the random token's keyed hash, usable once, until the
    pass would have ended."""

    __tablename__ = "pass_notice_link"
    token_hash: Mapped[str] = mapped_column(String(128), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # Not a foreign key: the link outlives the pass it revokes (its second use says so).
    pass_id: Mapped[str] = mapped_column(Guid, index=True)
    # What the notice said of the pass, kept for the link's page and the helpdesk once the pass is gone.
    issued_by: Mapped[str | None] = mapped_column(String(256), nullable=True)
    issued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)


# --- Joiner workflow ----------------------------------------------------------------------------------


class JoinerSettingsRow(Base):
    """The tenant's joiner workflow (one row): a pass for each new hire, mailed to their manager."""

    __tablename__ = "joiner_settings"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    days_before: Mapped[int] = mapped_column(Integer)
    lifetime_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_usable_once: Mapped[bool] = mapped_column(Boolean)
    mail_private: Mapped[bool] = mapped_column(Boolean)
    # Users added since this moment get theirs even when their hire date is long past.
    enabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class JoinerRun(Base):
    """The workflow's one run for a user: its primary key is what makes it run once, on any node."""

    __tablename__ = "joiner_run"
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # issued | skipped
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    pass_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    recipients: Mapped[list[str]] = mapped_column(JSON)
    processed_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class BulkPassJob(Base):
    """One bulk issuing run (passes/bulk.py): who asked, for what, how far it got. `updated_at` is its
    heartbeat: a running job whose heartbeat stopped was interrupted (a restart), and says so."""

    __tablename__ = "bulk_pass_job"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    requested_by_kind: Mapped[str] = mapped_column(String(16))
    requested_by_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    requested_by_name: Mapped[str] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(400))
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lifetime_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    is_usable_once: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    total: Mapped[int] = mapped_column(Integer)
    done: Mapped[int] = mapped_column(Integer)
    issued: Mapped[int] = mapped_column(Integer)
    refused: Mapped[int] = mapped_column(Integer)
    # Whether the passes are kept, sealed, for one download (portal, Graph); the CLI writes its file instead.
    keeps_result: Mapped[bool] = mapped_column(Boolean)
    result_taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    message: Mapped[str | None] = mapped_column(Text, nullable=True)


class BulkPassItem(Base):
    """One target of a bulk run, in the order given, and what became of it. `sealed_pass` is the pass
    sealed with the pepper-derived AES-GCM key until its one download; `pass_id` (no foreign key: a later
    pass replaces it) lets the report read whether it was used."""

    __tablename__ = "bulk_pass_item"
    job_id: Mapped[str] = mapped_column(ForeignKey("bulk_pass_job.id", ondelete="CASCADE"), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(400))
    status: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    upn: Mapped[str | None] = mapped_column(String(400), nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    pass_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    is_usable_once: Mapped[bool | None] = mapped_column(Boolean, nullable=True)
    sealed_pass: Mapped[str | None] = mapped_column(Text, nullable=True)


# --- Dual control for issuing passes ------------------------------------------------------------------


class PassApprovalSettingsRow(Base):
    """The tenant's dual control for issuing passes (one row; passes/approval_rules.py)."""

    __tablename__ = "pass_approval_settings"
    id: Mapped[str] = mapped_column(String(16), primary_key=True)
    enabled: Mapped[bool] = mapped_column(Boolean)
    for_role_holders: Mapped[bool] = mapped_column(Boolean)
    lifetime_threshold_minutes: Mapped[int | None] = mapped_column(Integer, nullable=True)
    request_expiry_minutes: Mapped[int] = mapped_column(Integer)
    collect_within_minutes: Mapped[int] = mapped_column(Integer)
    last_modified: Mapped[datetime] = mapped_column(UTCDateTime)


class PassApprovalRequest(Base):
    """A pass someone asked for that a second administrator must approve before it exists. Never the
    pass: its value is drawn when the requester collects the approved request (passes/approval.py)."""

    __tablename__ = "pass_approval_request"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    requester_kind: Mapped[str] = mapped_column(String(16))
    requester_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    requester_name: Mapped[str] = mapped_column(String(256))
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # None: the pass starts when it is collected.
    start_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    lifetime_minutes: Mapped[int] = mapped_column(Integer)
    is_usable_once: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    purpose: Mapped[str] = mapped_column(String(16))
    why: Mapped[str] = mapped_column(String(512))
    # pending | approved | denied | expired | issued | cancelled
    state: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    collect_by: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    approver_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    approver_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    decision_note: Mapped[str | None] = mapped_column(String(256), nullable=True)
    issued_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    pass_id: Mapped[str | None] = mapped_column(String(36), nullable=True)


# --- Self-service recovery ----------------------------------------------------------------------------


class RecoveryRequest(Base):
    """A "Lost your device?" request (recovery/): who asked for whom, who is asked to approve, and how it
    ended. The manager's approval link is a random token; only its keyed hash is kept. A user has at most
    one open request: the partial unique index holds across processes."""

    __tablename__ = "recovery_request"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    # open -> approved | denied; an open one past expires_at is expired (closed as such by the next request).
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    route: Mapped[str] = mapped_column(String(16))  # manager | helpdesk
    # Why the manager was not asked (route helpdesk), in words the helpdesk reads.
    route_reason: Mapped[str | None] = mapped_column(String(256), nullable=True)
    manager_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    link_hash: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime, nullable=True)
    decided_by_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    decided_by_name: Mapped[str | None] = mapped_column(String(256), nullable=True)
    decided_via: Mapped[str | None] = mapped_column(String(16), nullable=True)
    pass_id: Mapped[str | None] = mapped_column(Guid, nullable=True)
    __table_args__ = (
        Index(
            "ix_recovery_request_open_user",
            user_id,
            unique=True,
            postgresql_where=text("state = 'open'"),
            sqlite_where=text("state = 'open'"),
        ),
    )


class RecoveryLimit(Base):
    """One rate-limit counter of recovery requests (a name as typed, or a source address): a fixed window,
    advanced by one conditional UPDATE, so every server process counts the same requests."""

    __tablename__ = "recovery_limit"
    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime)
    count: Mapped[int] = mapped_column(Integer)


class StrengthPolicyRow(Base):
    """A custom authentication strength (methods/strength_policies.py); the built-in ones live in code.
    `name_key` is the display name case-folded: Graph refuses a second policy of the same name."""

    __tablename__ = "authentication_strength_policy"
    id: Mapped[str] = mapped_column(Guid, primary_key=True)
    display_name: Mapped[str] = mapped_column(String(256))
    name_key: Mapped[str] = mapped_column(String(256), unique=True)
    description: Mapped[str] = mapped_column(Text)
    # Graph's allowedCombinations, each a comma-joined set of modes, as methods/strength.py writes them.
    allowed_combinations: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    modified_at: Mapped[datetime] = mapped_column(UTCDateTime)
