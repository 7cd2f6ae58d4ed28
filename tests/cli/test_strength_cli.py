"""`passbridge strength list|add|update|delete` and `passbridge app add|update --require-strength`."""

from __future__ import annotations

import json

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli
from tests.cli.test_policy_cli import initialised  # noqa: F401  (the fixture)

MFA = "00000000-0000-0000-0000-000000000002"


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> dict:  # type: ignore[type-arg]
    code, out, err = cli(capsys, *args, "--json")
    assert code == 0, err
    return dict(json.loads(out))


def test_strengths_are_added_listed_updated_and_deleted(
    initialised: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    added = _json(
        capsys, "strength", "add", "Once only", "--allow", "temporaryAccessPassOneTime", "--allow", "fido2"
    )
    assert (added["policyType"], added["allowedCombinations"]) == (
        "custom",
        ["temporaryAccessPassOneTime", "fido2"],
    )
    listed = _json(capsys, "strength", "list")["value"]
    assert [s["displayName"] for s in listed] == [
        "Multifactor authentication",
        "Passwordless MFA",
        "Phishing resistant MFA",
        "Once only",
    ]
    code, out, _ = cli(capsys, "strength", "list")
    assert code == 0 and f"{added['id']}  custom    Once only: temporaryAccessPassOneTime, fido2" in out
    # By name, any case.
    changed = _json(
        capsys, "strength", "update", "ONCE ONLY", "--name", "Pass once", "--allow", "softwareOath"
    )
    assert (changed["displayName"], changed["allowedCombinations"], changed["requirementsSatisfied"]) == (
        "Pass once",
        ["softwareOath"],
        "none",
    )
    code, out, _ = cli(capsys, "strength", "delete", added["id"])
    assert code == 0 and "Deleted Pass once" in out
    assert len(_json(capsys, "strength", "list")["value"]) == 3


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["strength", "add", "X", "--allow", "sms"], "'sms' is not a supported authentication method mode"),
        (["strength", "add", "X"], "Missing option '--allow'"),
        (["strength", "add", "  ", "--allow", "fido2"], "displayName is required"),
        (["strength", "add", "Passwordless MFA", "--allow", "fido2"], "already exists"),
        (["strength", "update", "mfa", "--name", "Mine"], "Built-in authentication strength policies"),
        (["strength", "delete", MFA], "Built-in authentication strength policies"),
        (["strength", "delete", "nothing-like-it"], "was not found"),
        (["strength", "update", "Phishing resistant MFA"], "give --name, --description or --allow"),
        (["app", "add", "HR", "--require-strength", "strongest"], "No authentication strength 'strongest'"),
        (["app", "update", "6a7c0000-0000-4000-8000-000000000000", "--no-required-strength"], "appId"),
        (["app", "update", "6a7c0000-0000-4000-8000-000000000000"], "--require-strength or"),
    ],
)
def test_bad_strength_commands_fail_in_one_line(
    initialised: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    words: str,
) -> None:
    code, _, err = cli(capsys, *args)
    assert code != 0 and words in err, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_an_app_requires_a_strength_by_id_by_name_or_by_its_older_name(
    initialised: Settings,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    once = _json(capsys, "strength", "add", "Once only", "--allow", "temporaryAccessPassOneTime")
    app = _json(
        capsys,
        "app",
        "add",
        "Payroll",
        "--redirect-uri",
        "https://p.contoso.example/cb",
        "--require-strength",
        "mfa",
    )
    assert app["requiredStrength"] == {"id": MFA, "displayName": "Multifactor authentication"}
    by_name = _json(capsys, "app", "update", app["clientId"], "--require-strength", "once only")
    assert by_name["requiredStrength"] == {"id": once["id"], "displayName": "Once only"}
    # A strength an application requires cannot be deleted from under it.
    code, _, err = cli(capsys, "strength", "delete", once["id"])
    assert code == 1 and app["clientId"] in err
    cleared = _json(capsys, "app", "update", app["clientId"], "--no-required-strength")
    assert cleared["requiredStrength"] is None
    code, out, _ = cli(capsys, "app", "update", app["clientId"], "--require-strength", once["id"])
    assert code == 0 and "sign-ins must satisfy: Once only" in out
