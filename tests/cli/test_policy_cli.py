"""`passbridge policy show|set|reset` and `passbridge audit list`."""

from __future__ import annotations

import json
from typing import Any

import pytest

from passbridge.config import Settings
from passbridge.passes import policy_queries as policy_store
from passbridge.passes.policy_rules import TapPolicy
from passbridge.store.db import Database
from tests.cli.test_cli import cli, counts


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    code, _, _ = cli(capsys, "init", "--admin", "admin@contoso.example", "--tenant-name", "Contoso")
    assert code == 0
    return cli_env


def stored_policy(settings: Settings) -> tuple[TapPolicy, int]:
    db = Database(settings.effective_database_url)
    try:
        with db.transaction("read") as tx:
            return policy_store.load(tx)[0], policy_store.stamp(tx).version
    finally:
        db.dispose()


def show_json(capsys: pytest.CaptureFixture[str]) -> dict[str, Any]:
    code, out, _ = cli(capsys, "policy", "show", "--json")
    assert code == 0
    return dict(json.loads(out))


def test_show_json_uses_graph_names(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    data = show_json(capsys)
    assert data.pop("lastModifiedDateTime").endswith("Z")
    assert data == {
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass",
        "state": "enabled",
        "defaultLifetimeInMinutes": 60,
        "defaultLength": 8,
        "minimumLifetimeInMinutes": 60,
        "maximumLifetimeInMinutes": 480,
        "isUsableOnce": False,
        "includeSymbols": False,
        "requireReason": False,
        "enforcedPurpose": None,
        "revokeMultiUseAfterPasskey": False,
        "includeTargets": [{"targetType": "group", "id": "all_users", "isRegistrationRequired": False}],
        "excludeTargets": [],
        "policyVersion": "1",
    }


def test_show_prints_one_setting_a_line(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = cli(capsys, "policy", "show")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[:12] == [
        "state:                       enabled",
        "defaultLifetimeInMinutes:    60",
        "minimumLifetimeInMinutes:    60",
        "maximumLifetimeInMinutes:    480",
        "defaultLength:               8",
        "isUsableOnce:                False",
        "includeSymbols:              False",
        "requireReason:               False",
        "enforcedPurpose:             -",
        "revokeMultiUseAfterPasskey:  False",
        "includeTargets:              all users",
        "excludeTargets:              -",
    ]
    assert lines[12] == "policyVersion:               1"


def test_set_changes_given_values_and_keeps_the_rest(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, _ = cli(capsys, "group", "add", "Contractors")
    assert code == 0
    code, out, err = cli(
        capsys,
        "policy", "set",
        "--default-length", "12",
        "--max-lifetime", "1440",
        "--one-time",
        "--exclude-group", "Contractors",
    )  # fmt: skip
    assert code == 0 and err == "", err
    assert "excludeTargets:              Contractors" in out.splitlines()
    policy, version = stored_policy(initialised)
    assert (policy.default_length, policy.maximum_lifetime, policy.is_usable_once) == (12, 1440, True)
    assert (policy.state.value, policy.default_lifetime, version) == ("enabled", 60, 2)
    [excluded] = policy.exclude_targets
    data = show_json(capsys)
    assert data["excludeTargets"] == [{"targetType": "group", "id": excluded.id}]
    code, _, _ = cli(capsys, "policy", "set", "--no-exclusions", "--no-one-time", "--state", "disabled")
    assert code == 0
    policy, version = stored_policy(initialised)
    assert (policy.exclude_targets, policy.is_usable_once, policy.state.value, version) == (
        (),
        False,
        "disabled",
        3,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--default-length", "60"), "passbridge: error: defaultLength must be between 8 and 48; got 60.\n"),
        (
            ("--min-lifetime", "500"),
            "passbridge: error: minimumLifetimeInMinutes (500) must not exceed "
            "maximumLifetimeInMinutes (480).\n",
        ),
        (
            ("--include-group", "Nobody"),
            "passbridge: error: Resource 'Nobody' does not exist or one of its queried "
            "reference-property objects are not present.\n",
        ),
        (
            ("--exclude-group", "all_users"),
            "passbridge: error: excludeTargets: 'all_users' can only be included, not excluded.\n",
        ),
    ],
)
def test_invalid_set_fails_with_one_line_and_changes_nothing(
    initialised: Settings, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    before = (stored_policy(initialised), counts(initialised))
    code, out, err = cli(capsys, "policy", "set", *args)
    assert (code, out, err) == (1, "", message)
    assert (stored_policy(initialised), counts(initialised)) == before


def test_set_without_options_is_a_usage_error(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    before = stored_policy(initialised)
    code, out, err = cli(capsys, "policy", "set")
    assert code == 2 and out == ""
    assert "nothing to change" in err
    assert stored_policy(initialised) == before


def test_reset_restores_defaults(initialised: Settings, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "policy", "set", "--state", "disabled", "--default-length", "30")[0] == 0
    code, out, _ = cli(capsys, "policy", "reset")
    assert code == 0
    assert out == "The Temporary Access Pass policy is back to its defaults.\n"
    assert stored_policy(initialised) == (TapPolicy(), 3)


def test_audit_list_shows_newest_first_and_honours_top(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli(capsys, "policy", "set", "--default-length", "10")[0] == 0
    code, out, _ = cli(capsys, "audit", "list", "--top", "2", "--json")
    assert code == 0
    entries = json.loads(out)["value"]
    assert len(entries) == 2
    newest = entries[0]
    assert newest["activityDisplayName"] == "Authentication Methods Policy Update"
    assert newest["initiatedBy"]["app"]["displayName"] == "Passbridge CLI"
    assert newest["targetResources"][0]["modifiedProperties"] == [
        {"displayName": "defaultLength", "oldValue": "8", "newValue": "10"}
    ]
    code, out, _ = cli(capsys, "audit", "list")
    assert code == 0
    first = out.splitlines()[0]
    assert "Authentication Methods Policy Update" in first and "Passbridge CLI" in first
    assert first.endswith("Temporary Access Pass")


def test_audit_list_rejects_a_top_out_of_range(
    initialised: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = cli(capsys, "audit", "list", "--top", "0")
    assert code == 2 and out == ""
    assert "--top" in err
