"""An HR onboarding script written with Microsoft's Graph SDK for Python, against a running Passbridge:
users with HR properties, queried by them, and three new hires plus their managers in one JSON batch."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from kiota_abstractions.base_request_configuration import RequestConfiguration
from msgraph.generated.models.reference_update import ReferenceUpdate
from msgraph.generated.models.user import User
from msgraph.generated.users.item.user_item_request_builder import UserItemRequestBuilder
from msgraph.generated.users.users_request_builder import UsersRequestBuilder

from tests.api.test_msgraph_sdk import graph_client
from tests.servers import ServedStore, served_store

# msgraph-core 1.5.2's batch module imports `deprecated` without declaring it as a dependency.
pytest.importorskip("deprecated", reason="msgraph-core's batching needs the Deprecated package")
from msgraph_core.requests.batch_request_content import BatchRequestContent
from msgraph_core.requests.batch_request_item import BatchRequestItem

HIRED = datetime(2027, 1, 4, tzinfo=UTC)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ServedStore]:
    with served_store(tmp_path, "User.ReadWrite.All") as served:
        yield served


def _hire(upn: str, name: str, department: str) -> User:
    return User(
        account_enabled=True,
        display_name=name,
        mail_nickname=upn.split("@")[0],
        user_principal_name=upn,
        employee_id=f"E-{len(name)}",
        employee_type="Employee",
        employee_hire_date=HIRED,
        department=department,
        job_title="Analyst",
        company_name="Contoso",
        office_location="Building 2",
        usage_location="GB",
        mobile_phone="+44 7700 900123",
        other_mails=[f"{upn.split('@')[0]}@home.example"],
    )


def test_an_hr_script_sets_and_queries_hr_properties(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())

    async def scenario() -> None:
        created = await client.users.post(_hire("ada@contoso.example", "Ada Lovelace", "Finance"))
        assert created is not None and created.id and created.job_title == "Analyst"
        select = ["id", "employeeId", "employeeHireDate", "department", "usageLocation", "otherMails"]
        query = UserItemRequestBuilder.UserItemRequestBuilderGetQueryParameters(select=select)
        got = await client.users.by_user_id(created.id).get(RequestConfiguration(query_parameters=query))
        assert got is not None
        assert (got.employee_id, got.employee_hire_date, got.department) == ("E-12", HIRED, "Finance")
        assert (got.usage_location, got.other_mails) == ("GB", ["ada@home.example"])

        await client.users.post(_hire("bob@contoso.example", "Bob", "Sales"))
        listing = UsersRequestBuilder.UsersRequestBuilderGetQueryParameters(
            filter="startswith(department,'fin') and employeeHireDate ge 2027-01-01T00:00:00Z",
            orderby=["displayName desc"],
            select=["userPrincipalName", "department"],
        )
        found = await client.users.get(RequestConfiguration(query_parameters=listing))
        assert found is not None and [u.user_principal_name for u in found.value or []] == [
            "ada@contoso.example"
        ]

        await client.users.by_user_id(created.id).patch(User(department="Treasury"))
        got = await client.users.by_user_id(created.id).get(RequestConfiguration(query_parameters=query))
        assert got is not None and got.department == "Treasury"

    asyncio.run(scenario())


def test_an_hr_script_onboards_three_hires_and_their_managers_in_one_batch(server: ServedStore) -> None:
    client = graph_client(server.base, server.app_token())

    async def scenario() -> None:
        boss = BatchRequestItem(
            client.users.to_post_request_information(_hire("boss@contoso.example", "Bo", "Sales"))
        )
        ada = BatchRequestItem(
            client.users.to_post_request_information(_hire("ada@contoso.example", "Ada", "Sales"))
        )
        cy = BatchRequestItem(
            client.users.to_post_request_information(_hire("cy@contoso.example", "Cy", "Sales"))
        )
        reference = ReferenceUpdate(odata_id=f"{server.base}/v1.0/users/boss@contoso.example")
        managers = [
            BatchRequestItem(
                client.users.by_user_id(upn).manager.ref.to_put_request_information(reference),
                depends_on=[boss, hire],
            )
            for upn, hire in (("ada@contoso.example", ada), ("cy@contoso.example", cy))
        ]
        content = BatchRequestContent()
        for item in (boss, ada, cy, *managers):
            content.add_request(item.id, item)
        result = await client.batch.post(batch_request_content=content)
        statuses = result.get_response_status_codes()  # type: ignore[union-attr]
        assert [statuses[item.id] for item in (boss, ada, cy, *managers)] == [201, 201, 201, 204, 204]

        reports = await client.users.by_user_id("boss@contoso.example").direct_reports.get()
        assert reports is not None
        assert sorted(r.id or "" for r in reports.value or []) == sorted(
            [
                (await client.users.by_user_id(u).get()).id or ""
                for u in ("ada@contoso.example", "cy@contoso.example")
            ]  # type: ignore[union-attr]
        )
        manager = await client.users.by_user_id("cy@contoso.example").manager.get()
        assert isinstance(manager, User) and manager.user_principal_name == "boss@contoso.example"

    asyncio.run(scenario())
