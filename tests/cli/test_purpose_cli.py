"""`passbridge tap issue --purpose` and `policy set --enforce-purpose / --revoke-multi-use-after-passkey`
(docs/purpose-bound-passes.md): shown, stored, refused in one line."""

from __future__ import annotations

import json

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli
from tests.cli.test_tap_cli import ada, issue_json  # noqa: F401  (the fixture)


def test_a_pass_is_issued_for_a_purpose_and_shown_with_it(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    ada: str,  # noqa: F811
) -> None:
    data = issue_json(capsys, ada, "--one-time", "--purpose", "enrol")
    assert data["purpose"] == "enrol"
    code, out, err = cli(capsys, "tap", "show", ada)
    assert (code, err) == (0, "")
    assert "for enrol only (sets up sign-in methods)" in out


def test_an_unknown_purpose_is_one_line_and_issues_nothing(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    ada: str,  # noqa: F811
) -> None:
    code, out, err = cli(capsys, "tap", "issue", ada, "--purpose", "anything")
    assert code != 0 and out == ""
    assert len(err.strip().splitlines()) == 1 and "--purpose" in err
    assert cli(capsys, "tap", "show", ada)[1].startswith(f"{ada} has no Temporary Access Pass")


def test_the_policy_enforces_a_purpose_and_revokes_reusable_passes(
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    ada: str,  # noqa: F811
) -> None:
    code, out, err = cli(
        capsys, "policy", "set", "--enforce-purpose", "enrol", "--revoke-multi-use-after-passkey", "--json"
    )
    assert (code, err) == (0, ""), err
    shown = json.loads(out)
    assert (shown["enforcedPurpose"], shown["revokeMultiUseAfterPasskey"]) == ("enrol", True)
    assert issue_json(capsys, ada)["purpose"] == "enrol"
    code, _, err = cli(capsys, "tap", "issue", ada, "--purpose", "signIn")
    assert code != 0 and len(err.strip().splitlines()) == 1 and "binds every pass" in err
    code, out, _ = cli(capsys, "policy", "set", "--enforce-purpose", "none", "--json")
    assert code == 0 and json.loads(out)["enforcedPurpose"] is None
    assert issue_json(capsys, ada, "--purpose", "signIn")["purpose"] == "signIn"
