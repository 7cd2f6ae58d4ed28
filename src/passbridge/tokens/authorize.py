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

Authentication strengths (methods/strength.py) step a session up the same way. An application registered
with a required strength (`passbridge app add --require-strength`) gets a code only for a session that
reached it; a weaker one is sent to sign in again, and if the sign-in made for this very request is still
weaker (the person used a pass where a passkey is required), the request ends with `access_denied`
instead of looping. `acr_values` in the request asks for a strength voluntarily (OpenID Connect Core
3.1.2.1): a weaker session is asked to sign in again once, and whatever that sign-in reached is what the
ID token's `acr` says.

A session begun with an `enrol` or `recover` pass (docs/purpose-bound-passes.md) never gets a code: every
request made with it is sent to sign in again, where the page says why.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from passbridge.methods.strength import ORDER, meets, strength_of_acr
from passbridge.passes.policy_rules import Purpose
from passbridge.services.context import Env
from passbridge.signin.rules import Strength
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
    too_weak: Strength | None = None


@dataclass(frozen=True)
class Wanted:
    """The strength a request needs: `essential` when the application requires it."""

    strength: Strength
    essential: bool


def wanted_strength(required_by_app: str | None, acr_values: str | None) -> Wanted | None:
    """The application's required strength, else the strongest built-in one `acr_values` names."""
    required = strength_of_acr(required_by_app) if required_by_app else None
    if required is not None:
        return Wanted(required, essential=True)
    asked = [s for s in (strength_of_acr(v) for v in (acr_values or "").split()) if s is not None]
    return Wanted(max(asked, key=ORDER.index), essential=False) if asked else None


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
    if wanted is not None and not meets(signed_in.acr, wanted.strength):
        if not fresh_since_request:
            return Decision(sign_in=True, force=True)  # step up: sign in again, with a stronger method
        if wanted.essential:
            return Decision(sign_in=False, force=False, too_weak=wanted.strength)
    return Decision(sign_in=False, force=False)
