"""Directory rules: userPrincipalName syntax, role names and application permission names."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from passbridge.directory.rules import (
    ADMIN_ROLES,
    PERMISSIONS,
    Role,
    check_display_name,
    normalise_upn,
    parse_permission,
    parse_role,
    upn_key,
)
from passbridge.domain.errors import InvalidInput, NotFound

KNOWN_ROLES = (
    "Global Administrator, Privileged Authentication Administrator, Authentication Administrator, "
    "Authentication Policy Administrator, Global Reader, User Administrator, Groups Administrator, "
    "Application Administrator"
)


# --- normalise_upn ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "upn",
    [
        "alice@contoso.example",
        "Alice.Smith@Contoso.Example",
        "a@b.co",
        "o'neil@contoso.com",
        "first.middle.last@contoso.com",
        "a_b-c!d#e^f~g+h@contoso.com",
        "alice@mail.eu.contoso.co.uk",
        "alice@contoso-corp.com",
        "alice@xn--bcher-kva.example",
        "alice@123.example",
        "7@contoso.com",
    ],
)
def test_valid_upn_is_returned_unchanged(upn):
    assert normalise_upn(upn) == upn


def test_upn_is_trimmed_of_surrounding_whitespace_and_keeps_its_case():
    assert normalise_upn("  Alice@Contoso.Example\t\n") == "Alice@Contoso.Example"


def test_alias_of_sixty_four_characters_is_accepted():
    upn = "a" * 64 + "@contoso.com"
    assert normalise_upn(upn) == upn


def test_upn_of_exactly_113_characters_is_accepted():
    upn = "a" * 64 + "@" + "d" * 44 + ".com"
    assert len(upn) == 113
    assert normalise_upn(upn) == upn


def test_domain_label_of_sixty_three_characters_is_accepted():
    upn = "a@" + "d" * 63 + ".com"
    assert normalise_upn(upn) == upn


@pytest.mark.parametrize("upn", ["alice", "alice.contoso.com", "", "   "])
def test_upn_without_at_sign_is_refused(upn):
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(upn)
    assert caught.value.message == f"userPrincipalName '{upn.strip()}' must have the form alias@domain."


@pytest.mark.parametrize("upn", ["a@b@contoso.com", "alice@@contoso.com", "@alice@contoso.com"])
def test_upn_with_two_at_signs_is_refused(upn):
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(upn)
    assert caught.value.message == f"userPrincipalName '{upn}' must have the form alias@domain."


@pytest.mark.parametrize(
    "upn",
    [
        "@contoso.com",
        "al ice@contoso.com",
        "alice @contoso.com",
        ".alice@contoso.com",
        "alice.@contoso.com",
        "al..ice@contoso.com",
        ".@contoso.com",
        "alice(x)@contoso.com",
        'al"ice@contoso.com',
        "alice,bob@contoso.com",
        "alice/bob@contoso.com",
        "élodie@contoso.com",
        "a" * 65 + "@contoso.com",
    ],
)
def test_upn_with_invalid_alias_is_refused(upn):
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(upn)
    assert caught.value.message.startswith(f"userPrincipalName '{upn}' has an invalid alias:")
    assert "at most 64 characters, no leading, trailing or doubled dot" in caught.value.message


@pytest.mark.parametrize(
    ("upn", "domain"),
    [
        ("alice@", ""),
        ("alice@contoso", "contoso"),
        ("alice@localhost", "localhost"),
        ("alice@ contoso.com", " contoso.com"),
        ("alice@con toso.com", "con toso.com"),
        ("alice@.contoso.com", ".contoso.com"),
        ("alice@contoso.com.", "contoso.com."),
        ("alice@contoso..com", "contoso..com"),
        ("alice@-contoso.com", "-contoso.com"),
        ("alice@contoso-.com", "contoso-.com"),
        ("alice@con_toso.com", "con_toso.com"),
        ("alice@contoso.123", "contoso.123"),
        ("alice@10.0.0.1", "10.0.0.1"),
        ("alice@[10.0.0.1]", "[10.0.0.1]"),
        ("alice@" + "d" * 64 + ".com", "d" * 64 + ".com"),
    ],
)
def test_upn_with_invalid_domain_is_refused(upn, domain):
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(upn)
    assert caught.value.message == f"userPrincipalName '{upn}' has an invalid domain '{domain}'."


def test_upn_longer_than_113_characters_is_refused():
    upn = "a" * 64 + "@" + "d" * 45 + ".com"
    assert len(upn) == 114
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(upn)
    assert caught.value.message == f"userPrincipalName '{upn}' is longer than 113 characters."


@given(
    alias=st.text(alphabet="abcXYZ019'_!#^~+-", min_size=1, max_size=20),
    domain=st.sampled_from(["contoso.com", "mail.contoso.example"]),
)
def test_any_alias_of_allowed_characters_is_accepted(alias, domain):
    upn = f"{alias}@{domain}"
    assert normalise_upn(upn) == upn


# --- upn_key ------------------------------------------------------------------------------------


def test_upn_key_is_the_case_folded_trimmed_name():
    assert upn_key("  Alice.Smith@Contoso.EXAMPLE ") == "alice.smith@contoso.example"


def test_upns_differing_only_in_case_share_a_key():
    key = upn_key("alice@contoso.example")
    assert upn_key("ALICE@CONTOSO.EXAMPLE") == key
    assert upn_key("aLiCe@CoNtOsO.eXaMpLe") == key


def test_different_upns_have_different_keys():
    assert upn_key("alice@contoso.example") != upn_key("alice2@contoso.example")
    assert upn_key("alice@contoso.example") != upn_key("alice@fabrikam.example")


@given(st.from_regex(r"[A-Za-z0-9]{1,20}@[A-Za-z]{1,10}\.[A-Za-z]{2,5}", fullmatch=True))
def test_upn_key_ignores_case_for_any_ascii_name(upn):
    assert upn_key(upn) == upn_key(upn.upper()) == upn_key(upn.lower()) == upn.lower()


# --- check_display_name -------------------------------------------------------------------------


def test_display_name_is_trimmed():
    assert check_display_name("  Alice Smith  ") == "Alice Smith"


@pytest.mark.parametrize("name", ["", "   ", "\t"])
def test_empty_display_name_is_refused(name):
    with pytest.raises(InvalidInput) as caught:
        check_display_name(name)
    assert caught.value.message == "displayName must not be empty."


def test_display_name_at_the_limit_is_accepted_and_one_over_refused():
    assert check_display_name("x" * 256) == "x" * 256
    with pytest.raises(InvalidInput) as caught:
        check_display_name("x" * 257)
    assert caught.value.message == "displayName must be at most 256 characters."


def test_display_name_with_control_character_is_refused():
    with pytest.raises(InvalidInput) as caught:
        check_display_name("Alice\x07Smith", what="name")
    assert caught.value.message == "name must not contain control characters."


@pytest.mark.parametrize("control", ["\x7f", "\x85", "\x9f"], ids=["del", "nel", "apc"])
def test_display_name_with_del_or_a_c1_control_is_refused(control: str) -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        check_display_name(f"Alice{control}Smith", what="name")


@pytest.mark.parametrize(
    "bad", ["Alice\x00Smith", "Alice\ud800Smith", "\udcedAlice"], ids=["nul", "high", "low"]
)
def test_display_name_no_database_can_store_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        check_display_name(bad, what="name")
    assert "not valid text" in caught.value.message and bad not in caught.value.message


def test_display_name_keeps_any_script_emoji_and_marks() -> None:
    name = "Zoë Ñúñez-王 👩\u200d💻 e\u0301"
    assert check_display_name(f"  {name} ") == name


@pytest.mark.parametrize(
    "bad", ["ada\x00@contoso.example", "ad\ud800a@contoso.example"], ids=["nul", "surrogate"]
)
def test_upn_no_database_can_store_is_refused_without_quoting_it(bad: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        normalise_upn(bad)
    assert "userPrincipalName" in caught.value.message and bad not in caught.value.message


# --- roles --------------------------------------------------------------------------------------


def test_role_template_ids_are_entras():
    assert {r.name: r.value for r in Role} == {
        "GLOBAL_ADMINISTRATOR": "62e90394-69f5-4237-9190-012177145e10",
        "PRIVILEGED_AUTHENTICATION_ADMINISTRATOR": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
        "AUTHENTICATION_ADMINISTRATOR": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
        "AUTHENTICATION_POLICY_ADMINISTRATOR": "0526716b-113d-4c15-b2c8-68e3c22b9f80",
        "GLOBAL_READER": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
        "USER_ADMINISTRATOR": "fe930be7-5e62-47db-91af-98c3a49a38b1",
        "GROUPS_ADMINISTRATOR": "fdd7a751-b60b-444a-984c-02652fe8fa1c",
        "APPLICATION_ADMINISTRATOR": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    }


def test_every_role_counts_as_an_administrator_role():
    assert frozenset(Role) == ADMIN_ROLES


@pytest.mark.parametrize(
    "text",
    [
        "Global Administrator",
        "global administrator",
        "global-administrator",
        "GLOBAL_ADMINISTRATOR",
        "GlobalAdministrator",
        "  Global   Administrator ",
        "global_-administrator",
        "62e90394-69f5-4237-9190-012177145e10",
        "62E90394-69F5-4237-9190-012177145E10",
        " 62e90394-69f5-4237-9190-012177145e10 ",
    ],
)
def test_global_administrator_is_recognised_in_any_spelling(text):
    assert parse_role(text) is Role.GLOBAL_ADMINISTRATOR


@pytest.mark.parametrize("role", list(Role))
def test_every_role_parses_from_its_display_name(role):
    assert parse_role(role.display_name) is role


@pytest.mark.parametrize("role", list(Role))
def test_every_role_parses_from_its_template_id(role):
    assert parse_role(role.value) is role
    assert parse_role(role.value.upper()) is role


@pytest.mark.parametrize("role", list(Role))
def test_every_role_parses_from_its_enum_style_name(role):
    assert parse_role(role.name) is role


def test_role_display_names_are_entras():
    assert [r.display_name for r in Role] == KNOWN_ROLES.split(", ")


def test_authentication_administrator_is_not_confused_with_its_longer_siblings():
    assert parse_role("authentication administrator") is Role.AUTHENTICATION_ADMINISTRATOR
    assert parse_role("authentication-policy-administrator") is Role.AUTHENTICATION_POLICY_ADMINISTRATOR
    privileged = parse_role("privileged authentication administrator")
    assert privileged is Role.PRIVILEGED_AUTHENTICATION_ADMINISTRATOR


@pytest.mark.parametrize(
    "text",
    [
        "Global Admin",
        "Administrator",
        "Global",
        "Helpdesk Administrator",
        "",
        "62e90394",
        "Global Administrators",
    ],
)
def test_unknown_role_is_not_found_and_names_the_known_roles(text):
    with pytest.raises(NotFound) as caught:
        parse_role(text)
    assert caught.value.kind == "role"
    assert caught.value.message == f"Unknown role '{text}'. Known roles: {KNOWN_ROLES}."


# --- permissions --------------------------------------------------------------------------------


def test_permission_catalogue_uses_graphs_names():
    assert [p.name for p in PERMISSIONS.values()] == [
        "User.Read.All",
        "User.ReadWrite.All",
        "User.RevokeSessions.All",
        "Group.Read.All",
        "Group.ReadWrite.All",
        "UserAuthenticationMethod.Read.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "UserAuthMethod-TAP.Read.All",
        "UserAuthMethod-TAP.ReadWrite.All",
        "UserAuthMethod-Passkey.Read.All",
        "UserAuthMethod-Passkey.ReadWrite.All",
        "Policy.Read.All",
        "Policy.Read.AuthenticationMethod",
        "Policy.ReadWrite.AuthenticationMethod",
        "AuditLog.Read.All",
    ]


@pytest.mark.parametrize(
    ("text", "canonical"),
    [
        ("User.Read.All", "User.Read.All"),
        ("user.read.all", "User.Read.All"),
        ("USERAUTHENTICATIONMETHOD.READWRITE.ALL", "UserAuthenticationMethod.ReadWrite.All"),
        ("userauthmethod-tap.readwrite.all", "UserAuthMethod-TAP.ReadWrite.All"),
        ("  policy.readwrite.authenticationmethod  ", "Policy.ReadWrite.AuthenticationMethod"),
    ],
)
def test_permission_is_canonicalised_whatever_its_case(text, canonical):
    assert parse_permission(text) == canonical


@pytest.mark.parametrize("name", [p.name for p in PERMISSIONS.values()])
def test_every_known_permission_round_trips(name):
    assert parse_permission(name) == name
    assert parse_permission(name.swapcase()) == name


@pytest.mark.parametrize(
    "text",
    [
        "User.Read",
        "Directory.ReadWrite.All",
        "User Read All",
        "UserAuthMethodTAP.ReadWrite.All",
        "",
        "User.Read.All.Extra",
    ],
)
def test_unknown_permission_is_refused_naming_the_known_ones(text):
    with pytest.raises(NotFound) as caught:
        parse_permission(text)
    known = ", ".join(p.name for p in PERMISSIONS.values())
    assert caught.value.kind == "permission"
    assert caught.value.message == f"Unknown permission '{text}'. Known permissions: {known}."
