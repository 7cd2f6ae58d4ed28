"""Microsoft's Graph SDK for Python and authentication strength policies against a running Passbridge: every
call a script makes (list, create, read, rename, updateAllowedCombinations, delete, the method modes) and
Graph's errors as the SDK's ODataError."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgraph.generated.models.authentication_method_modes import AuthenticationMethodModes as Modes
from msgraph.generated.models.authentication_strength_policy import AuthenticationStrengthPolicy
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.policies.authentication_strength_policies.item.update_allowed_combinations.update_allowed_combinations_post_request_body import (  # noqa: E501
    UpdateAllowedCombinationsPostRequestBody,
)

from tests.api.test_msgraph_sdk import graph_client
from tests.servers import ServedStore, served_store

MFA = "00000000-0000-0000-0000-000000000002"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    with served_store(tmp_path, "Policy.ReadWrite.AuthenticationMethod") as served:
        yield served


def test_microsoft_graph_sdk_manages_authentication_strengths(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())
    policies = client.policies.authentication_strength_policies

    async def scenario() -> None:
        listed = await policies.get()
        assert listed is not None and listed.value is not None
        built_in = listed.value[0]
        assert (built_in.id, built_in.display_name, built_in.allowed_combinations) == (
            MFA,
            "Multifactor authentication",
            [Modes.Fido2, Modes.TemporaryAccessPassOneTime, Modes.TemporaryAccessPassMultiUse],
        )
        created = await policies.post(
            AuthenticationStrengthPolicy(
                display_name="One-time pass or passkey",
                allowed_combinations=[Modes.TemporaryAccessPassOneTime, Modes.Fido2],
            )
        )
        assert created is not None and created.id
        item = policies.by_authentication_strength_policy_id(created.id)
        await item.patch(AuthenticationStrengthPolicy(display_name="Payroll sign-in", description="No reuse"))
        result = await item.update_allowed_combinations.post(
            UpdateAllowedCombinationsPostRequestBody(allowed_combinations=[Modes.TemporaryAccessPassOneTime])
        )
        assert result is not None
        assert result.previous_combinations == [Modes.TemporaryAccessPassOneTime, Modes.Fido2]
        assert result.current_combinations == [Modes.TemporaryAccessPassOneTime]
        read = await item.get()
        assert read is not None and (read.display_name, read.description) == ("Payroll sign-in", "No reuse")
        assert [r.value for r in read.requirements_satisfied or []] == ["mfa"]  # a flags enum in the SDK

        with pytest.raises(ODataError) as refused:
            await policies.by_authentication_strength_policy_id(MFA).patch(
                AuthenticationStrengthPolicy(display_name="Mine now")
            )
        assert refused.value.response_status_code == 400
        assert refused.value.error is not None and refused.value.error.code == "badRequest"
        with pytest.raises(ODataError) as unknown:
            await policies.post(
                AuthenticationStrengthPolicy(display_name="Texts", allowed_combinations=[Modes.Sms])
            )
        assert unknown.value.error is not None and "'sms' is not a supported" in str(
            unknown.value.error.message
        )

        await item.delete()
        with pytest.raises(ODataError) as gone:
            await item.get()
        assert gone.value.response_status_code == 404

    asyncio.run(scenario())
