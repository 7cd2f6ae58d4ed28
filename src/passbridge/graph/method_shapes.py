"""Passkeys and authenticator apps with Graph's JSON names (fido2AuthenticationMethod,
softwareOathAuthenticationMethod). Shared by the API and the CLI's --json output."""

from __future__ import annotations

from typing import Any

from passbridge.clock import iso_z
from passbridge.methods.aaguids import model_of
from passbridge.methods.reads import AppSummary, PasskeySummary

FIDO2_TYPE = "#microsoft.graph.fido2AuthenticationMethod"
OATH_TYPE = "#microsoft.graph.softwareOathAuthenticationMethod"


def fido2_json(passkey: PasskeySummary, beta: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "@odata.type": FIDO2_TYPE,
        "id": passkey.id,
        "displayName": passkey.display_name,
        "createdDateTime": iso_z(passkey.created_at),
        "aaGuid": passkey.aaguid,
        "model": model_of(passkey.aaguid),
        # Passbridge requests attestation "none": there are no certificates and nothing is attested.
        "attestationCertificates": [],
        "attestationLevel": "notAttested",
    }
    if beta:
        body["lastUsedDateTime"] = iso_z(passkey.last_used_at)
    return body


def oath_json(app: AppSummary, beta: bool = False) -> dict[str, Any]:
    # Graph: secretKey "always returns null". v1.0 documents no other property; beta has the
    # authenticationMethod base's createdDateTime and lastUsedDateTime.
    body: dict[str, Any] = {"@odata.type": OATH_TYPE, "id": app.id, "secretKey": None}
    if beta:
        body["createdDateTime"] = iso_z(app.created_at)
        body["lastUsedDateTime"] = iso_z(app.last_used_at)
    return body
