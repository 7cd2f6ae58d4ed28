"""Authentication strengths, as Entra's built-in ones, and what each sign-in method is worth.

A strength is a set of allowed method combinations; a sign-in satisfies it when the methods it proved
include one of them. Passbridge has no passwords, so every combination is a single method:

| strength                 | allowed                                       | `acr`                    |
|--------------------------|-----------------------------------------------|--------------------------|
| MFA                      | Temporary Access Pass; passkey                | `mfa`                    |
| Passwordless MFA         | passkey                                       | `passwordless-mfa`       |
| Phishing-resistant MFA   | passkey                                       | `phishing-resistant-mfa` |
| (none)                   | authenticator-app code alone: single factor   | `single-factor`          |

`amr` values follow RFC 8176: a passkey bound to one device proves a hardware-held key (`hwk`), a synced
(backup-eligible) passkey a software-held one (`swk`); with user verification required both are
multi-factor (`mfa`). An authenticator-app code is `otp`. RFC 8176 has no value for a pass: `tap` is
ours, with `mfa` because Entra counts a pass as multi-factor, and `tap-one-time` or `tap-multi-use` says
which kind of pass it was (Entra's authentication method modes `temporaryAccessPassOneTime` and
`temporaryAccessPassMultiUse`), so a strength can accept one and refuse the other.

Graph's authentication strength policies (strength_policies.py stores the custom ones) are written over
those modes: `StrengthPolicy` is one, `BUILT_IN` Entra's three, restricted to the modes Passbridge has.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from passbridge.signin.rules import Method, Strength

# A method as the policy and Graph name it: sign-in's one enum of method kinds.
Factor = Method


SINGLE_FACTOR_ACR = "single-factor"

ALLOWED: dict[Strength, frozenset[frozenset[Factor]]] = {
    Strength.MFA: frozenset({frozenset({Factor.TEMPORARY_ACCESS_PASS}), frozenset({Factor.PASSKEY})}),
    Strength.PASSWORDLESS_MFA: frozenset({frozenset({Factor.PASSKEY})}),
    Strength.PHISHING_RESISTANT_MFA: frozenset({frozenset({Factor.PASSKEY})}),
}
# Weakest first: a sign-in's `acr` names the strongest one it satisfies.
ORDER = (Strength.MFA, Strength.PASSWORDLESS_MFA, Strength.PHISHING_RESISTANT_MFA)

TAP_ONE_TIME_AMR = "tap-one-time"
TAP_MULTI_USE_AMR = "tap-multi-use"

AMR: dict[str, Factor] = {
    "tap": Factor.TEMPORARY_ACCESS_PASS,
    TAP_ONE_TIME_AMR: Factor.TEMPORARY_ACCESS_PASS,
    TAP_MULTI_USE_AMR: Factor.TEMPORARY_ACCESS_PASS,
    "hwk": Factor.PASSKEY,
    "swk": Factor.PASSKEY,
    "otp": Factor.AUTHENTICATOR_APP,
}


def satisfies(factors: frozenset[Factor], required: Strength) -> bool:
    return any(combination <= factors for combination in ALLOWED[required])


def strongest(factors: frozenset[Factor]) -> Strength | None:
    met = [strength for strength in ORDER if satisfies(factors, strength)]
    return met[-1] if met else None


def acr_for(factors: frozenset[Factor]) -> str:
    best = strongest(factors)
    return best.value if best is not None else SINGLE_FACTOR_ACR


def factors_of(amr: tuple[str, ...] | list[str]) -> frozenset[Factor]:
    """The methods a session's or token's `amr` says were proved."""
    return frozenset(AMR[value] for value in amr if value in AMR)


def strength_of_acr(acr: str) -> Strength | None:
    try:
        return Strength(acr)
    except ValueError:
        return None


def meets(acr: str, required: Strength) -> bool:
    """Whether a sign-in recorded with `acr` is at least `required` (ORDER ranks the built-in ones)."""
    reached = strength_of_acr(acr)
    return reached is not None and ORDER.index(reached) >= ORDER.index(required)


def passkey_amr(*, backup_eligible: bool) -> tuple[str, ...]:
    return ("swk" if backup_eligible else "hwk", "mfa")


AUTHENTICATOR_APP_AMR: tuple[str, ...] = ("otp",)


def pass_amr(*, one_time: bool) -> tuple[str, ...]:
    """A pass sign-in: `tap` (which relying parties already read), its kind, and `mfa`."""
    return ("tap", TAP_ONE_TIME_AMR if one_time else TAP_MULTI_USE_AMR, "mfa")


# --- authentication method modes and strength policies (Graph's names) ------------------------


class Mode(StrEnum):
    """Graph's authenticationMethodModes that Passbridge's methods prove."""

    FIDO2 = "fido2"
    SOFTWARE_OATH = "softwareOath"
    TAP_ONE_TIME = "temporaryAccessPassOneTime"
    TAP_MULTI_USE = "temporaryAccessPassMultiUse"


@dataclass(frozen=True)
class ModeDetail:
    """Graph's authenticationMethodModeDetail."""

    mode: Mode
    display_name: str
    authentication_method: str


# As Graph lists them (List authenticationMethodModes), in its order.
MODE_DETAILS: tuple[ModeDetail, ...] = (
    ModeDetail(Mode.SOFTWARE_OATH, "Software OATH tokens", "softwareOath"),
    ModeDetail(Mode.FIDO2, "FIDO2 Security Key", "fido2"),
    ModeDetail(Mode.TAP_ONE_TIME, "Temporary Access Pass (one-time use)", "temporaryAccessPass"),
    ModeDetail(Mode.TAP_MULTI_USE, "Temporary Access Pass (multi-use)", "temporaryAccessPass"),
)
# An authenticator-app code is a single factor here (Passbridge has no password to pair it with).
MULTI_FACTOR_MODES = frozenset({Mode.FIDO2, Mode.TAP_ONE_TIME, Mode.TAP_MULTI_USE})

