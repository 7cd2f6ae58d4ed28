"""The rules for what HR systems set on a user (issue 14): Graph's lengths, ISO country codes, offsets on
the hire date, addresses in otherMails, and the manager chain without cycles."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from passbridge.directory.rules import (
    HR_TEXT_LIMITS,
    check_external_id,
    check_hire_date,
    check_hr_text,
    check_manager,
    check_other_mails,
    check_usage_location,
)
from passbridge.domain.errors import InvalidInput


@pytest.mark.parametrize(("name", "limit"), sorted(HR_TEXT_LIMITS.items()))
def test_hr_text_longer_than_graphs_limit_is_refused(name: str, limit: int) -> None:
    assert check_hr_text("x" * limit, what=name) == "x" * limit
    with pytest.raises(InvalidInput, match=f"{name} must be at most {limit} characters"):
        check_hr_text("x" * (limit + 1), what=name)


def test_graphs_documented_limits() -> None:
    # employeeId is also SCIM's employeeNumber: 64 here where Graph takes 16 (directory/rules.py says why).
    assert HR_TEXT_LIMITS["employeeId"] == 64
    assert HR_TEXT_LIMITS["department"] == 64
    assert HR_TEXT_LIMITS["companyName"] == 64
    assert HR_TEXT_LIMITS["jobTitle"] == 128
    assert HR_TEXT_LIMITS["mobilePhone"] == 64


def test_hr_text_is_trimmed_and_blank_clears_it() -> None:
    assert check_hr_text("  Finance ", what="department") == "Finance"
    assert check_hr_text("   ", what="department") is None
    assert check_hr_text(None, what="department") is None


def test_hr_text_refuses_control_characters_and_unstorable_text() -> None:
    with pytest.raises(InvalidInput, match="control characters"):
        check_hr_text("Fin\nance", what="department")
    with pytest.raises(InvalidInput, match="NUL"):
        check_hr_text("Fin\x00", what="department")


def test_usage_location_must_be_an_iso_3166_code() -> None:
    assert check_usage_location("gb") == "GB"
    assert check_usage_location(" US ") == "US"
    assert check_usage_location(None) is None
    for bad in ("XX", "USA", "U", "UK", "12"):
        with pytest.raises(InvalidInput, match="ISO 3166-1"):
            check_usage_location(bad)


def test_hire_date_needs_an_offset_and_is_kept_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert check_hire_date(datetime(2027, 1, 4, 9, tzinfo=paris)) == datetime(2027, 1, 4, 8, tzinfo=UTC)
    assert check_hire_date(None) is None
    with pytest.raises(InvalidInput, match="offset"):
        check_hire_date(datetime(2027, 1, 4))


def test_other_mails_are_addresses_without_repeats() -> None:
    assert check_other_mails(["Ada@Home.example", "ada@home.EXAMPLE", " b@x.example "]) == [
        "Ada@Home.example",
        "b@x.example",
    ]
    assert check_other_mails(None) == []
    assert check_other_mails([]) == []
    with pytest.raises(InvalidInput, match="not an email address"):
        check_other_mails(["not-an-address"])


def test_other_mails_hold_at_most_250_of_at_most_250_characters() -> None:
    assert len(check_other_mails([f"a{i}@x.example" for i in range(250)])) == 250
    with pytest.raises(InvalidInput, match="at most 250 addresses"):
        check_other_mails([f"a{i}@x.example" for i in range(251)])
    with pytest.raises(InvalidInput, match="at most 250 characters"):
        check_other_mails(["a" * 64 + "@" + ".".join(["b" * 60] * 4) + ".example"])


def test_external_id_is_kept_as_sent_up_to_256_characters() -> None:
    assert check_external_id(" E-1 ") == " E-1 "
    assert check_external_id("x" * 256) == "x" * 256
    assert check_external_id(None) is None
    with pytest.raises(InvalidInput, match="at most 256"):
        check_external_id("x" * 257)


def test_a_user_cannot_be_their_own_manager() -> None:
    with pytest.raises(InvalidInput, match="own manager"):
        check_manager("a", "a", lambda _user: None)


def test_a_manager_who_reports_to_the_user_would_make_a_cycle() -> None:
    chain = {"c": "b", "b": "a", "a": None}  # c reports to b, b to a
    with pytest.raises(InvalidInput, match="cycle"):
        check_manager("a", "c", chain.get)
    check_manager("c", "a", chain.get)  # a above c already: fine


def test_an_existing_cycle_elsewhere_ends_the_walk() -> None:
    chain = {"x": "y", "y": "x"}
    check_manager("a", "x", chain.get)
