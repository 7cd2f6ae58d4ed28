"""Graph through a trusted reverse proxy: the audit entry names the address the proxy forwarded for
(the Graph principal's address comes from client_address.py, like every other use)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from passbridge.app import create_app
from passbridge.directory.tenant import Initialised
from passbridge.services.context import Env
from passbridge.store.models import User
from passbridge.tokens.service import reset_key_cache
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import user_auth
from tests.factories import make_user

AUDITS = "/v1.0/auditLogs/directoryAudits"


def _issue_pass_from(env: Env, peer: str, headers: dict[str, str], ada: User) -> None:
    with TestClient(create_app(env), base_url="http://localhost:8000", client=(peer, 1)) as client:
        done = client.post(
            f"/v1.0/users/{ada.user_principal_name}/authentication/temporaryAccessPassMethods",
            json={},
            headers=headers,
        )
        assert done.status_code == 201, done.text


def test_a_graph_callers_address_is_the_one_a_trusted_proxy_forwarded_for(
    env: Env, tenant: Initialised, ada: User, app_auth: TokenFactory
) -> None:
    env.settings.trusted_proxies = "10.0.0.0/8, fd00::/8"
    reset_key_cache(env)
    helpdesk = make_user(env, "megan@contoso.example", roles=("Authentication Administrator",))
    auth = user_auth(env, str(helpdesk.id), "UserAuthenticationMethod.ReadWrite.All")
    _issue_pass_from(env, "10.1.1.1", {**auth, "X-Forwarded-For": "198.51.100.23, 10.2.2.2"}, ada)
    _issue_pass_from(env, "fd00::5", {**auth, "Forwarded": 'for="[2001:db8::23]:443"'}, ada)
    # From a peer that is not a trusted proxy, the header is the client's own claim and is ignored.
    _issue_pass_from(env, "192.0.2.8", {**auth, "X-Forwarded-For": "198.51.100.99"}, ada)
    with TestClient(create_app(env), base_url="http://localhost:8000") as client:
        audits = client.get(AUDITS, headers=app_auth("AuditLog.Read.All")).json()["value"]
    by_helpdesk = [a["initiatedBy"]["user"] for a in audits if a["initiatedBy"]["user"]]
    addresses = {u["ipAddress"] for u in by_helpdesk if u["userPrincipalName"] == "megan@contoso.example"}
    assert addresses == {"192.0.2.8", "198.51.100.23", "2001:db8::23"}
