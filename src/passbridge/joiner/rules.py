"""The joiner workflow's rules, pure: its settings, when a new hire's pass is due, and who is a candidate.

A pass is due N days before the hire date (Entra's Lifecycle Workflows trigger: employeeHireDate offset);
it starts then, or now if that has passed. Who is considered: everyone whose due time has come, with a hire
date no older than GRACE (provisioning often lands a few days late), and anyone added since the workflow
was switched on, whatever their hire date ("a user added with a hire date in the past gets theirs now").
Switching the workflow on for an existing directory does not mail a pass for each of its long-standing staff.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from passbridge.domain.errors import InvalidInput
from passbridge.passes.policy_rules import TapPolicy

GRACE = timedelta(days=7)
MAX_DAYS_BEFORE = 30


@dataclass(frozen=True)
class JoinerSettings:
    enabled: bool = False
    days_before: int = 1
    lifetime_minutes: int | None = None  # None: the TAP policy's default lifetime
    is_usable_once: bool = True
    mail_private: bool = False  # also mail the pass to the private address HR gave (otherMails)
    enabled_at: datetime | None = None

    def with_changes(self, *, now: datetime, policy: TapPolicy, **changes: object) -> JoinerSettings:
        """A copy with `changes` applied and checked as a whole; switching on records when."""
        updated = replace(self, **changes)  # type: ignore[arg-type]
        if not isinstance(updated.enabled, bool) or not isinstance(updated.is_usable_once, bool):
            raise InvalidInput("enabled and isUsableOnce must be true or false.")
        if not isinstance(updated.mail_private, bool):
            raise InvalidInput("mailPrivateAddress must be true or false.")
        if (
            not isinstance(updated.days_before, int)
            or isinstance(updated.days_before, bool)
            or not 0 <= updated.days_before <= MAX_DAYS_BEFORE
        ):
            raise InvalidInput(f"daysBeforeHireDate must be a whole number from 0 to {MAX_DAYS_BEFORE}.")
        lifetime = updated.lifetime_minutes
        if lifetime is not None:
            if not isinstance(lifetime, int) or isinstance(lifetime, bool):
                raise InvalidInput("lifetimeInMinutes must be a whole number of minutes.")
            if not policy.minimum_lifetime <= lifetime <= policy.maximum_lifetime:
                raise InvalidInput(
                    f"lifetimeInMinutes must be between {policy.minimum_lifetime} and "
                    f"{policy.maximum_lifetime}, the Temporary Access Pass policy's bounds."
                )
        if updated.is_usable_once is False and policy.is_usable_once:
            raise InvalidInput("The Temporary Access Pass policy requires one-time passes.")
        if updated.enabled and not self.enabled:
            updated = replace(updated, enabled_at=now)
        return updated


def due_at(hire_date: datetime, settings: JoinerSettings) -> datetime:
    return hire_date - timedelta(days=settings.days_before)


def window(now: datetime, settings: JoinerSettings) -> tuple[datetime, datetime]:
    """Hire dates whose pass is due now and not too old: (oldest, latest)."""
    return now - GRACE, now + timedelta(days=settings.days_before)


def pass_start(hire_date: datetime, settings: JoinerSettings, now: datetime) -> datetime:
    return max(due_at(hire_date, settings), now)
