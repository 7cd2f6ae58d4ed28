"""The ways to prove who you are, each a strategy (Ory Kratos's login `Strategy`: check, then commit)
that the flow's one handler (flow.py `SignInService.prove`) runs alike:

1. `read(connection, flow)`: in the handler's read round, beside the flow, what the check needs.
2. `who(flow, found)`: who the proof is about, as far as it is known (throttle, log, session).
3. `check(env, flow, found, now)`: the verification, holding no connection (the slow part: Argon2, a
   WebAuthn signature); SignInFailed when the proof is refused.
4. `commit(connection, env, checked, now)`: in the handler's write transaction, once the flow moved to
   done: the conditional writes that let a proof count once (a one-time pass's use, a passkey's
   ceremony and sign count, a code's time step), and what the proof is worth. SignInFailed when a
   racing request got there first, which rolls the whole transaction back.
A strategy never opens a session or writes the log: finish.py opens sessions, the handler logs.

`throttled` strategies (a pass, a code: guessable) have each attempt reserved with the throttle before
the check (throttle.py). A passkey is never throttled: it cannot be guessed, so neither a source's
lockout nor guesses at the account may stand between a person and the method they are meant to use.

A passkey sign-in needs no username: the browser offers the passkeys it holds for this site
(discoverable credentials), and the answer names its credential, whose owner is the one signing in; if
a username was typed, the passkey must be that account's. Its challenge is a ceremony bound to the
flow, used only by a verified answer, so a cancelled or failed attempt can be retried and a replayed
answer is refused; a sign counter that did not grow (a cloned key) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, ClassVar, Protocol, TypeVar

from passbridge.logs import signin_log
from passbridge.methods import ceremonies, strength
from passbridge.methods import passkey_queries as passkey_store
from passbridge.methods.oath import CODE_MAX, accept_code
from passbridge.methods.passkeys import SIGN_IN, relying_party, user_id_of_handle
from passbridge.passes import burn_queries as burn_store
from passbridge.passes import queries as taps_store
from passbridge.passes import rules as tap_rules
from passbridge.passes.policy import method_allowed
from passbridge.security import webauthn
from passbridge.services.context import Env
from passbridge.signin import queries, rules
from passbridge.signin.finish import Who, Worth
from passbridge.signin.rules import Method
from passbridge.store.tx import Tx
from passbridge.tokens.revocation_queries import end_sessions_of_pass

if TYPE_CHECKING:
    from passbridge.signin.flow import ProofFlow

PASS_MAX = 256  # far above any pass (48); refuses megabyte posts before they reach Argon2
_PASS_PROOF = rules.PROOFS[Method.TEMPORARY_ACCESS_PASS]

Found = TypeVar("Found")
Checked = TypeVar("Checked")


class Strategy(Protocol[Found, Checked]):
    """One way to prove who you are (see the module's docstring for the order of the calls)."""

    method: ClassVar[Method]
    throttled: ClassVar[bool]  # guessable: each attempt is reserved with the throttle first
    needs_username: ClassVar[bool]  # only after the username step (FlowState.PROVE)

    def read(self, tx: Tx, flow: ProofFlow) -> Found: ...

    def who(self, flow: ProofFlow, found: Found) -> Who: ...

    def check(self, env: Env, flow: ProofFlow, found: Found, now: datetime) -> Checked: ...

    def commit(self, tx: Tx, env: Env, checked: Checked, now: datetime) -> Worth: ...


def _typed_who(flow: ProofFlow, method: str) -> Who:
    """The user the typed name found; else the name as typed, so the log shows what was tried."""
    found = flow.user_id is not None
    return Who(
        flow.user_id,
        flow.user_principal_name if found else flow.view.username,
        flow.display_name if found else None,
        method,
    )


def _named_user(flow: ProofFlow) -> str:
    """The user a guessable proof names, once known, enabled: refusals look alike to the person."""
    if flow.user_id is None:
        raise rules.SignInFailed("No account with this username.")
    if not flow.account_enabled:
        raise rules.SignInFailed("User account is disabled.", error_code=signin_log.ACCOUNT_DISABLED)
    return flow.user_id


@dataclass(frozen=True)
class Pass:
    """A Temporary Access Pass, for the user named in the username step."""

    value: str = field(repr=False)  # a secret: never in a traceback or a log line
    method: ClassVar[Method] = Method.TEMPORARY_ACCESS_PASS
    throttled: ClassVar[bool] = True
    needs_username: ClassVar[bool] = True

    def read(self, tx: Tx, flow: ProofFlow) -> ProofFlow:
        return flow  # the flow's own select brings the user's pass (queries.py `flow_for_proof`)

    def who(self, flow: ProofFlow, found: ProofFlow) -> Who:
        return _typed_who(flow, rules.log_name(self.method))

    def check(self, env: Env, flow: ProofFlow, found: ProofFlow, now: datetime) -> ProofFlow:
        # An unknown user or a missing pass costs the same hash as a real one, so timing does not tell
        # them apart.
        candidate = self.value.strip()[:PASS_MAX]
        matched = env.keeper.slow_hash_matches(candidate, flow.secret_hash or env.keeper.decoy_hash())
        _named_user(flow)
        if flow.pass_id is None or flow.secret_hash is None:
            raise rules.SignInFailed("The user holds no Temporary Access Pass.")
        if not matched:
            raise rules.SignInFailed("The Temporary Access Pass was wrong.")
        return flow

    def commit(self, tx: Tx, env: Env, checked: ProofFlow, now: datetime) -> Worth:
        user_id = _named_user(checked)
        # Read again under the write transaction: the pass may have been replaced, used or made
        # unusable by policy while the hash was being checked.
        found = queries.pass_and_policy(tx, user_id)
        if found is None or found[0].id != checked.pass_id:
            raise rules.SignInFailed("The Temporary Access Pass was deleted or replaced.")
        current, policy = found
        groups = taps_store.group_ids_of(tx, user_id) if policy.needs_group_ids(user_id) else ()
        state = tap_rules.PassState(
            current.start_at,
            current.lifetime_minutes,
            current.is_usable_once,
            current.used_at,
            tap_rules.Purpose(current.purpose),
            current.attempts,
        )
        reason = tap_rules.usability(state, policy, targeted=policy.targets(user_id, groups), now=now)
        if reason is not tap_rules.UsabilityReason.ENABLED_BY_POLICY:
            raise rules.SignInFailed(f"The Temporary Access Pass is not usable: {reason.value}.")
        if state.burns_on_success:
            # Claimed, not used up: the first method registered burns it (passes/burn.py), and a sign-in
            # again with it (a crashed browser) ends the session it opened before.
            use = burn_store.claim(tx, current.id, current.secret_hash, now, tap_rules.BURN_ATTEMPTS)
            if use is not None:
                end_sessions_of_pass(tx, user_id, current.id, now)
        else:
            use = queries.use_pass(tx, current.id, current.secret_hash, now)
        if use is None:
            raise rules.SignInFailed("The one-time Temporary Access Pass was already used.")
        return Worth(
            amr=strength.pass_amr(one_time=current.is_usable_once),
            acr=_PASS_PROOF.strength.value,
            pass_id=current.id,
            pass_end=current.start_at + timedelta(minutes=current.lifetime_minutes),
            one_time_pass=current.is_usable_once,
            first_pass_use=use == "first",
            pass_purpose=current.purpose,
        )


@dataclass(frozen=True)
class Code:
    """A code from one of the named user's authenticator apps. Failures look the same for an unknown
    user, a user without an app, a wrong code and a replayed one; each time step is accepted once."""

    code: str = field(repr=False)
    method: ClassVar[Method] = Method.AUTHENTICATOR_APP
    throttled: ClassVar[bool] = True
    needs_username: ClassVar[bool] = True

    def read(self, tx: Tx, flow: ProofFlow) -> ProofFlow:
        return flow

    def who(self, flow: ProofFlow, found: ProofFlow) -> Who:
        return _typed_who(flow, rules.log_name(self.method))

    def check(self, env: Env, flow: ProofFlow, found: ProofFlow, now: datetime) -> str:
        return _named_user(flow)

    def commit(self, tx: Tx, env: Env, checked: str, now: datetime) -> Worth:
        # The check and the step's use are one conditional write (methods/oath.py), so it is here.
        if accept_code(tx, env, checked, self.code[:CODE_MAX], at=now) is None:
            raise rules.SignInFailed("The code was wrong, already used, or the user has no app.")
        amr = strength.AUTHENTICATOR_APP_AMR
        return Worth(amr=amr, acr=strength.acr_for(strength.factors_of(amr)))


@dataclass(frozen=True)
class PasskeyFound:
    """What a passkey's check needs, read in the handler's round."""

    tenant: str
    ceremony: ceremonies.CeremonyRecord | None
    assertion: webauthn.Assertion | None  # None: the answer could not be read
    owner: passkey_store.PasskeyOwner | None  # None: no such passkey (unknown or deleted)
    allowed: bool  # the policy lets the owner sign in with a passkey


@dataclass(frozen=True)
class PasskeyChecked:
    owner: passkey_store.PasskeyOwner
    used: webauthn.VerifiedUse
    ceremony_id: str


@dataclass(frozen=True)
class Passkey:
    """A passkey's answer to the flow's challenge (flow.py `passkey_options`)."""

    ceremony_id: str
    response: str
    method: ClassVar[Method] = Method.PASSKEY
    throttled: ClassVar[bool] = False
    needs_username: ClassVar[bool] = False

    def read(self, tx: Tx, flow: ProofFlow) -> PasskeyFound:
        tenant = queries.tenant_name(tx) or "Passbridge"
        ceremony = ceremonies.get(tx, self.ceremony_id)
        try:
            assertion = webauthn.read_assertion(self.response)
        except webauthn.CeremonyFailed:
            return PasskeyFound(tenant, ceremony, None, None, False)
        owner = passkey_store.for_sign_in(tx, assertion.credential_id)
        allowed = owner is not None and method_allowed(tx, owner.passkey.user_id, self.method)
        return PasskeyFound(tenant, ceremony, assertion, owner, allowed)

    def who(self, flow: ProofFlow, found: PasskeyFound) -> Who:
        owner = found.owner
        if owner is None:
            return Who(None, None, None, rules.log_name(self.method))
        synced = owner.passkey.backup_eligible
        return Who(
            owner.passkey.user_id,
            owner.user_principal_name,
            owner.display_name,
            rules.log_name(self.method, synced=synced),
        )

    def check(self, env: Env, flow: ProofFlow, found: PasskeyFound, now: datetime) -> PasskeyChecked:
        ceremony, assertion, owner = found.ceremony, found.assertion, found.owner
        if ceremony is None or ceremony.kind != SIGN_IN or ceremony.flow_id != flow.view.id:
            raise rules.SignInFailed("The passkey challenge is unknown or belongs to another sign-in.")
        if ceremony.used_at is not None or ceremony.expires_at <= now:
            raise rules.SignInFailed("The passkey challenge was already used or has expired.")
        if assertion is None:
            raise rules.SignInFailed("The passkey answer could not be read.")
        if owner is None:
            raise rules.SignInFailed("The passkey is not registered (unknown or deleted).")
        user_id = owner.passkey.user_id
        if assertion.user_handle is not None and user_id_of_handle(assertion.user_handle) != user_id:
            raise rules.SignInFailed("The passkey's user handle does not match its owner.")
        if flow.named_user_id is not None and flow.named_user_id != user_id:
            raise rules.SignInFailed("The passkey belongs to another account than the username given.")
        if not owner.enabled:
            raise rules.SignInFailed("User account is disabled.", error_code=signin_log.ACCOUNT_DISABLED)
        if not found.allowed:
            raise rules.SignInFailed(
                "Passkeys are turned off for this user by the authentication methods policy."
            )
        try:
            used = webauthn.verify_assertion(
                relying_party(env, found.tenant),
                self.response,
                challenge=ceremony.challenge,
                public_key=owner.passkey.public_key,
                sign_count=owner.passkey.sign_count,
            )
        except webauthn.CeremonyFailed as exc:
            raise rules.SignInFailed(str(exc)) from None
        return PasskeyChecked(owner, used, ceremony.id)

    def commit(self, tx: Tx, env: Env, checked: PasskeyChecked, now: datetime) -> Worth:
        if not ceremonies.use(tx, checked.ceremony_id, at=now):
            raise rules.SignInFailed("The passkey challenge was already used.")
        passkey = checked.owner.passkey
        if not passkey_store.record_use(
            tx,
            passkey.id,
            old_count=passkey.sign_count,
            new_count=checked.used.sign_count,
            backed_up=checked.used.backed_up,
            at=now,
        ):
            raise rules.SignInFailed("The passkey was used at the same time elsewhere or was deleted.")
        amr = strength.passkey_amr(backup_eligible=passkey.backup_eligible)
        return Worth(amr=amr, acr=strength.acr_for(strength.factors_of(amr)))
