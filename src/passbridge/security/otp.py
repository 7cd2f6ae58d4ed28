"""Our one module over pyotp and segno: authenticator-app (TOTP, RFC 6238) seeds, codes and QR codes.

Codes are 6 digits over 30-second steps with SHA-1, which is what every authenticator app reads from an
`otpauth://` URI. A code is accepted for the current step and one step either side (clock drift, as RFC
6238 section 5.2 recommends); the caller stores the step that matched and refuses any step at or before
it, so a code is never accepted twice.
"""

from __future__ import annotations

import hmac
from datetime import datetime

import pyotp
import segno

DIGITS = 6
PERIOD = 30
DRIFT_STEPS = 1


def new_secret() -> str:
    """160 random bits in base32, the length RFC 4226 recommends for HMAC-SHA-1."""
    return pyotp.random_base32(32)


def provisioning_uri(secret: str, *, account: str, issuer: str) -> str:
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).provisioning_uri(
        name=account, issuer_name=issuer
    )


def qr_svg(uri: str) -> str:
    """An inline SVG QR code (no XML declaration, scalable, titled for screen readers). A viewBox and no
    fixed size: with segno's width and height the page's CSS size cut the code off instead of scaling
    it, losing two of its three corner squares, and no app could scan it."""
    svg: str = segno.make(uri, error="m").svg_inline(
        scale=5, omitsize=True, title="QR code for your authenticator app"
    )
    return svg


def matching_step(secret: str, code: str, *, at: datetime) -> int | None:
    """The time step whose code equals `code`, within the allowed drift, or None. Compared in constant
    time; anything that is not exactly six digits matches nothing."""
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD)
    now_step = totp.timecode(at)
    found = None
    for step in range(now_step - DRIFT_STEPS, now_step + DRIFT_STEPS + 1):
        if hmac.compare_digest(totp.generate_otp(step), code):
            found = step
    return found


def code_at(secret: str, at: datetime) -> str:
    """The code an authenticator app shows at `at` (for tests and the demo)."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=PERIOD).at(at)
