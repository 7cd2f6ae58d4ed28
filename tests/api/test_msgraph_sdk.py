"""Microsoft's Graph SDK for Python against a running Passbridge: only the base URL and token change."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kiota_abstractions.authentication import (
    AccessTokenProvider,
    AllowedHostsValidator,
    BaseBearerTokenAuthenticationProvider,
)
from msgraph import GraphRequestAdapter, GraphServiceClient
from msgraph.generated.models.fido2_authentication_method import Fido2AuthenticationMethod
from msgraph.generated.models.fido2_authentication_method_configuration import (
    Fido2AuthenticationMethodConfiguration,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.password_profile import PasswordProfile
from msgraph.generated.models.temporary_access_pass_authentication_method import (
    TemporaryAccessPassAuthenticationMethod,
)
from msgraph.generated.models.temporary_access_pass_authentication_method_configuration import (
    TemporaryAccessPassAuthenticationMethodConfiguration,
)
from msgraph.generated.models.user import User

from passbridge.config import load_settings
from passbridge.services.context import Env
from tests.factories import make_passkey, make_user
from tests.servers import TEST_PEPPER, ServedStore, served_store


class StaticToken(AccessTokenProvider):
    def __init__(self, token: str) -> None:
        self.token = token

    async def get_authorization_token(self, uri: str, additional_authentication_context: Any = None) -> str:
        return self.token

    def get_allowed_hosts_validator(self) -> AllowedHostsValidator:
        return AllowedHostsValidator(["localhost"])


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    permissions = (
        "User.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "Policy.ReadWrite.AuthenticationMethod",
    )
    with served_store(tmp_path, *permissions) as served:
        yield served


def graph_client(base: str, token: str) -> GraphServiceClient:
    adapter = GraphRequestAdapter(BaseBearerTokenAuthenticationProvider(StaticToken(token)))
    adapter.base_url = f"{base}/v1.0"
    return GraphServiceClient(request_adapter=adapter)


def test_microsoft_graph_sdk_issues_lists_and_deletes_a_pass(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())

    async def scenario() -> None:
        created = await client.users.post(
            User(
                account_enabled=True,
                display_name="Ada Lovelace",
                mail_nickname="ada",
                user_principal_name="ada@contoso.example",
                password_profile=PasswordProfile(
                    password="Ignored-by-Passbridge-1", force_change_password_next_sign_in=False
                ),
            )
        )
        assert created is not None and created.id
        user = client.users.by_user_id(created.id)

        issued = await user.authentication.temporary_access_pass_methods.post(
            TemporaryAccessPassAuthenticationMethod()
        )
        assert issued is not None and issued.temporary_access_pass is not None
        assert len(issued.temporary_access_pass) == 8
        assert issued.is_usable is True and issued.method_usability_reason == "EnabledByPolicy"
        assert issued.lifetime_in_minutes == 60

        methods = await user.authentication.methods.get()
        assert methods is not None and methods.value is not None
        assert [type(m) for m in methods.value] == [TemporaryAccessPassAuthenticationMethod]
        listed = methods.value[0]
        assert isinstance(listed, TemporaryAccessPassAuthenticationMethod)
        assert listed.id == issued.id and listed.temporary_access_pass is None

        configs = client.policies.authentication_methods_policy.authentication_method_configurations
        tap_config = configs.by_authentication_method_configuration_id("TemporaryAccessPass")
        policy = await tap_config.get()
        assert isinstance(policy, TemporaryAccessPassAuthenticationMethodConfiguration)
        assert (
            policy.default_length,
            policy.minimum_lifetime_in_minutes,
            policy.maximum_lifetime_in_minutes,
        ) == (8, 60, 480)
        await tap_config.patch(TemporaryAccessPassAuthenticationMethodConfiguration(default_length=12))
        policy = await tap_config.get()
        assert isinstance(policy, TemporaryAccessPassAuthenticationMethodConfiguration)
        assert policy.default_length == 12

        assert issued.id is not None
        passes = user.authentication.temporary_access_pass_methods
        await passes.by_temporary_access_pass_authentication_method_id(issued.id).delete()
        remaining = await user.authentication.temporary_access_pass_methods.get()
        assert remaining is not None and remaining.value == []

        with pytest.raises(ODataError) as raised:
            await client.users.by_user_id("ghost@contoso.example").get()
        assert raised.value.response_status_code == 404
        assert raised.value.error is not None and raised.value.error.code == "Request_ResourceNotFound"

    asyncio.run(scenario())


def test_microsoft_graph_sdk_lists_and_deletes_passkeys_and_reads_the_fido2_policy(
    server: ServedStore,
) -> None:
    settings = load_settings(
        data_dir=Path(server.environ["PASSBRIDGE_DATA_DIR"]), pepper=TEST_PEPPER, base_url=server.base
    )
    env = Env.from_settings(settings)
    try:
        ada = make_user(env, "ada@contoso.example")
        passkey = make_passkey(env, ada, display_name="Pixel 9")
    finally:
        env.db.dispose()
    client = graph_client(server.base, server.app_token())

    async def scenario() -> None:
        user = client.users.by_user_id("ada@contoso.example")
        listed = await user.authentication.fido2_methods.get()
        assert listed is not None and listed.value is not None
        [found] = listed.value
        assert isinstance(found, Fido2AuthenticationMethod)
        assert (found.id, found.display_name, found.model) == (
            passkey.id,
            "Pixel 9",
            "Google Password Manager",
        )
        methods = await user.authentication.methods.get()
        assert methods is not None and [type(m) for m in methods.value or []] == [Fido2AuthenticationMethod]

        configs = client.policies.authentication_methods_policy.authentication_method_configurations
        fido2 = await configs.by_authentication_method_configuration_id("Fido2").get()
        assert isinstance(fido2, Fido2AuthenticationMethodConfiguration)
        assert fido2.is_self_service_registration_allowed is True and fido2.is_attestation_enforced is False

        await user.authentication.fido2_methods.by_fido2_authentication_method_id(passkey.id).delete()
        remaining = await user.authentication.fido2_methods.get()
        assert remaining is not None and remaining.value == []

    asyncio.run(scenario())
