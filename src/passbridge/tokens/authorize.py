"""When an authorization request may use the browser's session, and how it resumes after a sign-in.

A request without a usable session, or whose `prompt=login` / `max_age` demands a fresh sign-in,
starts a sign-in flow whose `return_to` is the same authorization request plus a *resume mark*:
`pb_resume=<requested_at>.<MAC>`, the MAC being a keyed hash (the pepper's HMAC key) over the
request time and the request's own parameters. When the browser comes back after signing in:

- the mark proves when the original request was made (nobody without the pepper can forge or move
  it, nor graft it onto other parameters);
- a forced sign-in is satisfied only by a session whose `auth_time` is at or after that instant, so
  an older session - one that existed before the request, or a stolen resume link replayed in a
  browser signed in earlier - never gets a code without signing in again;
- a mark older than the longest a sign-in flow may take (`flow_minutes`) is ignored, so the
  request counts as new and asks for the sign-in again.

Nothing is stored for this: the flow row keeps the validated parameters for the sign-in pages
(which application is asking) and the mark keeps the time. An anonymous request stores no flow either:
it is sent to `/login?return_to=<the request plus its mark>`, a pending flow (signin/flow.py) that is
created on the first post, with the application and parameters read back from that mark-bearing
`return_to` (`pending_request`), so a stream of anonymous requests writes nothing.

Authentication strengths (methods/strength.py, built-in or custom: methods/strength_policies.py) step a
session up the same way. An application registered with a required strength (`passbridge app add
--require-strength`) gets a code only for a session whose methods (its `amr`: a passkey, a one-time or a
multi-use pass, an authenticator app) make one of the strength's allowed combinations; another is sent to
sign in again, and if the sign-in made for this very request still does not (the person used a multi-use
pass where only a one-time pass or a passkey will do), the request ends with `access_denied` instead of
looping. `acr_values` in the request asks for strengths voluntarily (OpenID Connect Core 3.1.2.1), by a
built-in name or any strength's id: a session that does not satisfy them all is asked to sign in again
once, and whatever that sign-in reached is what the ID token's `acr` says.

A session begun with an `enrol` or `recover` pass (docs/purpose-bound-passes.md) never gets a code: every
request made with it is sent to sign in again, where the page says why.
"""

from __future__ import annotations

import hmac
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from passbridge.methods.strength import StrengthPolicy, built_in, modes_of
from passbridge.passes.policy_rules import Purpose
from passbridge.services.context import Env
from passbridge.signin.sessions import SessionView

RESUME_PARAM = "pb_resume"
# Leeway for the pages' redirects on top of the flow's own lifetime.
RESUME_SLACK = timedelta(minutes=1)


def _mac(env: Env, stamp: int, params: list[tuple[str, str]]) -> str:
    return env.keeper.keyed_hash(f"authorize-resume|{stamp}|{urlencode(params)}")[:32]


def resume_query(env: Env, params: list[tuple[str, str]], requested_at: datetime) -> str:
    """The query string that resumes this request after sign-in."""
    stamp = int(requested_at.timestamp() * 1000)  # milliseconds: a session from just before still loses
    return urlencode([*params, (RESUME_PARAM, f"{stamp}.{_mac(env, stamp, params)}")])


