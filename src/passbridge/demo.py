"""A ready demo tenant: a few people, groups and roles, and fresh passes for the administrator and the
helpdesk's Authentication Administrator."""

from __future__ import annotations

from passbridge.clock import iso_z
from passbridge.config import Settings
from passbridge.directory import queries as directory_store
from passbridge.directory import tenant as tenant_service
from passbridge.directory.apps import ApplicationService
from passbridge.directory.service import DirectoryService
from passbridge.domain.errors import AlreadyInitialised
from passbridge.oidc import demo_rp
from passbridge.passes.rules import PassRequest
from passbridge.passes.service import IssuedPass, TapService
from passbridge.security.secrets import create_pepper_file
from passbridge.services.context import Env, Principal, operator
from passbridge.store.db import Database
from passbridge.store.tx import Tx

DEMO_TENANT = "Contoso (demo)"
DEMO_ADMIN = "admin@contoso.example"
DEMO_HELPDESK = "megan.bowen@contoso.example"
PEOPLE = [
    ("adele.vance@contoso.example", "Adele Vance", ["New hires"], None),
    ("lee.gu@contoso.example", "Lee Gu", ["Engineering"], None),
    (DEMO_HELPDESK, "Megan Bowen", ["Helpdesk"], "Authentication Administrator"),
    ("nestor.wilke@contoso.example", "Nestor Wilke", ["Engineering", "New hires"], None),
]


def seed_demo(config: Settings) -> list[str]:
    """Create the demo tenant if the store is empty; always issue the admin and the helpdesk user a
    fresh one-time pass each."""
    if config.database_url is None:
        config.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    db = Database(config.effective_database_url)
    db.upgrade()
    db.dispose()
    if config.pepper is None and not config.pepper_file.exists():
        create_pepper_file(config.pepper_file)
    env = Env.from_settings(config)
    who = operator("Passbridge demo")
    try:
        with env.db.transaction() as tx:
            existing = directory_store.tenant(tx)
            if existing is None:
                tenant_service.initialise(tx, env, who, admin_upn=DEMO_ADMIN, tenant_name=DEMO_TENANT)
                _add_people(DirectoryService(tx, env, who))
            elif existing.display_name != DEMO_TENANT:
                raise AlreadyInitialised("not a demo tenant")
            _register_demo_rp(tx, env, who)
            # The bootstrap pass was shown once, perhaps long ago: a demo start always prints one
            # that works now (issuing replaces the previous pass, as Graph does). The helpdesk user
            # gets one too, to try what an Authentication Administrator may and may not do.
            taps = TapService(tx, env, who)
            issued = taps.issue(DEMO_ADMIN, PassRequest(is_usable_once=True))
            helpdesk = taps.issue(DEMO_HELPDESK, PassRequest(is_usable_once=True))
            tenant = directory_store.tenant(tx)
            assert tenant is not None
            return [
                f"Tenant:     {tenant.display_name} ({tenant.id})",
                f"Data:       {env.settings.effective_database_url}",
                f"Sign in at: {env.settings.base_url}/login",
                f"Admin:      {DEMO_ADMIN}",
                _pass_line(issued),
                f"Helpdesk:   {DEMO_HELPDESK} (Authentication Administrator)",
                _pass_line(helpdesk),
                f"Admin portal (issue passes from a browser): {env.settings.base_url}/admin",
                f"Then add a passkey or an authenticator app: {env.settings.base_url}/security-info",
                f"Demo relying party (OpenID Connect code + PKCE): {env.settings.base_url}{demo_rp.PATH}",
                f"Demo users: {', '.join(p[0] for p in PEOPLE)}",
                f"Health:     {env.settings.base_url}/readyz",
            ]
    finally:
        env.db.dispose()


def _pass_line(issued: IssuedPass) -> str:
    return f"  One-time Temporary Access Pass: {issued.value}  (valid until {iso_z(issued.view.end)})"


def _register_demo_rp(tx: Tx, env: Env, who: Principal) -> None:
    """The demo relying party as a public client; its redirect URIs follow the base URL of this run."""
    uris = demo_rp.redirect_uris(env.settings.base_url)
    found = next(
        (a for a in directory_store.applications(tx) if a.display_name == demo_rp.DEMO_RP_NAME), None
    )
    home = env.settings.base_url + demo_rp.PATH
    if found is None:
        ApplicationService(tx, env, who).register(
            demo_rp.DEMO_RP_NAME, permissions=[], redirect_uris=uris, public=True, home_page=home
        )
        return
    # Its tile on My apps opens the demo relying party, not this site's root (which leads back to My apps).
    found.redirect_uris, found.home_page_url = uris, home


def _add_people(directory: DirectoryService) -> None:
    groups = {}
    for name in ("New hires", "Engineering", "Helpdesk"):
        groups[name] = directory.add_group(name, unique_name=True)
    for upn, display_name, member_of, role in PEOPLE:
        person = directory.add_user(upn, display_name=display_name, mail=upn)
        for group_name in member_of:
            directory.add_member(groups[group_name].id, person.id)
        if role:
            directory.assign_role(role, person.id)
