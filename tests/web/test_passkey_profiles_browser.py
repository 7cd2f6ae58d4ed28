"""Passkey profiles enforced at registration, in headless Chromium with the DevTools virtual authenticator
against a real `passbridge serve` (docs/passkey-profiles.md).

The virtual authenticator plays each kind of passkey: `defaultBackupEligibility` makes it create synced
(backup-eligible) passkeys, as a password manager does; without it they are device-bound, as a security
key's are. Its AAGUID and attestation certificate are read from what it sends, as an administrator
learns a vendor's from the vendor.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
from playwright.sync_api import Browser, Page, Request, Route, expect

from passbridge.security.webauthn import certificate_chain_pem
from tests.servers import ServedStore, served_store
from tests.web.browser import SHOTS, Watched, cli, enter_username, issue_pass
from tests.web.test_passwordless_browser import graph, new_person_with_pass, sign_in_with_pass

ADD = "/security-info/passkeys"
ZERO = "00000000-0000-0000-0000-000000000000"
FIDO2 = "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/Fido2"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServedStore]:
    with served_store(
        tmp_path_factory.mktemp("passkey-profiles"),
        "User.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
        "Policy.ReadWrite.AuthenticationMethod",
    ) as store:
        yield store


class Person:
    """One person's browser: a page, its virtual authenticator, and the registration answers it sent."""

    def __init__(self, browser: Browser, served: ServedStore, story: str) -> None:
        self.context = browser.new_context(base_url=served.base, viewport={"width": 1000, "height": 760})
        self.page: Page = self.context.new_page()
        self.page.set_default_timeout(15_000)
        self.w = Watched(self.page, story)
        self.page.on("console", self.w.on_console)
        self.page.on("response", self.w.on_response)
        # A refusal answers 403 with the security info page, by contract.
        self.w.allowed.add((ADD, 403))
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("WebAuthn.enable")
        self.authenticator: str | None = None
        self.answers: list[str] = []
        self.options: list[dict[str, Any]] = []
        self.page.on("request", self._sent)
        self.page.route(f"**{ADD}/options", self._options)

    def _sent(self, request: Request) -> None:
        if request.method == "POST" and request.url.endswith(ADD) and request.post_data:
            self.answers.append(parse_qs(request.post_data)["credential"][0])

    def _options(self, route: Route) -> None:
        # Read in passing: a response's body is gone once the page navigates on.
        response = route.fetch()
        if response.ok:
            self.options.append(response.json()["publicKey"])
        route.fulfill(response=response)

    def use_authenticator(self, *, synced: bool) -> None:
        """A fresh virtual authenticator: synced (backup-eligible) passkeys or device-bound ones."""
        if self.authenticator is not None:
            self.cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": self.authenticator})
        options: dict[str, Any] = {
            "protocol": "ctap2",
            "transport": "usb",
            "hasResidentKey": True,
            "hasUserVerification": True,
            "isUserVerified": True,
            "automaticPresenceSimulation": True,
        }
        if synced:
            options.update(defaultBackupEligibility=True, defaultBackupState=True)
        added = self.cdp.send("WebAuthn.addVirtualAuthenticator", {"options": options})
        self.authenticator = added["authenticatorId"]

    def sign_in(self, served: ServedStore, upn: str, name: str) -> None:
        sign_in_with_pass(self.w, upn, new_person_with_pass(served, upn, name))
        self.page.goto("/security-info")
        expect(self.page.get_by_role("heading", name="Security info")).to_be_visible()

    def add_passkey(self, name: str) -> None:
        self.page.get_by_label("Name", exact=True).fill(name)
        self.page.get_by_role("button", name="Add a passkey").click()

    def added(self, name: str) -> None:
        expect(self.page.get_by_text("Your passkey was added.")).to_be_visible()
        expect(self.page.get_by_role("heading", name=re.compile(f"Passkey {name}"))).to_be_visible()

    def refused(self, words: str) -> None:
        expect(self.page.get_by_role("alert")).to_contain_text(words)

    def doc_shot(self, name: str) -> None:
        """A viewport-sized picture for docs/passkey-profiles.md (copied to docs/images by hand)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        self.page.evaluate("window.scrollTo(0, 0)")
        self.page.screenshot(path=str(SHOTS / f"passkey-profiles-{name}.png"))

    def close(self) -> None:
        self.w.assert_clean()
        self.context.close()


@pytest.fixture
def people(chromium: Browser, served: ServedStore, request: pytest.FixtureRequest) -> Iterator[Any]:
    opened: list[Person] = []

    def person(story: str) -> Person:
        opened.append(Person(chromium, served, f"{request.node.name.removeprefix('test_')}-{story}"))
        return opened[-1]

    yield person
    for p in opened:
        p.close()


def _fido2_methods(served: ServedStore, upn: str) -> list[dict[str, Any]]:
    with graph(served) as api:
        found = api.get(f"/users/{upn}/authentication/fido2Methods")
        assert found.status_code == 200, found.text
        value: list[dict[str, Any]] = found.json()["value"]
        return value


def _refusals(served: ServedStore, upn: str) -> list[dict[str, Any]]:
    entries = json.loads(cli(served, "audit", "list", "--json"))["value"]
    return [
        e
        for e in entries
        if e["result"] == "failure"
        and any(t.get("userPrincipalName") == upn for t in e["targetResources"])
        and "Passkey profile" in e["resultReason"]
    ]


def test_synced_passkey_refused_for_a_device_bound_only_group_and_accepted_elsewhere(
    people: Any, served: ServedStore
) -> None:
    cli(served, "group", "add", "Security keys only")
    cli(
        served,
        "policy",
        "passkey-profile",
        "add",
        "Security keys only",
        "--passkey-types",
        "deviceBound",
        "--group",
        "Security keys only",
    )
    alice = people("alice")
    alice.sign_in(served, "alice@contoso.example", "Alice Admin")
    cli(served, "group", "add-member", "Security keys only", "alice@contoso.example")
    alice.use_authenticator(synced=True)
    alice.add_passkey("Password manager")
    alice.refused("only accepts device-bound passkeys")
    alice.w.shot("synced-refused")
    alice.doc_shot("refused")
    assert _fido2_methods(served, "alice@contoso.example") == []
    # The options steered the browser towards a security key (a hint: WebAuthn cannot demand one).
    assert alice.options[-1].get("hints") == ["security-key"]
    [entry] = _refusals(served, "alice@contoso.example")
    assert "'Security keys only' refused a synced passkey" in entry["resultReason"]

    alice.use_authenticator(synced=False)
    alice.add_passkey("Security key")
    alice.added("Security key")
    [stored] = _fido2_methods(served, "alice@contoso.example")
    assert stored["displayName"] == "Security key"

    bob = people("bob")
    bob.sign_in(served, "bob@contoso.example", "Bob Builder")
    bob.use_authenticator(synced=True)
    bob.add_passkey("Password manager")
    bob.added("Password manager")
    assert "hints" not in bob.options[-1] or not bob.options[-1]["hints"]


def test_aaguid_block_list_refuses_and_allow_list_admits_the_authenticator_model(
    people: Any, served: ServedStore
) -> None:
    carol = people("carol")
    carol.sign_in(served, "carol@contoso.example", "Carol Clerk")
    carol.use_authenticator(synced=False)
    with graph(served) as api:
        # Key restrictions ask for attestation, so the browser passes the model's AAGUID on.
        blocked = {"keyRestrictions": {"isEnforced": True, "enforcementType": "block", "aaGuids": [ZERO]}}
        assert api.patch(FIDO2, json=blocked).status_code == 204
        carol.add_passkey("Key")
        carol.added("Key")
        assert carol.options[-1]["attestation"] == "direct"
        [stored] = _fido2_methods(served, "carol@contoso.example")
        aaguid = stored["aaGuid"]
        assert aaguid != ZERO
        blocked["keyRestrictions"]["aaGuids"] = [aaguid.upper()]
        assert api.patch(FIDO2, json=blocked).status_code == 204

        carol.use_authenticator(synced=False)
        carol.add_passkey("Second key")
        carol.refused("does not accept this model")
        carol.w.shot("model-blocked")

        allowed = {"keyRestrictions": {"isEnforced": True, "enforcementType": "allow", "aaGuids": [aaguid]}}
        assert api.patch(FIDO2, json=allowed).status_code == 204
        carol.add_passkey("Second key")
        carol.added("Second key")
        allowed["keyRestrictions"]["aaGuids"] = [ZERO]
        assert api.patch(FIDO2, json=allowed).status_code == 204
        carol.use_authenticator(synced=False)
        carol.add_passkey("Third key")
        carol.refused("does not accept this model")
        # Back to the tenant's defaults for the tests after this one.
        assert api.delete(FIDO2).status_code == 204
    assert len(_fido2_methods(served, "carol@contoso.example")) == 2


def test_attestation_enforced_refuses_until_the_administrator_trusts_the_vendor_root(
    people: Any, served: ServedStore, tmp_path: Path
) -> None:
    cli(served, "group", "add", "Attested")
    cli(served, "policy", "passkey-profile", "add", "Attested keys", "--attestation", "--group", "Attested")
    dave = people("dave")
    dave.sign_in(served, "dave@contoso.example", "Dave Delta")
    cli(served, "group", "add-member", "Attested", "dave@contoso.example")
    dave.use_authenticator(synced=False)
    dave.add_passkey("Key")
    dave.refused("could not be verified")
    assert dave.options[-1]["attestation"] == "direct"
    assert _fido2_methods(served, "dave@contoso.example") == []

    # The administrator obtains the vendor's root (here: the top of the chain the key sent) and trusts it.
    chain = certificate_chain_pem(dave.answers[-1])
    assert chain, "the virtual authenticator sent no attestation certificate"
    root = tmp_path / "vendor-root.pem"
    root.write_text(chain[-1])
    cli(served, "policy", "passkey-profile", "update", "Attested keys", "--trust-root", str(root))
    listed = json.loads(cli(served, "policy", "passkey-profile", "list", "--json"))["value"]
    [attested] = [p for p in listed if p["name"] == "Attested keys"]
    assert (attested["attestationEnforcement"], attested["groups"]) == ("registrationOnly", ["Attested"])
    assert len(attested["attestationTrustRoots"]) == 1

    dave.add_passkey("Key")
    dave.added("Key")
    assert len(_fido2_methods(served, "dave@contoso.example")) == 1


POLICY_ADMIN = "isaiah.langer@contoso.example"


def test_policy_administrator_adds_edits_and_deletes_a_profile_in_the_portal(
    people: Any, served: ServedStore
) -> None:
    cli(served, "group", "add", "Contractors")
    cli(served, "user", "add", POLICY_ADMIN, "--display-name", "Isaiah Langer")
    cli(served, "role", "assign", "Authentication Policy Administrator", POLICY_ADMIN)
    admin = people("portal")
    admin.w.allowed.add(("/admin/policy/passkey-profiles/new", 400))
    page = admin.page
    page.goto("/admin/policy")
    enter_username(admin.w, POLICY_ADMIN)
    page.get_by_label("Temporary Access Pass", exact=True).fill(
        issue_pass(served, POLICY_ADMIN, one_time=False)
    )
    page.keyboard.press("Enter")
    page.get_by_role("link", name="Continue").click()
    expect(page.get_by_role("heading", name="Passkey profiles")).to_be_visible()
    page.get_by_role("link", name="Manage passkey profiles").click()
    expect(page.get_by_role("heading", name="Passkey profiles", level=1)).to_be_visible()
    page.get_by_role("link", name="Add a passkey profile").click()

    page.get_by_role("textbox", name="Name").fill("Contractors")
    page.get_by_role("radio", name="Device-bound only").check()
    page.get_by_role("radio", name="Only the models listed").check()
    page.get_by_role("textbox", name="AAGUIDs, one per line").fill("yubikey 5")
    page.get_by_role("checkbox", name="Contractors").check()
    admin.w.shot("form")
    page.get_by_role("button", name="Add profile").click()
    expect(page.get_by_role("alert")).to_contain_text("AAGUIDs: 'yubikey' is not a GUID.")
    expect(page.get_by_role("textbox", name="AAGUIDs, one per line")).to_have_value("yubikey 5")
    expect(page.get_by_role("checkbox", name="Contractors")).to_be_checked()
    admin.w.shot("refused")
    admin.doc_shot("form")

    page.get_by_role("textbox", name="AAGUIDs, one per line").fill("CB69481E-8FF7-4039-93EC-0A2729A154A8")
    page.get_by_role("button", name="Add profile").click()
    expect(page.get_by_role("status")).to_contain_text("The passkey profile was added.")
    row = page.get_by_role("row").filter(has_text="Contractors")
    expect(row).to_contain_text("Device-bound only")
    expect(row).to_contain_text("Only 1 listed")
    admin.w.shot("list")
    admin.doc_shot("list")
    listed = json.loads(cli(served, "policy", "passkey-profile", "list", "--json"))["value"]
    [made] = [p for p in listed if p["name"] == "Contractors"]
    assert (made["passkeyTypes"], made["groups"]) == ("deviceBound", ["Contractors"])
    assert made["keyRestrictions"]["aaGuids"] == ["cb69481e-8ff7-4039-93ec-0a2729a154a8"]

    page.get_by_role("link", name="Contractors").click()
    page.get_by_role("radio", name="Device-bound and synced").check()
    page.get_by_role("button", name="Save profile").click()
    expect(page.get_by_role("status")).to_contain_text("The passkey profile was saved.")
    expect(page.get_by_role("row").filter(has_text="Contractors")).to_contain_text("Device-bound and synced")

    page.get_by_role("link", name="Contractors").click()
    page.get_by_role("button", name="Delete this profile").click()
    expect(page.get_by_role("status")).to_contain_text("The passkey profile was deleted.")
    expect(page.get_by_role("link", name="Contractors")).to_have_count(0)
    names = [
        p["name"] for p in json.loads(cli(served, "policy", "passkey-profile", "list", "--json"))["value"]
    ]
    assert "Contractors" not in names