_MODE_OF_AMR = {
    "hwk": Mode.FIDO2,
    "swk": Mode.FIDO2,
    "otp": Mode.SOFTWARE_OATH,
    TAP_ONE_TIME_AMR: Mode.TAP_ONE_TIME,
    TAP_MULTI_USE_AMR: Mode.TAP_MULTI_USE,
}


def modes_of(amr: tuple[str, ...] | list[str]) -> frozenset[Mode]:
    """The modes a session's or token's `amr` proves. A `tap` without its kind (a session from before
    the kinds were recorded) counts as multi-use: the weaker claim, so it never passes for one-time."""
    modes = {_MODE_OF_AMR[value] for value in amr if value in _MODE_OF_AMR}
    if "tap" in amr and not modes & {Mode.TAP_ONE_TIME, Mode.TAP_MULTI_USE}:
        modes.add(Mode.TAP_MULTI_USE)
    return frozenset(modes)


Combination = frozenset[Mode]


class BadCombination(ValueError):
    """An allowedCombinations entry that names no mode Passbridge has, or none at all."""


def parse_combination(text: str) -> Combination:
    """One allowedCombinations entry: modes joined by commas (Graph accepts `a, b` and `a,b`)."""
    names = [part.strip() for part in text.split(",")]
    if not text.strip() or any(not name for name in names):
        raise BadCombination(f"'{text}' is not a valid authentication method combination.")
    modes: set[Mode] = set()
    for name in names:
        try:
            modes.add(Mode(name))
        except ValueError:
            raise BadCombination(
                f"'{name}' is not a supported authentication method mode. Supported modes: "
                + ", ".join(d.mode.value for d in MODE_DETAILS)
                + "."
            ) from None
    if len(modes) > 1:
        # Graph's combinations of two pair a password or federation with a second factor; Passbridge
        # has neither, so every allowed combination is one method.
        raise BadCombination(f"'{text}' is not an allowed combination: each combination here is one mode.")
    return frozenset(modes)


def combination_text(combination: Combination) -> str:
    return ",".join(sorted(mode.value for mode in combination))


BUILT_IN_TYPE = "builtIn"
CUSTOM_TYPE = "custom"
BUILT_IN_CREATED = datetime(2021, 12, 1, tzinfo=UTC)


@dataclass(frozen=True)
class StrengthPolicy:
    """Graph's authenticationStrengthPolicy: a sign-in satisfies it when the modes it proved include one
    of the allowed combinations."""

    id: str
    display_name: str
    description: str
    policy_type: str  # builtIn | custom
    combinations: tuple[Combination, ...]
    created: datetime
    modified: datetime

    @property
    def built_in(self) -> bool:
        return self.policy_type == BUILT_IN_TYPE

    @property
    def requirements_satisfied(self) -> str:
        """`mfa` when every allowed combination is multi-factor, else `none` (Graph's values)."""
        multi = all(combination & MULTI_FACTOR_MODES for combination in self.combinations)
        return "mfa" if self.combinations and multi else "none"

    @property
    def allowed_combinations(self) -> list[str]:
        return [combination_text(c) for c in self.combinations]

    def satisfied_by(self, modes: frozenset[Mode]) -> bool:
        return any(combination <= modes for combination in self.combinations)


def _built_in(number: int, name: str, description: str, modes: tuple[Mode, ...]) -> StrengthPolicy:
    return StrengthPolicy(
        f"00000000-0000-0000-0000-00000000000{number}",
        name,
        description,
        BUILT_IN_TYPE,
        tuple(frozenset({mode}) for mode in modes),
        BUILT_IN_CREATED,
        BUILT_IN_CREATED,
    )


# Entra's built-in policies as Graph returns them (ids, names, descriptions), their allowedCombinations
# restricted to Passbridge's modes, in Graph's order.
BUILT_IN_BY_STRENGTH: dict[Strength, StrengthPolicy] = {
    Strength.MFA: _built_in(
        2,
        "Multifactor authentication",
        "Combinations of methods that satisfy strong authentication, such as a password + SMS",
        (Mode.FIDO2, Mode.TAP_ONE_TIME, Mode.TAP_MULTI_USE),
    ),
    Strength.PASSWORDLESS_MFA: _built_in(
        3,
        "Passwordless MFA",
        "Passwordless methods that satisfy strong authentication, such as Passwordless sign-in with the "
        "Microsoft Authenticator",
        (Mode.FIDO2,),
    ),
    Strength.PHISHING_RESISTANT_MFA: _built_in(
        4,
        "Phishing resistant MFA",
        "Phishing resistant, Passwordless methods for the strongest authentication, such as a FIDO2 "
        "security key",
        (Mode.FIDO2,),
    ),
}
BUILT_IN: dict[str, StrengthPolicy] = {p.id: p for p in BUILT_IN_BY_STRENGTH.values()}


def built_in(reference: str) -> StrengthPolicy | None:
    """A built-in policy by id or by its older Passbridge name (`mfa`, `passwordless-mfa`, ...)."""
    found = BUILT_IN.get(reference.lower())
    if found is not None:
        return found
    named = strength_of_acr(reference)
    return BUILT_IN_BY_STRENGTH[named] if named is not None else None
