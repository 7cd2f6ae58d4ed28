"""`passbridge policy passkey-profile list|add|update|delete`: the same checks as Graph and the portal;
bad input is one line on stderr and a non-zero exit."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from passbridge.config import Settings
from tests.cli.test_cli import cli
from tests.unit.test_passkey_profiles import _certificate

YUBIKEY = "cb69481e-8ff7-4039-93ec-0a2729a154a8"


@pytest.fixture
def initialised(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Settings:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "group", "add", "Admins")[0] == 0
    return cli_env


def _listed(capsys: pytest.CaptureFixture[str]) -> list[dict[str, Any]]:
    code, out, _ = cli(capsys, "policy", "passkey-profile", "list", "--json")
    assert code == 0
    value: list[dict[str, Any]] = json.loads(out)["value"]
    return value


def test_add_update_and_delete_a_profile(
    initialised: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out, _ = cli(
        capsys,
        *("policy", "passkey-profile", "add", "Admins only keys"),
        *("--passkey-types", "deviceBound", "--allow", YUBIKEY.upper(), "--group", "Admins"),
    )
    assert code == 0 and "Admins only keys" in out and f"allow {YUBIKEY}" in out
    [default, added] = _listed(capsys)
    assert default["name"] == "Default passkey profile"
    assert (added["passkeyTypes"], added["groups"]) == ("deviceBound", ["Admins"])

    roots = tmp_path / "roots.pem"
    roots.write_text(_certificate() + _certificate())
    code, _, _ = cli(
        capsys,
        *("policy", "passkey-profile", "update", "admins ONLY keys", "--name", "Admins"),
        *("--attestation", "--trust-root", str(roots), "--any-model"),
    )
    assert code == 0
    [_, changed] = _listed(capsys)
    assert (changed["name"], changed["attestationEnforcement"]) == ("Admins", "registrationOnly")
    assert len(changed["attestationTrustRoots"]) == 2 and not changed["keyRestrictions"]["isEnforced"]
    assert changed["groups"] == ["Admins"] and changed["passkeyTypes"] == "deviceBound"

    code, out, _ = cli(capsys, "policy", "passkey-profile", "delete", changed["id"])
    assert code == 0 and "Deleted the passkey profile 'Admins'." in out
    assert [p["name"] for p in _listed(capsys)] == ["Default passkey profile"]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("add", "X", "--passkey-types", "roaming"), "passkeyTypes: 'roaming' is not deviceBound or synced."),
        (("add", "X", "--allow", "yubikey"), "keyRestrictions.aaGuids: 'yubikey' is not a GUID."),
        (("add", "X", "--allow", YUBIKEY, "--block", YUBIKEY), "give one of --allow, --block or --any-model"),
        (("add", "X", "--group", "Nobody"), "does not exist"),
        (("add", "Default passkey profile"), "Two passkey profiles are named"),
        (("update", "Nope", "--name", "Y"), "No passkey profile 'Nope' exists."),
        (("delete", "Default passkey profile"), "The default passkey profile cannot be deleted"),
    ],
)
def test_bad_input_is_one_line_and_a_failure(
    initialised: Settings, capsys: pytest.CaptureFixture[str], args: tuple[str, ...], words: str
) -> None:
    code, out, err = cli(capsys, "policy", "passkey-profile", *args)
    assert code != 0 and out == ""
    assert err.count("\n") == 1 and err.startswith("passbridge: error:") and words in err
    assert [p["name"] for p in _listed(capsys)] == ["Default passkey profile"]


def test_a_file_that_is_not_a_certificate_is_refused(
    initialised: Settings, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "root.pem"
    bad.write_text("hello")
    code, _, err = cli(capsys, "policy", "passkey-profile", "add", "X", "--trust-root", str(bad))
    assert code == 1 and "each attestation root must be one PEM certificate" in err
    assert err.startswith("passbridge: error:") and err.count("\n") == 1
