"""`passbridge method list|delete`: every kind listed, deletion revokes sessions, one-line errors."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from passbridge.config import Settings
from passbridge.directory.queries import user_by_id_or_upn
from passbridge.services.context import Env
from passbridge.store.models import User
from tests.api.passwordless_helpers import open_session, session_state, store_snapshot
from tests.cli.test_cli import cli
from tests.factories import make_authenticator_app, make_passkey


@pytest.fixture
def store(cli_env: Settings, capsys: pytest.CaptureFixture[str]) -> Iterator[Env]:
    assert cli(capsys, "init", "--admin", "admin@contoso.example")[0] == 0
    assert cli(capsys, "user", "add", "ada@contoso.example")[0] == 0
    environment = Env.from_settings(cli_env)
    yield environment
    environment.db.dispose()


def _ada(env: Env) -> User:
    with env.db.transaction("read") as tx:
        found = user_by_id_or_upn(tx, "ada@contoso.example")
        assert found is not None
        return found


def test_method_list_shows_every_kind_with_type_id_name_and_creation(
    store: Env, capsys: pytest.CaptureFixture[str]
) -> None:
    ada = _ada(store)
    assert cli(capsys, "tap", "issue", "ada@contoso.example")[0] == 0
    passkey = make_passkey(store, ada, display_name="Pixel 9")
    app = make_authenticator_app(store, ada, display_name="Aegis")
    code, out, err = cli(capsys, "method", "list", "ada@contoso.example")
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split()[0] for line in lines] == ["temporaryAccessPass", "passkey", "authenticatorApp"]
    assert passkey.id in lines[1] and "Pixel 9 (Google Password Manager)" in lines[1]
    assert app.id in lines[2] and "Aegis" in lines[2]
    assert all("created 20" in line for line in lines)
    code, out, _ = cli(capsys, "method", "list", "ada@contoso.example", "--json")
    data = json.loads(out)
    assert [d["id"] for d in data[1:]] == [passkey.id, app.id]
    assert all("createdDateTime" in d for d in data)


def test_method_list_of_a_user_without_methods(store: Env, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(capsys, "method", "list", "ada@contoso.example") == (
        0,
        "ada@contoso.example has no authentication methods.\n",
        "",
    )


@pytest.mark.parametrize("kind", ["passkey", "app"])
def test_method_delete_removes_it_and_revokes_the_users_sessions(
    store: Env, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    ada = _ada(store)
    made = make_passkey(store, ada) if kind == "passkey" else make_authenticator_app(store, ada)
    session_id, token_id = open_session(store, ada)
    code, out, err = cli(capsys, "method", "delete", "ada@contoso.example", made.id.upper())
    assert (code, err) == (0, "")
    assert out.startswith("Deleted ") and made.id in out
    ended, revoked = session_state(store, session_id, token_id)
    assert ended is not None and revoked is not None
    code, out, _ = cli(capsys, "method", "list", "ada@contoso.example", "--json")
    assert json.loads(out) == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody@contoso.example", "00000000-0000-0000-0000-000000000001"), "nobody@contoso.example"),
        (("ada@contoso.example", "00000000-0000-0000-0000-000000000001"), "no authentication method"),
    ],
)
def test_method_delete_of_an_unknown_user_or_method_is_one_line_and_exit_1(
    store: Env, capsys: pytest.CaptureFixture[str], args: tuple[str, str], message: str
) -> None:
    make_passkey(store, _ada(store))
    before = store_snapshot(store)
    code, out, err = cli(capsys, "method", "delete", *args)
    assert (code, out) == (1, "")
    assert err.count("\n") == 1 and err.startswith("passbridge: error: ") and message in err
    assert store_snapshot(store) == before
