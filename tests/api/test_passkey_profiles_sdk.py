"""Passkey profiles in the Fido2 method configuration through Microsoft's Graph SDK for Python: the SDK
reads them into its own models and PATCHes the resource it read back (a round trip), and a bad PATCH
is a Graph error the SDK raises, never a 500."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from msgraph.generated.models.attestation_enforcement import AttestationEnforcement
from msgraph.generated.models.fido2_authentication_method_configuration import (
    Fido2AuthenticationMethodConfiguration,
)
from msgraph.generated.models.fido2_key_restrictions import Fido2KeyRestrictions
from msgraph.generated.models.fido2_restriction_enforcement_type import Fido2RestrictionEnforcementType
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.passkey_profile import PasskeyProfile
from msgraph.generated.models.passkey_types import PasskeyTypes

from tests.api.test_msgraph_sdk import graph_client
from tests.servers import ServedStore, served_store
from tests.web.browser import cli

DEFAULT = uuid.UUID("00000000-0000-0000-0000-000000000001")
YUBIKEY = uuid.UUID("cb69481e-8ff7-4039-93ec-0a2729a154a8")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    with served_store(tmp_path, "Policy.ReadWrite.AuthenticationMethod") as served:
        yield served


def test_sdk_reads_adds_and_round_trips_passkey_profiles(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())
    config = client.policies.authentication_methods_policy.authentication_method_configurations
    fido2 = config.by_authentication_method_configuration_id("Fido2")

    async def scenario() -> None:
        read = await fido2.get()
        assert isinstance(read, Fido2AuthenticationMethodConfiguration)
        assert read.default_passkey_profile == str(DEFAULT)
        [default] = read.passkey_profiles or []
        assert (default.name, default.passkey_types) == (
            "Default passkey profile",
            [PasskeyTypes.DeviceBound, PasskeyTypes.Synced],
        )
        [everyone] = read.include_targets or []
        assert everyone.allowed_passkey_profiles == [DEFAULT]

        # Add a profile the way an SDK user writes it, and give it to all users: the SDK's model.
        strict_id = uuid.uuid4()
        strict = PasskeyProfile(
            id=str(strict_id),
            name="Security keys only",
            passkey_types=PasskeyTypes.DeviceBound,  # type: ignore[arg-type]  # the SDK writes one flag
            attestation_enforcement=AttestationEnforcement.Disabled,
            key_restrictions=Fido2KeyRestrictions(
                is_enforced=True,
                enforcement_type=Fido2RestrictionEnforcementType.Allow,
                aa_guids=[str(YUBIKEY)],
            ),
        )
        read.passkey_profiles = [default, strict]
        everyone.allowed_passkey_profiles = [DEFAULT, strict_id]
        await fido2.patch(read)

        again = await fido2.get()
        assert again is not None
        names = [(p.name, p.passkey_types) for p in again.passkey_profiles or []]
        assert names == [
            ("Default passkey profile", [PasskeyTypes.DeviceBound, PasskeyTypes.Synced]),
            ("Security keys only", [PasskeyTypes.DeviceBound]),
        ]
        added = (again.passkey_profiles or [])[1]
        assert added.key_restrictions is not None and added.key_restrictions.aa_guids == [str(YUBIKEY)]
        assert (again.include_targets or [])[0].allowed_passkey_profiles == [strict_id]

        # The round trip: what the SDK read goes back unchanged and changes nothing.
        await fido2.patch(again)
        third = await fido2.get()
        assert third is not None
        assert [(p.id, p.name, p.passkey_types) for p in third.passkey_profiles or []] == [
            (p.id, p.name, p.passkey_types) for p in again.passkey_profiles or []
        ]
        assert (third.include_targets or [])[0].allowed_passkey_profiles == [strict_id]

    asyncio.run(scenario())
    listed = cli(server, "policy", "passkey-profile", "list")
    assert "Security keys only" in listed and "allow cb69481e-8ff7-4039-93ec-0a2729a154a8" in listed


def test_sdk_gets_graph_errors_for_bad_passkey_profiles(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())
    fido2 = client.policies.authentication_methods_policy.authentication_method_configurations
    target = fido2.by_authentication_method_configuration_id("Fido2")

    async def refused(body: Fido2AuthenticationMethodConfiguration) -> str:
        with pytest.raises(ODataError) as caught:
            await target.patch(body)
        assert caught.value.response_status_code == 400
        assert caught.value.error is not None and caught.value.error.code == "badRequest"
        return caught.value.error.message or ""

    async def scenario() -> None:
        without_default = Fido2AuthenticationMethodConfiguration(
            passkey_profiles=[PasskeyProfile(id=str(uuid.uuid4()), name="Only me")]
        )
        assert "default passkey profile" in await refused(without_default)
        unnamed = Fido2AuthenticationMethodConfiguration(
            passkey_profiles=[PasskeyProfile(id=str(DEFAULT)), PasskeyProfile(id=str(uuid.uuid4()))]
        )
        assert "needs a name" in await refused(unnamed)
        same_name = Fido2AuthenticationMethodConfiguration(
            passkey_profiles=[
                PasskeyProfile(id=str(DEFAULT)),
                PasskeyProfile(id=str(uuid.uuid4()), name="default PASSKEY profile"),
            ]
        )
        assert "named" in await refused(same_name)

    asyncio.run(scenario())
