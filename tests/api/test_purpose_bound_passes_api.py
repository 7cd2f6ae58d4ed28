"""Purpose-bound passes over Graph (docs/purpose-bound-passes.md): `purpose` on the pass resource and
`enforcedPurpose` / `revokeMultiUseAfterPasskey` on the TAP configuration, as Passbridge extensions that
Microsoft's SDK round-trips through additionalData."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)
from msgraph.generated.models.temporary_access_pass_authentication_method_configuration import (
    TemporaryAccessPassAuthenticationMethodConfiguration,
)
from msgraph.generated.models.user import User as GraphUser

from passbridge.store.models import User
from tests.api.conftest import TokenFactory
from tests.api.tap_helpers import passes_url
from tests.api.test_graph_errors import assert_graph_error
from tests.api.test_msgraph_sdk import graph_client
from tests.servers import ServedStore, served_store

CONFIG = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
POLICY_WRITE = "Policy.ReadWrite.AuthenticationMethod"


def test_a_pass_is_issued_for_a_purpose_and_reads_show_it(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    created = api.post(passes_url(ada.id), json={"purpose": "enrol", "isUsableOnce": True}, headers=writer)
    assert created.status_code == 201, created.text
    assert created.json()["purpose"] == "enrol"
    listed = api.get(passes_url(ada.id), headers=writer).json()["value"]
    assert [p["purpose"] for p in listed] == ["enrol"]


def test_a_pass_without_a_purpose_is_for_signing_in_as_in_entra(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    created = api.post(passes_url(ada.id), json={}, headers=writer)
    assert created.json()["purpose"] == "signIn"


def test_an_unknown_purpose_is_a_graph_bad_request(
    api: TestClient, writer: dict[str, str], ada: User
) -> None:
    response = api.post(passes_url(ada.id), json={"purpose": "everything"}, headers=writer)
    error = assert_graph_error(response, 400, "badRequest")
    assert "signIn, enrol, recover" in error["message"]
    response = api.post(passes_url(ada.id), json={"purpose": 3}, headers=writer)
    assert_graph_error(response, 400, "badRequest")


def test_the_policy_enforces_a_purpose_on_new_passes_and_blocks_broader_ones(
    api: TestClient, writer: dict[str, str], app_auth: TokenFactory, ada: User
) -> None:
    earlier = api.post(passes_url(ada.id), json={}, headers=writer).json()
    admin = app_auth(POLICY_WRITE)
    assert api.patch(CONFIG, headers=admin, json={"enforcedPurpose": "Enrol"}).status_code == 204
    assert api.get(CONFIG, headers=admin).json()["enforcedPurpose"] == "enrol"
    # The pass issued before for signing in no longer works.
    before = api.get(f"{passes_url(ada.id)}/{earlier['id']}", headers=writer).json()
    assert (before["isUsable"], before["methodUsabilityReason"]) == (False, "DisabledByPolicy")
    # New passes: enrol by default, recover allowed (narrower), signIn refused.
    assert api.post(passes_url(ada.id), json={}, headers=writer).json()["purpose"] == "enrol"
    assert api.post(passes_url(ada.id), json={"purpose": "recover"}, headers=writer).status_code == 201
    refused = api.post(passes_url(ada.id), json={"purpose": "signIn"}, headers=writer)
    assert "binds every pass" in assert_graph_error(refused, 400, "badRequest")["message"]
    # null lifts the binding.
    assert api.patch(CONFIG, headers=admin, json={"enforcedPurpose": None}).status_code == 204
    assert api.get(CONFIG, headers=admin).json()["enforcedPurpose"] is None
    assert api.post(passes_url(ada.id), json={"purpose": "signIn"}, headers=writer).status_code == 201


def test_the_policy_refuses_an_unknown_enforced_purpose(api: TestClient, app_auth: TokenFactory) -> None:
    admin = app_auth(POLICY_WRITE)
    response = api.patch(CONFIG, headers=admin, json={"enforcedPurpose": "sometimes"})
    assert_graph_error(response, 400, "badRequest")
    response = api.patch(CONFIG, headers=admin, json={"revokeMultiUseAfterPasskey": None})
    assert_graph_error(response, 400, "badRequest")
    assert api.get(CONFIG, headers=admin).json()["enforcedPurpose"] is None


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    permissions = (
        "User.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "Policy.ReadWrite.AuthenticationMethod",
    )
    with served_store(tmp_path, *permissions) as served:
        yield served


def test_microsoft_graph_sdk_round_trips_the_purpose_and_the_policy_extensions(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())

    async def scenario() -> None:
        user = await client.users.post(
            GraphUser(
                account_enabled=True,
                display_name="Grace Hopper",
                mail_nickname="grace",
                user_principal_name="grace@contoso.example",
            )
        )
        assert user is not None and user.id is not None
        passes = client.users.by_user_id(user.id).authentication.temporary_access_pass_methods
        issued = await passes.post(
            TemporaryAccessPassAuthenticationMethod(
                is_usable_once=True, additional_data={"purpose": "recover"}
            )
        )
        assert issued is not None and issued.temporary_access_pass is not None
        assert issued.additional_data["purpose"] == "recover"
        assert issued.id is not None
        read = await passes.by_temporary_access_pass_authentication_method_id(issued.id).get()
        assert read is not None and read.additional_data["purpose"] == "recover"
        assert read.is_usable_once is True

        configs = client.policies.authentication_methods_policy.authentication_method_configurations
        tap_config = configs.by_authentication_method_configuration_id("TemporaryAccessPass")
        await tap_config.patch(
            TemporaryAccessPassAuthenticationMethodConfiguration(
                additional_data={"enforcedPurpose": "enrol", "revokeMultiUseAfterPasskey": True}
            )
        )
        policy = await tap_config.get()
        assert isinstance(policy, TemporaryAccessPassAuthenticationMethodConfiguration)
        assert policy.additional_data["enforcedPurpose"] == "enrol"
        assert policy.additional_data["revokeMultiUseAfterPasskey"] is True
        with pytest.raises(ODataError) as raised:
            await passes.post(TemporaryAccessPassAuthenticationMethod(additional_data={"purpose": "signIn"}))
        assert raised.value.response_status_code == 400

    asyncio.run(scenario())
