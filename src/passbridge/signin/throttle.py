"""The one throttle every guessable proof (a pass, an authenticator-app code) goes through.

It follows OWASP's device cookies and Entra's smart lockout:
- A browser that has signed in as a user carries a device cookie naming that user, signed with a
  key derived from the pepper. Its attempts for that user count against that device alone, so
  nobody else's guessing can lock it out, and its own failures never lock anyone else.
- Every other attempt is untrusted: it counts against the username as typed and normalised (known or
  not, so a made-up name locks exactly as a real one does) and against the source address. Each
  lockout lasts twice the one before (rules.py `ThrottleRule`), so a patient attacker gets
  a few dozen guesses a day, and the person's own browsers are not held up by it.
- Every failed attempt, trusted or not, also counts towards the account's consecutive ceiling (NIST
  SP 800-63B: at most 100); only a success or a new pass from an administrator resets it.
A passkey is never throttled: it cannot be guessed, and a source's or a name's lockout must not
stand between a person and the one method they are meant to use.

Each attempt is reserved before it is checked (`reserve`), in one short transaction on the database's
counters, so parallel requests on any number of processes never check more than a counter allows.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from passbridge.services.context import Env
from passbridge.signin import queries as store
from passbridge.signin import rules
from passbridge.store.tx import Tx

# Compare-and-set rounds before a reservation gives up (and refuses, failing closed). Each round
# someone wins, so only more concurrent requests on one key than this could ever exhaust it.
MAX_ROUNDS = 200


@dataclass(frozen=True)
class Attempt:
    """Who a guess is about and where it comes from."""

    username_key: str  # the typed username, normalised (directory/rules.py upn_key)
    source: str | None  # the client address (client_address.py)
    device: str | None  # the device cookie's id, when the browser holds a valid one for this user


class _Lost(Exception):
    """Another request wrote a counter between our read and our write: read again."""


@dataclass
class Throttle:
    env: Env

    # --- the rules ----------------------------------------------------------------------------

    def _user_rule(self) -> rules.ThrottleRule:
        s = self.env.settings
        return rules.ThrottleRule(s.lockout_threshold, timedelta(minutes=s.lockout_window_minutes))

    def _source_rule(self) -> rules.ThrottleRule:
        s = self.env.settings
        return rules.ThrottleRule(s.lockout_ip_threshold, timedelta(minutes=s.lockout_window_minutes))

    def _keys(self, attempt: Attempt) -> list[tuple[str, rules.ThrottleRule]]:
        keyed = [(store.CEILING_PREFIX + attempt.username_key, rules.CEILING_RULE)]
        if attempt.device is not None:
            keyed.append(("device:" + attempt.device, self._user_rule()))
        else:
            keyed.append(("name:" + attempt.username_key, self._user_rule()))
            if attempt.source is not None:
                keyed.append(("source:" + attempt.source, self._source_rule()))
        # One order for every request, so two transactions never wait on each other's rows crosswise.
        return sorted(keyed)

    # --- reserving and clearing ----------------------------------------------------------------

    def reserve(self, attempt: Attempt) -> None:
        """Spend one attempt on each of the attempt's counters, or raise LockedOut (spending none)."""
        keyed = self._keys(attempt)
        for _ in range(MAX_ROUNDS):
            try:
                self._reserve_once(keyed, self.env.clock.now())
                return
            except _Lost:
                continue
        raise rules.LockedOut(timedelta(seconds=1))

    def _reserve_once(self, keyed: Sequence[tuple[str, rules.ThrottleRule]], now: datetime) -> None:
        keys = [key for key, _ in keyed]
        with self.env.db.transaction() as tx:
            store.ensure_counters(tx, keys)
            counters = store.counters(tx, keys)
            waits: list[timedelta | None] = []
            writes: list[tuple[str, rules.Counter]] = []
            for key, rule in keyed:
                outcome = rules.reserve(rule, counters[key], now)
                if isinstance(outcome, rules.Counter):
                    writes.append((key, outcome))
                else:
                    waits.append(outcome)
            if waits:
                # Refused: leaving the block by raising rolls back, so nothing is spent.
                known = [w for w in waits if w is not None]
                raise rules.LockedOut(None if len(known) < len(waits) else max(known))
            for key, counter in writes:
                if not store.write_counter(tx, key, counters[key].version, counter):
                    raise _Lost()

    def succeeded(self, tx: Tx, attempt: Attempt, user_id: str) -> str:
        """In the transaction that opens the session: the name's, the device's and the account's
        counters start afresh (never the source's: an attacker's own account must not wipe the count
        of its guesses at others). Returns a new device cookie for the browser."""
        keys = [store.CEILING_PREFIX + attempt.username_key, "name:" + attempt.username_key]
        if attempt.device is not None:
            keys.append("device:" + attempt.device)
        store.clear_counters(tx, keys)
        return self.device_cookie(user_id)

    # --- device cookies ------------------------------------------------------------------------

    def _mac(self, user_id: str, device_id: str) -> str:
        return self.env.keeper.keyed_hash(f"device cookie v1|{user_id}|{device_id}")

    def device_cookie(self, user_id: str) -> str:
        device_id = secrets.token_urlsafe(18)
        return f"{user_id}.{device_id}.{self._mac(user_id, device_id)}"

    def trusted_device(self, cookie: str | None, user_id: str | None) -> str | None:
        """The device id of `cookie` when it is ours and names `user_id`; None otherwise (untrusted)."""
        if not cookie or user_id is None or len(cookie) > 256:
            return None
        named, _, rest = cookie.partition(".")
        device_id, _, mac = rest.partition(".")
        if named != user_id or not device_id or not mac:
            return None
        expected = self._mac(user_id, device_id)
        return device_id if hmac.compare_digest(mac.encode(), expected.encode()) else None


def clear_ceiling(tx: Tx, username_key: str) -> None:
    """An administrator issued a new pass (passes/service.py): the account's consecutive count starts
    afresh, in the issuing transaction."""
    store.clear_ceiling(tx, username_key)
