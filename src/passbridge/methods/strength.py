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
ours, with `mfa` because Entra counts a pass as multi-factor.
"""

from __future__ import annotations

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

AMR: dict[str, Factor] = {
    "tap": Factor.TEMPORARY_ACCESS_PASS,
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
