"""`passbridge recovery list|approve|deny`: the operator decides as the helpdesk would; the pass is mailed,
never printed; errors are one line."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from passbridge.clock import ManualClock
from passbridge.config import Settings
from passbridge.directory.tenant import Initialised
from passbridge.recovery import service
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.cli.test_cli import cli
from tests.recovery.conftest import ADA, ADA_PRIVATE, recovery_mail
from tests.recovery.test_recovery_service import PASS


@pytest.fixture(autouse=True)
def _now(clock: ManualClock) -> None:
    """The CLI runs on the system clock: the requests are made now, too."""
    clock.set(datetime.now(UTC))


def test_the_operator_lists_approves_and_denies_and_never_sees_the_pass(
    env: Env,
    tenant: Initialised,
    people: tuple[User, User],
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service.request(env, ADA, ip="192.0.2.1")
    code, out, err = cli(capsys, "recovery", "list", "--json")
    assert (code, err) == (0, "")
    [listed] = json.loads(out)
    assert (listed["userPrincipalName"], listed["state"], listed["approver"], listed["manager"]) == (
        ADA,
        "open",
        "manager",
        "Grace Hopper",
    )
    code, out, err = cli(capsys, "recovery", "approve", listed["id"], "--by", "Helpdesk (INC-42)")
    assert (code, err) == (0, "")
    assert "approved by Helpdesk (INC-42)" in out
    [carrier] = [m for m in recovery_mail(env) if m.kind == "recovery-pass"]
    assert carrier.to == ADA_PRIVATE and "approved by Helpdesk (INC-42)" in carrier.text
    found = PASS.search(carrier.text)
    assert found is not None and found.group(1) not in out and found.group(1).replace(" ", "") not in out
    # Once decided it is no longer waiting; a second decision changes nothing.
    assert cli(capsys, "recovery", "list")[1] == "No recovery request is waiting.\n"
    code, out, _ = cli(capsys, "recovery", "deny", listed["id"])
    assert code == 0 and "approved by Helpdesk (INC-42)" in out
    assert not [m for m in recovery_mail(env) if m.kind == "recovery-denied"]
    code, out, _ = cli(capsys, "recovery", "list", "--all", "--json")
    assert [r["state"] for r in json.loads(out)] == ["approved"]


def test_a_denial_from_the_cli_tells_the_person(
    env: Env,
    tenant: Initialised,
    people: tuple[User, User],
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service.request(env, ADA, ip=None)
    [listed] = json.loads(cli(capsys, "recovery", "list", "--json")[1])
    code, out, err = cli(capsys, "recovery", "deny", listed["id"])
    assert (code, err) == (0, "") and " denied by Passbridge CLI " in out
    assert {m.to for m in recovery_mail(env) if m.kind == "recovery-denied"} == {ADA, ADA_PRIVATE}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("approve", "no-such-id"), "No recovery request has the id 'no-such-id'."),
        (("deny", "00000000-0000-0000-0000-000000000000"), "No recovery request has the id"),
    ],
)
def test_an_unknown_request_is_one_line_and_exit_1(
    env: Env,
    tenant: Initialised,
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    message: str,
) -> None:
    code, out, err = cli(capsys, "recovery", *args)
    assert code == 1 and out == ""
    assert err.startswith("passbridge: error: " + message) and err.count("\n") == 1


def test_who_decided_must_be_one_short_line(
    env: Env,
    tenant: Initialised,
    people: tuple[User, User],
    cli_env: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    service.request(env, ADA, ip=None)
    [listed] = json.loads(cli(capsys, "recovery", "list", "--json")[1])
    for by in ("x" * 129, "two\nlines", ""):
        code, out, err = cli(capsys, "recovery", "approve", listed["id"], "--by", by)
        assert code == 1 and out == "" and err.startswith("passbridge: error: --by ") and err.count("\n") == 1
    assert json.loads(cli(capsys, "recovery", "list", "--json")[1])[0]["state"] == "open"
