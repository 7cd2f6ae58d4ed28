"""Purpose-bound passes after sign-in (docs/purpose-bound-passes.md): what registering a method does to the
pass that opened the session, and how many set-ups such a pass allows.

- An `enrol` or `recover` one-time pass burns on success: the sign-in only claims it (counted, and any
  earlier session it opened ends), and the first passkey or authenticator app registered in its session
  uses it up. A failed or cancelled ceremony consumes nothing, up to BURN_ATTEMPTS sign-ins and set-ups
  begun in all; after that the pass is spent.
- A `recover` session, once a method is registered, ends the holder's other sessions and refresh tokens
  and voids the access tokens issued before it: whoever holds the lost device is signed out. The
  security info page then offers to remove the methods registered before the recovery.
- The policy's `revokeMultiUseAfterPasskey` revokes a multi-use pass as soon as its holder registers a
  passkey: a reusable pass must not outlive its purpose as a permanent password.
"""

from __future__ import annotations

from passbridge.directory.service import user_ref
from passbridge.domain.errors import PermissionDenied
from passbridge.logs import audit
from passbridge.passes import burn_queries as store
from passbridge.passes import policy_queries as policy_store
from passbridge.passes import queries as pass_store
from passbridge.passes.policy_rules import Purpose
from passbridge.passes.rules import BURN_ATTEMPTS
from passbridge.services.context import Env, Principal
from passbridge.signin.sessions import SessionView
from passbridge.store.models import User
from passbridge.store.tx import Tx

SERVICE = "Authentication Methods"
POLICY = Principal(kind="operator", id=None, display_name="Authentication methods policy")


def purpose_of_session(view: SessionView) -> Purpose | None:
    return Purpose(view.pass_purpose) if view.pass_purpose else None


def is_bound(view: SessionView) -> bool:
    """Whether the session may only set up its holder's own methods (an enrol or recover pass began it)."""
    purpose = purpose_of_session(view)
    return purpose is not None and purpose.bound


def count_setup(tx: Tx, view: SessionView) -> None:
    """A passkey or authenticator-app set-up begins: counted against the session's pass when that pass
    burns on success and is not burned yet. PermissionDenied once its attempts are spent."""
    if not is_bound(view) or view.pass_id is None:
        return
    row = pass_store.of_user(tx, view.user_id)
    if row is None or row.id != view.pass_id or not row.is_usable_once or row.used_at is not None:
        return  # gone, multi-use, or already used up by a registration: nothing left to protect
    if not store.count_attempt(tx, row.id, BURN_ATTEMPTS):
        raise PermissionDenied(
            "This pass has been used for too many attempts and no longer works. Ask your helpdesk for a "
            "new Temporary Access Pass."
        )


def after_registration(tx: Tx, env: Env, view: SessionView, *, passkey: bool) -> None:
    """A method was registered in this session, in the registration's transaction."""
    now = env.clock.now()
    purpose = purpose_of_session(view)
    burned = False
    if purpose is not None and purpose.bound and view.pass_id is not None:
        burned = store.burn(tx, view.pass_id, now)
    if purpose is Purpose.RECOVER:
        _recovered(tx, env, view, burned=burned)
    if passkey:
        _revoke_multi_use(tx, env, view.user_id)


def _recovered(tx: Tx, env: Env, view: SessionView, *, burned: bool) -> None:
    now = env.clock.now()
    user = tx.session.get(User, view.user_id)
    if user is None:
        return
    # Access tokens issued before this session began are void; the session itself stays.
    if user.sessions_valid_from < view.auth_time:
        user.sessions_valid_from = view.auth_time
    ended = store.end_other_sessions(tx, view.user_id, view.id, now)
    if burned or ended:
        audit.record(
            tx,
            now=now,
            principal=Principal(
                kind="user",
                id=user.id,
                display_name=user.display_name,
                user_principal_name=user.user_principal_name,
            ),
            activity="User recovered their account",
            category="UserManagement",
            operation_type="Update",
            logged_by_service=SERVICE,
            result_reason="A new sign-in method was registered with a recovery pass: other sign-in "
            "sessions ended and refresh tokens revoked",
            targets=[user_ref(user)],
            details={"sessionsEnded": str(ended)},
        )


def _revoke_multi_use(tx: Tx, env: Env, user_id: str) -> None:
    policy, _ = policy_store.load(tx)
    if not policy.revoke_multi_use_after_passkey:
        return
    pass_store.lock_owner(tx, user_id)
    row = pass_store.of_user(tx, user_id)
    if row is None or row.is_usable_once:
        return
    pass_store.remove(tx, row.id)
    user = tx.session.get(User, user_id)
    audit.record(
        tx,
        now=env.clock.now(),
        principal=POLICY,
        activity="Admin deleted security info",
        category="UserManagement",
        operation_type="Delete",
        logged_by_service=SERVICE,
        result_reason="Multi-use temporary access pass revoked: its holder registered a passkey "
        "(revokeMultiUseAfterPasskey)",
        targets=[user_ref(user)] if user is not None else [],
    )
