"""The joiner workflow's tests send through a real SMTP server (tests/smtp.py)."""

from __future__ import annotations

from tests.api.conftest import api, app_auth  # noqa: F401 - the in-process API client, shared
from tests.mail.conftest import smtp  # noqa: F401 - the fixture, shared
from tests.web.conftest import web  # noqa: F401 - the fixture, shared
