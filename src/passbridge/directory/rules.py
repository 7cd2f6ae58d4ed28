"""Directory rules: names, roles and application permissions."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from passbridge.domain.errors import InvalidInput, NotFound
from passbridge.domain.text import check_storable

# Graph's alias rules: letters, digits and ' . - _ ! # ^ ~ (we also allow +); no leading,
# trailing or doubled dot; alias up to 64 characters, the whole name up to 113.
_ALIAS = re.compile(r"^[A-Za-z0-9'_!#^~+\-]+(\.[A-Za-z0-9'_!#^~+\-]+)*$")
_LABEL = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$")


def normalise_upn(upn: str) -> str:
    """Validate a userPrincipalName and return it trimmed (case kept for display)."""
    # First, because the messages below quote the value.
    value = check_storable(upn, what="userPrincipalName").strip()
    if value.count("@") != 1:
        raise InvalidInput(f"userPrincipalName '{value}' must have the form alias@domain.")
    alias, domain = value.split("@")
    if not alias or len(alias) > 64 or not _ALIAS.match(alias):
        raise InvalidInput(
            f"userPrincipalName '{value}' has an invalid alias: use letters, digits and . - _ ' ! # ^ ~ +, "
            "at most 64 characters, no leading, trailing or doubled dot."
        )
    labels = domain.split(".")
    if len(labels) < 2 or not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise InvalidInput(f"userPrincipalName '{value}' has an invalid domain '{domain}'.")
    if len(value) > 113:
        raise InvalidInput(f"userPrincipalName '{value}' is longer than 113 characters.")
    return value


def normalise_sign_in_name(name: str, *, bare_allowed: bool) -> str:
    """A userPrincipalName, or (`bare_allowed`: SCIM's userName) a sign-in name without a domain, such as
    an HR system's login `jdoe`, held to the alias rules. Graph writes keep Graph's alias@domain rule."""
    value = check_storable(name, what="userName").strip()
    if "@" in value or not bare_allowed:
        return normalise_upn(value)
    if len(value) > 64 or not _ALIAS.match(value):
        raise InvalidInput(
            f"userName '{value}' is not a valid sign-in name: use alias@domain, or an alias of letters, "
            "digits and . - _ ' ! # ^ ~ +, at most 64 characters, no leading, trailing or doubled dot."
        )
    return value


def upn_key(upn: str) -> str:
    """The case-insensitive identity of a UPN: two names differing only in case are the same user."""
    return upn.strip().casefold()


def check_display_name(name: str, *, what: str = "displayName", limit: int = 256) -> str:
    value = check_storable(name, what=what).strip()
    if not value:
        raise InvalidInput(f"{what} must not be empty.")
    if len(value) > limit:
        raise InvalidInput(f"{what} must be at most {limit} characters.")
    if any(_is_control(ch) for ch in value):
        raise InvalidInput(f"{what} must not contain control characters.")
    return value


def check_description(text: str | None, *, what: str = "description", limit: int = 1024) -> str | None:
    """A free-text description: storable, and no longer than Graph's group description (1,024)."""
    if text is None:
        return None
    value = check_storable(text, what=what)
    if len(value) > limit:
        raise InvalidInput(f"{what} must be at most {limit} characters.")
    return value


def _is_control(ch: str) -> bool:
    # C0, DEL and C1: Unicode's Cc. Format characters (joiners in emoji, marks) stay allowed.
    code = ord(ch)
    return code < 0x20 or 0x7F <= code <= 0x9F


class Role(StrEnum):
    """Directory roles that matter to passes, keyed by Entra's role template ids."""

    GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
    PRIVILEGED_AUTHENTICATION_ADMINISTRATOR = "7be44c8a-adaf-4e2a-84d6-ab2649e08a13"
    AUTHENTICATION_ADMINISTRATOR = "c4e39bd9-1100-46d3-8c65-fb160da0071f"
    AUTHENTICATION_POLICY_ADMINISTRATOR = "0526716b-113d-4c15-b2c8-68e3c22b9f80"
    GLOBAL_READER = "f2ef992c-3afb-46b9-b7cf-a126ee74c451"
    USER_ADMINISTRATOR = "fe930be7-5e62-47db-91af-98c3a49a38b1"
    GROUPS_ADMINISTRATOR = "fdd7a751-b60b-444a-984c-02652fe8fa1c"
    APPLICATION_ADMINISTRATOR = "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3"

    @property
    def display_name(self) -> str:
        return _ROLE_NAMES[self]


_ROLE_NAMES = {
    Role.GLOBAL_ADMINISTRATOR: "Global Administrator",
    Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR: "Privileged Authentication Administrator",
    Role.AUTHENTICATION_ADMINISTRATOR: "Authentication Administrator",
    Role.AUTHENTICATION_POLICY_ADMINISTRATOR: "Authentication Policy Administrator",
    Role.GLOBAL_READER: "Global Reader",
    Role.USER_ADMINISTRATOR: "User Administrator",
    Role.GROUPS_ADMINISTRATOR: "Groups Administrator",
    Role.APPLICATION_ADMINISTRATOR: "Application Administrator",
}

# Roles that make a user an "administrator" for the issuer-tier rules: an Authentication
# Administrator may act only on users who hold none of these.
ADMIN_ROLES = frozenset(Role)


def _squash(text: str) -> str:
    return re.sub(r"[\s_\-]", "", text).casefold()


def parse_role(text: str) -> Role:
    """Accept a role's display name in any case/spacing ('global-administrator') or its template id."""
    wanted = _squash(text)
    for role in Role:
        if wanted in (_squash(role.display_name), _squash(role.value)):
            return role
    known = ", ".join(r.display_name for r in Role)
    raise NotFound(f"Unknown role '{text}'. Known roles: {known}.", kind="role")


@dataclass(frozen=True)
class Permission:
    name: str
    description: str


# Application permissions (Graph "roles" claim) Passbridge understands, with Graph's names.
PERMISSIONS: dict[str, Permission] = {
    p.name.casefold(): p
    for p in (
        Permission("User.Read.All", "Read all users' full profiles"),
        Permission("User.ReadWrite.All", "Read and write all users' full profiles"),
        Permission("User.RevokeSessions.All", "Revoke all sign-in sessions for a user"),
        Permission("Group.Read.All", "Read all groups"),
        Permission("Group.ReadWrite.All", "Read and write all groups"),
        Permission("UserAuthenticationMethod.Read.All", "Read all users' authentication methods"),
        Permission(
            "UserAuthenticationMethod.ReadWrite.All", "Read and write all users' authentication methods"
        ),
        Permission("UserAuthMethod-TAP.Read.All", "Read all users' Temporary Access Pass methods"),
        Permission(
            "UserAuthMethod-TAP.ReadWrite.All", "Read and write all users' Temporary Access Pass methods"
        ),
        Permission("UserAuthMethod-Passkey.Read.All", "Read all users' passkey methods"),
        Permission("UserAuthMethod-Passkey.ReadWrite.All", "Read and write all users' passkey methods"),
        Permission("Policy.Read.All", "Read your organization's policies"),
        Permission("Policy.Read.AuthenticationMethod", "Read authentication method policies"),
        Permission("Policy.ReadWrite.AuthenticationMethod", "Read and write authentication method policies"),
        Permission("AuditLog.Read.All", "Read all audit log data"),
    )
}


def parse_permission(text: str) -> str:
    """Return the canonical name of an application permission, or refuse an unknown one."""
    found = PERMISSIONS.get(text.strip().casefold())
    if found is None:
        known = ", ".join(p.name for p in PERMISSIONS.values())
        raise NotFound(f"Unknown permission '{text}'. Known permissions: {known}.", kind="permission")
    return found.name


# --- what HR systems set (Graph's user properties; issue 14) --------------------------------------

# Graph's documented maximum lengths (resources/user.md). employeeType and officeLocation have none
# there: Entra's directory schema holds 64 and 128 characters. employeeId takes 64 where Graph takes 16:
# it is also SCIM's employeeNumber, which HR systems fill with longer ids (a prefix and a number), and a
# value Graph accepts is accepted here all the same.
HR_TEXT_LIMITS: dict[str, int] = {
    "employeeId": 64,
    "employeeType": 64,
    "department": 64,
    "jobTitle": 128,
    "companyName": 64,
    "officeLocation": 128,
    "mobilePhone": 64,
}
MAX_OTHER_MAILS = 250  # Graph: up to 250 values of up to 250 characters each
MAX_OTHER_MAIL_LENGTH = 250
MAX_EXTERNAL_ID = 256  # SCIM's externalId, as Entra's provisioning stores it
# The manager chain is walked to refuse cycles; no real organisation is deeper than this.
MAX_MANAGER_DEPTH = 1000

# ISO 3166-1 alpha-2's officially assigned codes (usageLocation).
_ISO_3166_ALPHA_2 = """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO BQ BR BS
    BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ DK DM DO DZ EC EE EG
    EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP GQ GR GS GT GU GW GY HK HM HN HR
    HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR
    LS LT LU LV LY MA MC MD ME MF MG MH MK ML MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG
    NI NL NO NP NR NU NZ OM PA PE PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE
    SG SH SI SJ SK SL SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA
    UG UM US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW"""
ISO_COUNTRIES = frozenset(_ISO_3166_ALPHA_2.split())


def check_hr_text(value: str | None, *, what: str) -> str | None:
    """One of HR's free-text properties (`what` is its Graph name): trimmed, at most Graph's length, no
    control characters; None or only spaces clears it."""
    if value is None:
        return None
    text = check_storable(value, what=what).strip()
    if not text:
        return None
    limit = HR_TEXT_LIMITS[what]
    if len(text) > limit:
        raise InvalidInput(f"{what} must be at most {limit} characters.")
    if any(_is_control(ch) for ch in text):
        raise InvalidInput(f"{what} must not contain control characters.")
    return text


def check_usage_location(value: str | None) -> str | None:
    """usageLocation: an ISO 3166-1 alpha-2 country code, kept in capitals; None clears it."""
    if value is None:
        return None
    code = check_storable(value, what="usageLocation").strip().upper()
    if not code:
        return None
    if code not in ISO_COUNTRIES:
        raise InvalidInput(
            "usageLocation must be a two-letter ISO 3166-1 country code such as US, GB or JP; "
            f"'{value.strip()[:8]}' is not one."
        )
    return code


def check_hire_date(value: datetime | None) -> datetime | None:
    """employeeHireDate: an instant with its offset (Graph's DateTimeOffset), kept in UTC."""
    if value is None:
        return None
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidInput("employeeHireDate needs a time zone offset, for example 2027-01-04T00:00:00Z.")
    return value.astimezone(UTC)


def check_other_mails(values: Sequence[str] | None) -> list[str]:
    """otherMails: addresses of the alias@domain form, each at most 250 characters, at most 250 of them;
    a repeat (in any case) is dropped, the first spelling kept. None or [] clears them."""
    if not values:
        return []
    if len(values) > MAX_OTHER_MAILS:
        raise InvalidInput(f"otherMails holds at most {MAX_OTHER_MAILS} addresses.")
    kept: dict[str, str] = {}
    for raw in values:
        address = check_storable(raw, what="otherMails").strip()
        if len(address) > MAX_OTHER_MAIL_LENGTH:
            raise InvalidInput(f"Each of otherMails must be at most {MAX_OTHER_MAIL_LENGTH} characters.")
        try:
            address = normalise_upn(address)
        except InvalidInput:
            raise InvalidInput(
                f"otherMails holds '{address[:64]}', which is not an email address of the form name@domain."
            ) from None
        kept.setdefault(address.casefold(), address)
    return list(kept.values())


def check_external_id(value: str | None) -> str | None:
    """SCIM's externalId: the provisioning client's id for the user, kept exactly as sent."""
    if value is None:
        return None
    text = check_storable(value, what="externalId")
    if not text.strip():
        return None
    if len(text) > MAX_EXTERNAL_ID:
        raise InvalidInput(f"externalId must be at most {MAX_EXTERNAL_ID} characters.")
    if any(_is_control(ch) for ch in text):
        raise InvalidInput("externalId must not contain control characters.")
    return text


def check_manager(user_id: str, manager_id: str, manager_of: Callable[[str], str | None]) -> None:
    """A user's manager may be neither the user nor anyone who reports to them, directly or not:
    walks up from the new manager (`manager_of` gives each one's manager) looking for the user."""
    if manager_id == user_id:
        raise InvalidInput("A user cannot be their own manager.")
    seen = {manager_id}
    current = manager_of(manager_id)
    while current is not None:
        if current == user_id:
            raise InvalidInput(
                "This manager reports to the user, directly or through others: the change would make a "
                "reporting cycle."
            )
        if current in seen or len(seen) > MAX_MANAGER_DEPTH:
            return  # a cycle that does not involve this user, or a chain no real organisation has
        seen.add(current)
        current = manager_of(current)