def split_resume(env: Env, params: list[tuple[str, str]]) -> tuple[list[tuple[str, str]], datetime | None]:
    """The request's own parameters and, when a genuine, recent resume mark came with them, the time
    of the original request."""
    own = [(k, v) for k, v in params if k != RESUME_PARAM]
    marks = [v for k, v in params if k == RESUME_PARAM]
    if len(marks) != 1:
        return own, None
    stamp_text, _, mac = marks[0].partition(".")
    if not stamp_text.isdigit() or len(stamp_text) > 15:
        return own, None
    stamp = int(stamp_text)
    if not hmac.compare_digest(_mac(env, stamp, own), mac):
        return own, None
    requested_at = datetime.fromtimestamp(stamp // 1000, UTC) + timedelta(milliseconds=stamp % 1000)
    now = env.clock.now()
    if now - requested_at > timedelta(minutes=env.settings.flow_minutes) + RESUME_SLACK or requested_at > now:
        return own, None
    return own, requested_at


AUTHORIZE_PATH_SUFFIX = "/oauth2/v2.0/authorize"
MAX_QUERY_FIELDS = 32


@dataclass(frozen=True)
class PendingRequest:
    """What a sign-in flow records about the authorization request it was started for."""

    client_id: str | None
    auth_request: dict[str, Any]
    force_login: bool


def pending_request(env: Env, return_to: str | None) -> PendingRequest | None:
    """The authorization request an anonymous sign-in resumes, read from its `return_to` (an authorize
    path with a genuine, recent resume mark: parameters the endpoint validated and nobody changed since),
    or None for any other destination."""
    if not return_to:
        return None
    parts = urlsplit(return_to)
    if parts.scheme or parts.netloc or not parts.path.endswith(AUTHORIZE_PATH_SUFFIX):
        return None
    try:
        pairs = parse_qsl(parts.query, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        return None
    params, requested_at = split_resume(env, pairs)
    if requested_at is None:
        return None
    data: dict[str, str] = {}
    for key, value in params:
        data.setdefault(key, value)  # the first value, as the endpoint read it
    prompts = (data.get("prompt") or "").split()
    return PendingRequest(
        client_id=data.get("client_id"),
        auth_request={k: v for k, v in data.items() if k != "code_challenge"},
        # As `decide` says for a request without a session.
        force_login="login" in prompts or "select_account" in prompts or bool(data.get("max_age")),
    )


@dataclass(frozen=True)
class Decision:
    sign_in: bool  # begin a sign-in flow (or, with prompt=none, answer login_required)
    force: bool  # the sign-in must happen even though a session exists
    # The application requires a strength that the sign-in made for this request did not reach.
    too_weak: StrengthPolicy | None = None


@dataclass(frozen=True)
class Wanted:
    """The strengths a request needs, all of them: `essential` when the application requires it."""

    strengths: tuple[StrengthPolicy, ...]
    essential: bool

    def unmet(self, signed_in: SessionView) -> StrengthPolicy | None:
        modes = modes_of(signed_in.amr)
        return next((s for s in self.strengths if not s.satisfied_by(modes)), None)


def unknown_strength(reference: str) -> StrengthPolicy:
    """A strength nothing satisfies, standing for a reference that names none."""
    never = datetime.min.replace(tzinfo=UTC)
    return StrengthPolicy(reference, f"unknown strength '{reference[:64]}'", "", "custom", (), never, never)


Lookup = Callable[[str], "StrengthPolicy | None"]
MAX_ACR_VALUES = 8  # a request naming more is not asking for anything sensible; the rest are ignored


def wanted_strength(
    required_by_app: str | None, acr_values: str | None, lookup: Lookup = built_in
) -> Wanted | None:
    """The application's required strength, else every strength `acr_values` names (a built-in name or a
    strength's id; `lookup` finds custom ones, methods/strength_policies.py `find`). Unknown values are
    ignored, as OpenID Connect says of voluntary `acr_values`."""
    if required_by_app:
        # A requirement naming no strength (one removed behind Passbridge's back) fails closed.
        required = lookup(required_by_app) or unknown_strength(required_by_app)
        return Wanted((required,), essential=True)
    asked: dict[str, StrengthPolicy] = {}
    for value in (acr_values or "").split()[:MAX_ACR_VALUES]:
        found = lookup(value)
        if found is not None:
            asked.setdefault(found.id, found)
    return Wanted(tuple(asked.values()), essential=False) if asked else None


def decide(
    signed_in: SessionView | None,
    *,
    prompts: list[str],
    max_age: int | None,
    resumed_at: datetime | None,
    now: datetime,
    wanted: Wanted | None = None,
) -> Decision:
    """Whether the session may be used now. `resumed_at` is the original request's time when the
    browser returns from the sign-in this request started (see the module docstring)."""
    forcing = "login" in prompts or "select_account" in prompts
    too_old = (
        signed_in is not None
        and max_age is not None
        and (now - signed_in.auth_time).total_seconds() > max_age
    )
    if signed_in is None:
        return Decision(sign_in=True, force=forcing or max_age is not None)
    if signed_in.pass_purpose is not None and Purpose(signed_in.pass_purpose).bound:
        # A session begun with an enrol or recover pass sets up methods only: never a code for an
        # application. The sign-in page says so and offers the methods that do (passes/burn.py).
        return Decision(sign_in=True, force=True)
    fresh_since_request = resumed_at is not None and signed_in.auth_time >= resumed_at
    if (forcing or too_old) and not fresh_since_request:
        return Decision(sign_in=True, force=True)
    unmet = wanted.unmet(signed_in) if wanted is not None else None
    if wanted is not None and unmet is not None:
        if not fresh_since_request:
            return Decision(sign_in=True, force=True)  # step up: sign in again, with a method that does
        if wanted.essential:
            return Decision(sign_in=False, force=False, too_weak=unmet)
    return Decision(sign_in=False, force=False)
