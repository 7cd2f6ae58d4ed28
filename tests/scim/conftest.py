"""A provisioning token and an in-process client for /scim/v2."""

from __future__ import annotations

import pytest

from passbridge.scim.tokens import ProvisioningTokens
from passbridge.services.context import Env, operator
from tests.api.conftest import api, app_auth  # noqa: F401 - the in-process client, shared

SCIM = "/scim/v2"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
OURS = "urn:ietf:params:scim:schemas:extension:passbridge:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"


def new_token(env: Env, name: str = "Workday") -> str:
    with env.db.transaction() as tx:
        return ProvisioningTokens(tx, env, operator()).add(name).value


@pytest.fixture
def scim_auth(env: Env) -> dict[str, str]:
    return {"Authorization": f"Bearer {new_token(env)}"}
